"""The reconcile plan, rule by rule (README "The safety rules")."""
from webapp.engine.reconcile import (DISABLED, EMAIL_OWNED, EMAIL_TAKEN, EMAIL_TOO_LONG, IN_OTHER_TEAM,
                                     IN_THIS_TEAM, NO_EMAIL, REASON_BAD_ID, REASON_DISABLED, REASON_EMAIL_OWNED,
                                     REASON_EMAIL_TOO_LONG, REASON_LEADER, REASON_NOT_IN_GROUP, REASON_OTHER_TEAM,
                                     WILL_BE_ADDED, PlatformUser, SyncRules, TeamSide, fingerprint,
                                     guard_threshold, reconcile, user_status)
from webapp.microsoft import to_entra_user

TENANT = "11111111-1111-1111-1111-111111111111"
TEAM = 7
OTHER_TEAM = 8


def entra(n, **fields):
    body = {"id": f"oid-{n}", "displayName": f"Person {n}", "mail": f"person{n}@contoso.com",
            "userPrincipalName": f"person{n}@contoso.com", "accountEnabled": True, "userType": "Member",
            "jobTitle": "Analyst", "department": "Finance"}
    body.update(fields)
    return to_entra_user(body)


def platform(n, team=TEAM, oid=None, synced=None, **fields):
    values = dict(id=n, email=f"person{n}@contoso.com", name=f"Person {n}", job_title="Analyst",
                  department="Finance", team_id=team, active=True, entra_tenant_id=TENANT if oid else None,
                  entra_object_id=oid, synced_by_team_id=synced)
    values.update(fields)
    return PlatformUser(**values)


def rules(**overrides):
    return SyncRules(team_id=TEAM, tenant_id=TENANT, **overrides)


def by_action(plan):
    result = {}
    for outcome in plan.outcomes:
        result.setdefault(outcome.action, []).append(outcome)
    return result


def test_new_users_are_created_with_their_entra_id_and_lower_case_email():
    plan = reconcile([entra(1, mail="Person1@Contoso.COM")], [], [], set(), rules())
    assert [(join.user_id, join.values["email"], join.values["entra_object_id"]) for join in plan.creates] == [
        (None, "person1@contoso.com", "oid-1")]
    assert plan.counts()["added"] == 1 and plan.counts()["created"] == 1


def test_unattached_user_is_added_and_linked():
    plan = reconcile([entra(1)], [], [platform(1, team=None)], set(), rules())
    assert [(join.user_id, join.values) for join in plan.adds] == [
        (1, {"entra_tenant_id": TENANT, "entra_object_id": "oid-1"})]
    assert plan.counts() == {"added": 1, "created": 0, "updated": 0, "removed": 0,
                             "skipped_other_team": 0, "skipped_disabled": 0}


def test_user_of_another_team_is_skipped_and_reported():
    plan = reconcile([entra(1)], [], [platform(1, team=OTHER_TEAM)], set(), rules())
    assert not plan.creates and not plan.adds
    assert [(o.action, o.reason, o.user_id) for o in plan.outcomes] == [("skipped", REASON_OTHER_TEAM, 1)]
    assert plan.skipped_other_team == 1


def test_disabled_account_is_not_added():
    plan = reconcile([entra(1, accountEnabled=False)], [], [], set(), rules())
    assert not plan.creates
    assert plan.skipped_disabled == 1
    assert by_action(plan)["skipped"][0].reason == REASON_DISABLED


def test_guest_without_mail_is_not_matched_or_created_by_its_ext_name():
    guest = entra(1, mail=None, userPrincipalName="jane_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                  userType="Guest")
    other = platform(2, email="jane_fabrikam.com#ext#@contoso.onmicrosoft.com", team=None)
    plan = reconcile([guest], [], [other], set(), rules())
    assert not plan.creates and not plan.adds
    assert by_action(plan)["skipped"][0].reason == "no email address in Entra"


def test_a_guests_mail_proves_nothing_so_no_account_is_adopted_by_it():
    guest = entra(1, mail="jane@fabrikam.com", userPrincipalName="jane_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                  userType="Guest")
    plan = reconcile([guest], [], [platform(2, email="jane@fabrikam.com", team=None)], set(), rules())
    assert not plan.adds and not plan.creates
    assert [(o.action, o.reason) for o in plan.outcomes] == [("skipped", REASON_EMAIL_OWNED)]


def test_a_guest_with_a_new_address_gets_a_new_account():
    guest = entra(1, mail="jane@fabrikam.com", userPrincipalName="jane_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                  userType="Guest")
    plan = reconcile([guest], [], [], set(), rules())
    assert [join.values["email"] for join in plan.creates] == ["jane@fabrikam.com"]


def test_a_mail_outside_the_tenants_domain_never_adopts_an_account():
    forged = entra(1, mail="ceo@victim.example", userPrincipalName="intruder@fabrikam.onmicrosoft.com")
    victim = platform(2, email="ceo@victim.example", team=None)
    plan = reconcile([forged], [], [victim], set(), rules())
    assert not plan.adds and not plan.creates and not plan.updates
    assert [(o.action, o.reason, o.email) for o in plan.outcomes] == [
        ("skipped", REASON_EMAIL_OWNED, "ceo@victim.example")]
    assert user_status(forged, TeamSide([victim], TENANT), TEAM) == EMAIL_OWNED


def test_an_account_that_is_deactivated_or_leads_a_team_is_never_adopted():
    deactivated = platform(1, team=None, active=False)
    leader = platform(2, team=None, leads_team=True)
    plan = reconcile([entra(1), entra(2)], [], [deactivated, leader], set(), rules())
    assert not plan.adds and not plan.creates
    assert {(o.action, o.reason) for o in plan.outcomes} == {("skipped", REASON_EMAIL_OWNED)}


def test_a_member_matched_by_an_unproven_email_is_neither_linked_nor_removed():
    member = platform(1)
    plan = reconcile([entra(1, mail="person1@contoso.com", userPrincipalName="x@fabrikam.com"), entra(2)],
                     [member], [], set(), rules(allow_deletion=True))
    assert plan.removals == [] and plan.updates == []
    assert user_status(entra(1, userPrincipalName="x@fabrikam.com"), TeamSide([member], TENANT), TEAM) == IN_THIS_TEAM


def test_user_principal_name_is_the_email_when_mail_is_empty():
    plan = reconcile([entra(1, mail=None, userPrincipalName="P1@contoso.com")], [], [], set(), rules())
    assert plan.creates[0].values["email"] == "p1@contoso.com"


def test_matching_by_object_id_after_an_email_change_updates_the_email():
    member = platform(1, oid="oid-1", synced=TEAM)
    plan = reconcile([entra(1, mail="renamed@contoso.com")], [member], [], set(), rules())
    assert not plan.creates and not plan.adds
    assert [(change.user_id, change.values) for change in plan.updates] == [(1, {"email": "renamed@contoso.com"})]
    assert plan.counts()["updated"] == 1


def test_email_match_stores_the_object_id_without_counting_an_update():
    plan = reconcile([entra(1)], [platform(1)], [], set(), rules())
    assert [(change.values, change.visible) for change in plan.updates] == [
        ({"entra_tenant_id": TENANT, "entra_object_id": "oid-1"}, False)]
    assert plan.counts()["updated"] == 0 and plan.outcomes == []


def test_only_users_this_team_synced_follow_entra():
    synced = platform(1, oid="oid-1", synced=TEAM)
    manual = platform(2, oid="oid-2", synced=None)
    changed = [entra(1, jobTitle="Director", department="Board"), entra(2, jobTitle="Director")]
    plan = reconcile(changed, [synced, manual], [], set(), rules())
    assert [(change.user_id, change.values) for change in plan.updates] == [
        (1, {"job_title": "Director", "department": "Board"})]


def test_second_run_on_the_applied_result_changes_nothing():
    member = platform(1, oid="oid-1", synced=TEAM)
    plan = reconcile([entra(1)], [member], [], set(), rules(allow_deletion=True))
    assert not (plan.creates or plan.adds or plan.updates or plan.removals or plan.outcomes)


def test_email_change_to_an_address_in_use_keeps_the_old_email():
    member = platform(1, oid="oid-1", synced=TEAM)
    taken = platform(2, team=OTHER_TEAM, email="taken@contoso.com")
    plan = reconcile([entra(1, mail="taken@contoso.com", displayName="New Name")], [member], [taken], set(),
                     rules())
    assert [change.values for change in plan.updates] == [{"name": "New Name"}]


def test_email_linked_to_another_entra_user_is_not_taken_over():
    linked = platform(1, team=None, oid="oid-999")
    plan = reconcile([entra(1)], [], [linked], set(), rules())
    assert not plan.creates and not plan.adds
    assert user_status(entra(1), TeamSide([linked], TENANT), TEAM) == EMAIL_TAKEN


def test_without_allow_deletion_nobody_is_removed():
    plan = reconcile([], [platform(1), platform(2)], [], set(), rules())
    assert plan.removals == [] and plan.outcomes == []


def test_members_not_in_group_or_disabled_are_removed_with_allow_deletion():
    members = [platform(1, oid="oid-1"), platform(2), platform(3)]
    plan = reconcile([entra(1, accountEnabled=False), entra(3)], members, [], set(), rules(allow_deletion=True))
    assert sorted(plan.removals) == [1, 2]
    reasons = {o.user_id: o.reason for o in by_action(plan)["removed"]}
    assert reasons == {1: REASON_DISABLED, 2: REASON_NOT_IN_GROUP}


def test_a_team_leader_is_never_removed():
    plan = reconcile([entra(3)], [platform(1), platform(2)], [], {1}, rules(allow_deletion=True))
    assert plan.removals == [2]
    assert [(o.user_id, o.reason) for o in by_action(plan)["skipped"]] == [(1, REASON_LEADER)]


def test_saved_selection_adds_only_the_selected_users():
    group = [entra(1), entra(2), entra(3)]
    plan = reconcile(group, [], [], set(), rules(selected_ids=frozenset({"oid-2"})))
    assert [join.entra_id for join in plan.creates] == ["oid-2"]


def test_saved_selection_does_not_remove_unselected_group_members():
    plan = reconcile([entra(1), entra(2)], [platform(1)], [], set(),
                     rules(selected_ids=frozenset({"oid-2"}), allow_deletion=True))
    assert plan.removals == [] and [join.entra_id for join in plan.creates] == ["oid-2"]


def test_all_users_adds_the_whole_group():
    plan = reconcile([entra(n) for n in range(5)], [], [], set(), rules())
    assert len(plan.creates) == 5


def test_duplicate_entries_in_the_group_count_once():
    plan = reconcile([entra(1), entra(1)], [], [], set(), rules())
    assert len(plan.creates) == 1


def _team(size):
    return [platform(n) for n in range(1, size + 1)]


def test_guard_uses_the_minimum_for_small_teams():
    assert guard_threshold(100, rules()) == 25
    members = _team(100)
    at_limit = reconcile([entra(n) for n in range(26, 101)], members, [], set(), rules(allow_deletion=True))
    assert len(at_limit.removals) == 25 and not at_limit.needs_review
    over = reconcile([entra(n) for n in range(27, 101)], members, [], set(), rules(allow_deletion=True))
    assert over.removals == [] and over.needs_review
    assert len(over.held_removals) == 26
    assert {o.action for o in over.outcomes} == {"would_remove"}


def test_guard_uses_the_percentage_for_large_teams():
    members = _team(400)
    rule = rules(allow_deletion=True)
    assert guard_threshold(400, rule) == 40
    at_limit = reconcile([entra(n) for n in range(41, 401)], members, [], set(), rule)
    assert len(at_limit.removals) == 40 and not at_limit.needs_review
    over = reconcile([entra(n) for n in range(42, 401)], members, [], set(), rule)
    assert over.needs_review and over.counts()["removed"] == 0


def test_guard_settings_are_configurable():
    plan = reconcile([], _team(3), [], set(), rules(allow_deletion=True, guard_percent=0, guard_minimum=2))
    assert plan.needs_review


def test_guard_still_adds_and_updates():
    plan = reconcile([entra(500)], _team(30), [], set(), rules(allow_deletion=True))
    assert plan.needs_review and len(plan.creates) == 1


def test_confirmed_removals_bypass_the_guard_but_remove_only_the_reviewed_users():
    plan = reconcile([], _team(30), [], {5}, rules(allow_deletion=True, confirmed_removals=frozenset({1, 2, 5})))
    assert not plan.needs_review and sorted(plan.removals) == [1, 2]


def test_fingerprint_follows_membership_and_enabled_state_not_order():
    assert fingerprint([entra(1), entra(2)]) == fingerprint([entra(2), entra(1)])
    assert fingerprint([entra(1)]) != fingerprint([entra(1), entra(2)])
    assert fingerprint([entra(1)]) != fingerprint([entra(1, accountEnabled=False)])


def test_status_for_the_sync_users_list():
    side = TeamSide([platform(1), platform(2, team=OTHER_TEAM)], TENANT)
    assert user_status(entra(1), side, TEAM) == IN_THIS_TEAM
    assert user_status(entra(2), side, TEAM) == IN_OTHER_TEAM
    assert user_status(entra(3), side, TEAM) == WILL_BE_ADDED
    assert user_status(entra(4, accountEnabled=False), side, TEAM) == DISABLED
    assert user_status(entra(1, accountEnabled=False), side, TEAM) == DISABLED
    assert user_status(entra(5, mail=None, userPrincipalName="x_y.com#EXT#@t.onmicrosoft.com"), side,
                       TEAM) == NO_EMAIL


def test_an_account_linked_to_another_tenant_is_not_taken_over_by_email():
    moved = platform(1, team=None, oid="oid-old", entra_tenant_id="22222222-2222-2222-2222-222222222222")
    plan = reconcile([entra(1)], [], [moved], set(), rules())
    assert not plan.adds and not plan.creates
    assert [(o.action, o.reason) for o in plan.outcomes] == [("skipped", REASON_EMAIL_OWNED)]


def test_an_email_change_in_entra_keeps_the_account_found_by_object_id():
    member = platform(1, oid="oid-1", synced=TEAM)
    plan = reconcile([entra(1, mail="new.name@contoso.com", userPrincipalName="new.name@contoso.com")], [member],
                     [], set(), rules(allow_deletion=True))
    assert not plan.creates and not plan.removals
    assert [change.values for change in plan.updates] == [{"email": "new.name@contoso.com"}]


def test_an_empty_read_always_stops_for_review_even_for_a_small_team():
    members = [platform(n, oid=f"oid-{n}", synced=TEAM) for n in range(1, 25)]
    plan = reconcile([], members, [], set(), rules(allow_deletion=True))
    assert plan.needs_review and plan.removals == [] and len(plan.held_removals) == 24
    assert "Microsoft listed no users in the Sync Group, so this sync removed nobody (24 members" in plan.review_reason


def test_the_guard_caps_removals_by_an_absolute_number():
    rule = rules(allow_deletion=True, guard_maximum=500)
    assert guard_threshold(10_000, rule) == 500
    members = _team(10_000)
    plan = reconcile([entra(n) for n in range(601, 10_001)], members, [], set(), rule)
    assert plan.needs_review and plan.removals == [] and len(plan.held_removals) == 600
    assert "would remove 600 members, more than the deletion guard allows in one run (500)" in plan.review_reason


def test_values_past_the_platforms_limits_skip_the_user_or_are_cut():
    long_email = "a" * 320 + "@contoso.com"
    plan = reconcile([entra(1, mail=long_email, userPrincipalName=long_email), entra(2, displayName="N" * 300),
                      entra(3, id="x" * 40)], [], [], set(), rules())
    assert [join.values["name"] for join in plan.creates] == ["N" * 200]
    assert sorted((o.action, o.reason) for o in plan.outcomes if o.action == "skipped") == [
        ("skipped", REASON_BAD_ID), ("skipped", REASON_EMAIL_TOO_LONG)]
    assert user_status(entra(1, mail=long_email, userPrincipalName=long_email), TeamSide([], TENANT), TEAM) == (
        EMAIL_TOO_LONG)
    member = platform(4, oid="oid-4", synced=TEAM)
    change = reconcile([entra(4, mail=long_email, userPrincipalName=long_email)], [member], [], set(), rules())
    assert change.updates == [] and [o.reason for o in change.outcomes] == [REASON_EMAIL_TOO_LONG]
