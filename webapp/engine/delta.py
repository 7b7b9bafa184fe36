"""Reading one round of Graph delta changes for a team's Sync Group (no I/O).

groups/delta reports only direct membership, so the sync tracks the Sync Group and every group nested
in it. It keeps who is in the group and which nested groups hold each user directly; a user who leaves
their last nested group and may still be a direct member is checked with Graph.
"""

from dataclasses import dataclass, field

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
IGNORED_TYPES = frozenset({"#microsoft.graph.orgContact", "#microsoft.graph.device",
                           "#microsoft.graph.servicePrincipal"})


@dataclass
class GroupChanges:
    """Direct user memberships of the tracked groups as the round ended: (group id, user id) -> member now."""

    memberships: dict = field(default_factory=dict)
    nesting_changed: bool = False  # a tracked group was deleted or a group joined or left one: re-read everything


def read_groups_round(items, tracked):
    """The membership changes of the tracked groups; later entries of a round win (replays are harmless)."""
    changes = GroupChanges()
    for item in items:
        group_id = item.get("id")
        if group_id not in tracked:
            continue
        if "@removed" in item:
            return GroupChanges(nesting_changed=True)
        for member in item.get("members@delta") or ():
            kind = member.get("@odata.type")
            if kind in IGNORED_TYPES:
                continue
            if kind != USER_TYPE or not isinstance(member.get("id"), str):
                return GroupChanges(nesting_changed=True)
            changes.memberships[(group_id, member["id"])] = "@removed" not in member
    return changes


@dataclass
class UserChanges:
    """What a users/delta round said: complete new values, entries to read again, deleted users."""

    changed: dict = field(default_factory=dict)  # object id -> Graph user dict with every selected field
    incomplete: set = field(default_factory=set)  # ids whose entry lacks a selected field
    removed: set = field(default_factory=set)


def read_users_round(items, fields):
    """Sort a users/delta round's entries; a later entry for the same user replaces an earlier one."""
    changes = UserChanges()
    for item in items:
        user_id = item.get("id")
        if not isinstance(user_id, str):
            continue
        changes.changed.pop(user_id, None)
        changes.incomplete.discard(user_id)
        changes.removed.discard(user_id)
        if "@removed" in item:
            changes.removed.add(user_id)
        elif all(name in item for name in fields):
            changes.changed[user_id] = item
        else:
            changes.incomplete.add(user_id)
    return changes


@dataclass
class Movement:
    """Where each touched user stands after the round."""

    in_group: dict  # user id -> in the Sync Group now (users in `unsure` are missing)
    nested: dict  # user id -> the nested groups holding it directly now
    unsure: set  # left their last nested group and may still be direct members: ask Graph

    def joined(self, before):
        return {user_id for user_id, now in self.in_group.items() if now and not before[user_id][0]}

    def left(self, before):
        return {user_id for user_id, now in self.in_group.items() if not now and before[user_id][0]}


def movement(group_id, before, changes, removed_users):
    """Each touched user's standing after the round; `before` maps every touched user to
    (in the group, nested groups holding it directly) as saved."""
    nested = {user_id: set(groups) for user_id, (_, groups) in before.items()}
    direct = {}
    for (holder, user_id), member in changes.memberships.items():
        if holder == group_id:
            direct[user_id] = member
        elif member:
            nested[user_id].add(holder)
        else:
            nested[user_id].discard(holder)
    in_group, unsure = {}, set()
    for user_id, (was_in, nested_before) in before.items():
        if user_id in removed_users:
            nested[user_id] = set()
            in_group[user_id] = False
        elif direct.get(user_id) or nested[user_id]:
            in_group[user_id] = True
        elif user_id in direct:  # removed from the Sync Group itself and in no nested group
            in_group[user_id] = False
        elif not nested_before:  # only its properties changed
            in_group[user_id] = was_in
        elif was_in:  # left its last nested group: it may still be a direct member
            unsure.add(user_id)
        else:
            in_group[user_id] = False
    return Movement(in_group, nested, unsure)
