"""Reading Graph delta rounds for a team's Sync Group (no I/O).

groups/delta reports only direct membership, so the sync tracks the Sync Group and every group nested
in it. It keeps who is in the group and which tracked groups (the Sync Group itself included) hold each user
directly: a user is in the group while any of them holds it, so no lagging advanced query is asked.

A first groups/delta round (no delta token) lists each tracked group's direct members as the directory has
them now, while the advanced queries that list the group read an index that may lag by seconds: the full pass
takes the membership from that round.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webapp.engine.reconcile import REASON_DELETED, REASON_NOT_IN_GROUP

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
# A user's saved standing: (in the Sync Group, the tracked groups holding it directly).
Standing = tuple[bool, set[str]]
IGNORED_TYPES = frozenset({"#microsoft.graph.orgContact", "#microsoft.graph.device",
                           "#microsoft.graph.servicePrincipal"})


@dataclass
class GroupChanges:
    """Direct user memberships of the tracked groups as the round ended: (group id, user id) -> member now."""

    memberships: dict[tuple[str, str], bool] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict, compare=False)  # tracked group id -> displayName, when given
    nesting_changed: bool = False  # a tracked group was deleted or a group joined or left one: re-read everything


def read_groups_round(items: Iterable[dict[str, Any]], tracked: Collection[str]) -> GroupChanges:
    """The membership changes of the tracked groups; later entries of a round win (replays are harmless)."""
    changes = GroupChanges()
    for item in items:
        group_id = item.get("id")
        if not isinstance(group_id, str) or group_id not in tracked:
            continue
        if "@removed" in item:
            return GroupChanges(nesting_changed=True)
        if isinstance(item.get("displayName"), str):
            changes.names[group_id] = item["displayName"]
        for member in item.get("members@delta") or ():
            kind = member.get("@odata.type")
            if kind in IGNORED_TYPES:
                continue
            if kind != USER_TYPE or not isinstance(member.get("id"), str):
                return GroupChanges(nesting_changed=True)
            changes.memberships[(group_id, member["id"])] = "@removed" not in member
    return changes


@dataclass
class Membership:
    """Direct members of groups as a first groups/delta round listed them."""

    users: dict[str, set[str]] = field(default_factory=dict)  # group id -> ids of its direct user members
    groups: dict[str, set[str]] = field(default_factory=dict)  # group id -> ids of the groups nested in it directly

    def nested_in(self, group_id: str) -> set[str]:
        """Every group below `group_id` that the round reached, at any depth (the round may not have listed the
        deepest ones yet: their members are unknown)."""
        found: set[str] = set()
        pending = [group_id]
        while pending:
            for child in self.groups.get(pending.pop(), ()):
                if child not in found and child != group_id:
                    found.add(child)
                    pending.append(child)
        return found

    def users_in(self, group_ids: Iterable[str]) -> set[str]:
        """The users held directly by any of the groups."""
        return set[str]().union(*(self.users.get(group_id, set()) for group_id in group_ids))


def read_membership(items: Iterable[dict[str, Any]]) -> Membership:
    """Direct user and group members of each group of a first round; contacts, devices and service principals
    (and anything untyped) are not members the sync follows."""
    membership = Membership()
    for item in items:
        group_id = item.get("id")
        if not isinstance(group_id, str) or "@removed" in item:
            continue
        users = membership.users.setdefault(group_id, set())
        groups = membership.groups.setdefault(group_id, set())
        for member in item.get("members@delta") or ():
            member_id, kind = member.get("id"), member.get("@odata.type")
            if not isinstance(member_id, str) or "@removed" in member:
                continue
            if kind == USER_TYPE:
                users.add(member_id)
            elif kind == GROUP_TYPE:
                groups.add(member_id)
    return membership


@dataclass
class UserChanges:
    """What a users/delta round said: complete new values, entries to read again, deleted users."""

    # object id -> Graph user dict (a property left out was never set)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)  # ids whose entry lacks a property every user has
    removed: set[str] = field(default_factory=set)
    # removed id -> Graph's reason: "changed" (soft) or "deleted"
    deleted_how: dict[str, str] = field(default_factory=dict)


def read_users_round(items: Iterable[dict[str, Any]], required: Iterable[str]) -> UserChanges:
    """Sort a users/delta round's entries; a later entry for the same user replaces an earlier one. After the first
    round Graph leaves out the properties a user never had, so only an entry without a `required` one (which every
    user has) must be read again."""
    changes = UserChanges()
    for item in items:
        user_id = item.get("id")
        if not isinstance(user_id, str):
            continue
        changes.changed.pop(user_id, None)
        changes.incomplete.discard(user_id)
        changes.removed.discard(user_id)
        changes.deleted_how.pop(user_id, None)
        if "@removed" in item:
            changes.removed.add(user_id)
            reason = item["@removed"].get("reason") if isinstance(item["@removed"], dict) else None
            changes.deleted_how[user_id] = reason if reason in ("changed", "deleted") else "changed"
        elif all(name in item for name in required):
            changes.changed[user_id] = item
        else:
            changes.incomplete.add(user_id)
    return changes


@dataclass
class Movement:
    """Where each touched user stands after the round."""

    in_group: dict[str, bool]  # user id -> in the Sync Group now
    holders: dict[str, set[str]]  # user id -> the tracked groups (the Sync Group included) holding it directly now

    def joined(self, before: Mapping[str, Standing]) -> set[str]:
        return {user_id for user_id, now in self.in_group.items() if now and not before[user_id][0]}

    def left(self, before: Mapping[str, Standing]) -> set[str]:
        return {user_id for user_id, now in self.in_group.items() if not now and before[user_id][0]}


def movement(before: Mapping[str, Standing], changes: GroupChanges, removed_users: set[str]) -> Movement:
    """Each touched user's standing after the round; `before` maps every touched user to
    (in the group, tracked groups holding it directly) as saved."""
    holders = {user_id: set(groups) for user_id, (_, groups) in before.items()}
    for (holder, user_id), member in changes.memberships.items():
        if member:
            holders[user_id].add(holder)
        else:
            holders[user_id].discard(holder)
    for user_id in removed_users & holders.keys():
        holders[user_id] = set()
    return Movement({user_id: bool(groups) for user_id, groups in holders.items()}, holders)


def leaving_reasons(left: Iterable[str], before: Mapping[str, Standing], moved: Movement,
                    deleted_how: Mapping[str, str], names: Mapping[str, str], group_id: str,
                    group_name: str) -> dict[str, str]:
    """Why each user who left the Sync Group left it, in the leader's words: deleted in Entra (softly, into the
    deleted items, or for good), or out of the Sync Group or of the nested groups that held them."""
    reasons: dict[str, str] = {}
    for user_id in left:
        if user_id in deleted_how:
            reasons[user_id] = REASON_DELETED[deleted_how[user_id]]
            continue
        gone = sorted(before[user_id][1] - moved.holders.get(user_id, set()))
        places = [f"the Sync Group {group_name}" if holder == group_id
                  else f"{names.get(holder) or 'a group'}, nested in the Sync Group {group_name}" for holder in gone]
        reasons[user_id] = "left " + " and ".join(places) if places else REASON_NOT_IN_GROUP
    return reasons
