"""Sync Users statuses for one page of the list: one query for the page's users, the engine's rule for each."""
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from webapp.engine.reconcile import (DISABLED, IN_OTHER_TEAM, IN_THIS_TEAM, SELECTABLE, STATUS_LABELS, PlatformUser,
                                     TeamSide, status)
from webapp import membership
from webapp.db import database
from webapp.engine.team_side import FIELDS
from webapp.microsoft import EntraUser
from webapp.sync.group_users import GroupUsers
from webapp.models import User

WILL_BE_REMOVED = "will_be_removed"
LABELS = {**STATUS_LABELS, WILL_BE_REMOVED: "not in the group: will be removed"}
RED_X = frozenset({IN_THIS_TEAM, IN_OTHER_TEAM})


@dataclass(frozen=True)
class Row:
    """One line of the Sync Users list."""

    entra_id: str | None
    name: str
    email: str
    status: str
    removal: bool = False
    guest: bool = False  # a guest (#EXT#) account

    @property
    def label(self) -> str:
        if self.removal and self.status != WILL_BE_REMOVED:
            return LABELS[self.status] + ": will be removed"
        return LABELS[self.status]

    @property
    def selectable(self) -> bool:
        return self.status in SELECTABLE

    @property
    def red_x(self) -> bool:
        return self.status in RED_X


def _platform_users(tenant_id: str, entra_users: Sequence[EntraUser]) -> list[PlatformUser]:
    """The platform users a page of group users can match, in ONE query (by object id or by email)."""
    ids = [user.object_id for user in entra_users]
    emails = sorted({user.email.lower() for user in entra_users if user.email})
    where = (User.entra_tenant_id == tenant_id) & User.entra_object_id.in_(ids)
    if emails:
        where = where | User.email.in_(emails)
    return [PlatformUser(*row) for row in User.select(*FIELDS).where(where).tuples()]


def page_rows(team_id: int, tenant_id: str, entra_users: Sequence[EntraUser], allow_deletion: bool,
              leader_ids: Collection[int], include_guests: bool = True) -> list[Row]:
    """Rows for one page of group users; a disabled member of this team is removed when deletion is allowed."""
    if not entra_users:
        return []
    side = TeamSide(_platform_users(tenant_id, entra_users), tenant_id)
    rows: list[Row] = []
    for entra_user in entra_users:
        user, conflict = side.match(entra_user)
        state = status(entra_user, user, conflict, team_id, include_guests)
        removal = (state == DISABLED and allow_deletion and user is not None and user.team_id == team_id
                   and user.id not in leader_ids)
        rows.append(Row(entra_user.object_id, entra_user.display_name, entra_user.email or "", state, removal,
                        entra_user.is_guest))
    return rows


def _members_outside(team_id: int, tenant_id: str, group_users: GroupUsers) -> list[list[Any]]:
    """[id, name, email] of the team's members the group does not hold, by name (reads every member)."""
    query = User.select(User.id, User.name, User.email, User.entra_tenant_id, User.entra_object_id).where(
        (User.team == team_id) & (User.active == True)).order_by(User.name, User.id)  # noqa: E712
    members = database.execute(query).fetchall()
    object_ids = [oid if tid == tenant_id and oid else "" for _, _, _, tid, oid in members]
    held = group_users.contains(object_ids, [email for _, _, email, _, _ in members])
    return [[user_id, name, email] for (user_id, name, email, _, _), in_group in zip(members, held) if not in_group]


def members_not_in_group(team_id: int, tenant_id: str, group_users: GroupUsers, search: str,
                         exclude: Collection[int]) -> list[Row]:
    """Team members the group does not hold (leaders excepted), by name: the rows Allow Deletion removes.

    Worked out once per copy of the group and state of the team, then kept beside the group's copy.
    """
    stamp = membership.version(group_users.redis, team_id)
    outside = group_users.removals(stamp)
    if outside is None:
        outside = _members_outside(team_id, tenant_id, group_users)
        group_users.keep_removals(stamp, outside)
    needle = search.lower()
    return [Row(None, name, email, WILL_BE_REMOVED, True) for user_id, name, email in outside
            if user_id not in exclude and (not needle or needle in f"{name}\t{email}".lower())]
