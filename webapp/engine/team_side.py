"""Loading the team side of a sync in bulk: members, leaders and the other users the group can match."""

from collections.abc import Collection, Iterable, Iterator, Sequence
from enum import Enum
from typing import Any, TypeVar

from peewee import SQL, Expression, Field, Select, fn

from webapp.db import database
from webapp.engine.reconcile import PlatformUser, TeamSide
from webapp.microsoft import EntraUser
from webapp.models import TeamLeader, User

CHUNK = 900
Item = TypeVar("Item")

FIELDS = (User.id, User.email, User.name, User.job_title, User.department, User.team, User.active,
          User.entra_tenant_id, User.entra_object_id, User.synced_by_team,
          fn.EXISTS(TeamLeader.select(SQL("1")).where(TeamLeader.user == User.id)).alias("leads_team"))


def chunks(items: Sequence[Item], size: int = CHUNK) -> Iterator[Sequence[Item]]:
    """Consecutive slices of a list."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _users(query: Select) -> list[PlatformUser]:
    """Rows straight from the cursor: peewee's per-value conversion costs seconds at 100,000 rows."""
    return [PlatformUser(*row) for row in database.execute(query).fetchall()]


def _in(field: Field, values: Collection[Any]) -> Expression:
    """`field IN (…)` with one placeholder per value, rendered without building a node per value."""
    placeholders = ",".join([database.obj.param] * len(values))
    return field.in_(SQL(f"({placeholders})", list(values)))


def load_members(team_id: int) -> list[PlatformUser]:
    """Every user of the team, in one query."""
    return _users(User.select(*FIELDS).where(User.team == team_id))


def load_leader_ids(team_id: int) -> set[int]:
    return {row[0] for row in TeamLeader.select(TeamLeader.user).where(TeamLeader.team == team_id).tuples()}


def _outside(team_id: int) -> Expression:
    return User.team.is_null() | (User.team != team_id)


OUTSIDE_AT_ONCE = 5000  # users outside the team a paged full pass reads once and picks from, when no more


class _Unread(Enum):
    """`outside` not given: load_others reads it."""

    QUERY = 0


_QUERY = _Unread.QUERY


def load_outside(team_id: int, limit: int = OUTSIDE_AT_ONCE) -> list[PlatformUser] | None:
    """Every user outside the team when there are at most `limit` (a first import), else None: a paged full
    pass reads them once rather than on every page, where each read scans the team's own rows."""
    outside = _users(User.select(*FIELDS).where(_outside(team_id)).limit(limit + 1))
    return outside if len(outside) <= limit else None


def load_others(team_id: int, tenant_id: str, entra_users: Sequence[EntraUser], members: Iterable[PlatformUser] = (),
                side: TeamSide | None = None,
                outside: list[PlatformUser] | None | _Unread = _QUERY) -> list[PlatformUser]:
    """Users outside the team matching the group by object id or email, besides those `side` (a TeamSide of the
    members and users already found, else built from `members`) holds. When fewer users are outside the team
    than in the group (a first import) they are read at once and picked from; otherwise looked up. `outside`,
    when given, is what load_outside found (None: look them up)."""
    side = side if side is not None else TeamSide(members, tenant_id)
    if outside is _QUERY:
        outside = _users(User.select(*FIELDS).where(_outside(team_id)).limit(len(entra_users) + 1))
        outside = outside if len(outside) <= len(entra_users) else None

    def lookup(object_ids: Collection[str] = (), emails: Collection[str] = ()) -> list[PlatformUser]:
        if outside is None:
            return [user for user in load_matching(tenant_id, object_ids, emails) if user.team_id != team_id]
        return [user for user in outside if user.email in emails
                or (user.entra_tenant_id == tenant_id and user.entra_object_id in object_ids)]

    found = {user.id: user for user in lookup(
        object_ids={user.object_id for user in entra_users if user.object_id not in side.by_object_id})}
    by_object_id = {user.entra_object_id: user for user in found.values()}
    emails: set[str] = set()
    for entra_user in entra_users:
        if not entra_user.email:
            continue
        email = entra_user.email.lower()
        matched = side.by_object_id.get(entra_user.object_id) or by_object_id.get(entra_user.object_id)
        if (matched is None or matched.email != email) and email not in side.by_email:
            emails.add(email)
    found.update((user.id, user) for user in lookup(emails=emails))
    return list(found.values())


def load_matching(tenant_id: str, object_ids: Iterable[str], emails: Iterable[str]) -> list[PlatformUser]:
    """Every user, in any team or none, linked to one of these Entra ids or holding one of these emails."""
    found: dict[int, PlatformUser] = {}
    for ids in chunks(sorted(object_ids)):
        for user in _users(User.select(*FIELDS).where((User.entra_tenant_id == tenant_id)
                                                      & _in(User.entra_object_id, ids))):
            found[user.id] = user
    for batch in chunks(sorted(emails)):
        for user in _users(User.select(*FIELDS).where(_in(User.email, batch))):
            found[user.id] = user
    return list(found.values())

