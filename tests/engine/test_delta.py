"""Reading delta rounds: membership of the Sync Group through direct and nested groups."""
from webapp.engine.delta import GroupChanges, movement, read_groups_round, read_membership, read_users_round

SYNC, NESTED = "sync-group", "nested-group"
USER = "#microsoft.graph.user"


def member(user_id, removed=False, kind=USER):
    entry = {"@odata.type": kind, "id": user_id}
    if removed:
        entry["@removed"] = {"reason": "deleted"}
    return entry


def test_a_round_keeps_the_last_word_on_each_membership_and_ignores_contacts_and_devices():
    items = [
        {"id": SYNC, "members@delta": [member("ann"), member("bob", removed=True)]},
        {"id": "untracked", "members@delta": [member("zed")]},
        {"id": SYNC, "members@delta": [member("ann", removed=True), member("c1", kind="#microsoft.graph.orgContact")]},
        {"id": NESTED, "displayName": "Renamed"},
    ]
    changes = read_groups_round(items, {SYNC, NESTED})
    assert changes == GroupChanges({(SYNC, "ann"): False, (SYNC, "bob"): False}, nesting_changed=False)


def test_a_group_joining_or_leaving_or_a_tracked_group_deleted_changes_the_nesting():
    joined = [{"id": SYNC, "members@delta": [member("new-group", kind="#microsoft.graph.group")]}]
    deleted = [{"id": NESTED, "@removed": {"reason": "deleted"}}]
    untyped = [{"id": SYNC, "members@delta": [{"id": "something"}]}]
    for items in (joined, deleted, untyped):
        assert read_groups_round(items, {SYNC, NESTED}).nesting_changed


def test_users_round_sorts_complete_incomplete_and_removed_entries_last_word_wins():
    fields = ("id", "displayName", "mail")
    items = [
        {"id": "ann", "displayName": "Ann", "mail": "ann@x.example"},
        {"id": "bob", "displayName": "Bob"},
        {"id": "cid", "@removed": {"reason": "changed"}},
        {"id": "ann", "@removed": {"reason": "deleted"}},
        {"id": "cid", "displayName": "Cid", "mail": None},
    ]
    changes = read_users_round(items, fields)
    assert changes.changed == {"cid": {"id": "cid", "displayName": "Cid", "mail": None}}
    assert (changes.incomplete, changes.removed) == ({"bob"}, {"ann"})


def test_movement_through_direct_and_nested_membership():
    before = {
        "direct-leaver": (True, {SYNC}),
        "nested-leaver": (True, {NESTED}),
        "nested-leaver-still-direct": (True, {SYNC, NESTED}),
        "both-paths": (True, {SYNC, NESTED}),
        "joiner": (False, set()),
        "nested-joiner": (False, set()),
        "renamed": (True, {SYNC}),
        "outsider-renamed": (False, set()),
        "deleted": (True, {NESTED}),
    }
    changes = GroupChanges({
        (SYNC, "direct-leaver"): False, (NESTED, "nested-leaver"): False,
        (NESTED, "nested-leaver-still-direct"): False,
        (SYNC, "both-paths"): False,  # still held by the nested group
        (SYNC, "joiner"): True, (NESTED, "nested-joiner"): True,
    })
    moved = movement(before, changes, removed_users={"deleted"})
    assert moved.in_group == {"direct-leaver": False, "nested-leaver": False, "nested-leaver-still-direct": True,
                              "both-paths": True, "joiner": True, "nested-joiner": True, "renamed": True,
                              "outsider-renamed": False, "deleted": False}
    assert moved.holders["nested-joiner"] == {NESTED} and moved.holders["deleted"] == set()
    assert moved.holders["nested-leaver-still-direct"] == {SYNC}
    assert moved.joined(before) == {"joiner", "nested-joiner"}
    assert moved.left(before) == {"direct-leaver", "nested-leaver", "deleted"}


def test_a_replayed_round_moves_nobody():
    before = {"ann": (True, {SYNC}), "bob": (False, set())}
    moved = movement(before, GroupChanges({(SYNC, "ann"): True, (SYNC, "bob"): False}), set())
    assert moved.joined(before) == moved.left(before) == set()


def test_a_first_round_gives_direct_users_and_nesting_and_ignores_other_objects():
    items = [
        {"id": SYNC, "members@delta": [member("ann"), member(NESTED, kind="#microsoft.graph.group"),
                                       member("c1", kind="#microsoft.graph.orgContact"),
                                       member("sp1", kind="#microsoft.graph.servicePrincipal"), {"id": "untyped"}]},
        {"id": NESTED, "members@delta": [member("bob"), member("dev1", kind="#microsoft.graph.device"),
                                         member("deep", kind="#microsoft.graph.group")]},
        {"id": SYNC, "members@delta": [member("cid")]},
    ]
    membership = read_membership(items)
    assert membership.users == {SYNC: {"ann", "cid"}, NESTED: {"bob"}}
    assert membership.nested_in(SYNC) == {NESTED, "deep"}
    assert membership.users_in([SYNC, NESTED, "deep"]) == {"ann", "bob", "cid"}
