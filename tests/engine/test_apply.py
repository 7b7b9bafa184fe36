"""Applying a plan to the database: bulk statements, restorable removals, leaders kept, idempotent."""
import pytest

from webapp.db import database, is_sqlite
from webapp.engine.apply import apply_plan
from webapp.engine.reconcile import SyncRules, reconcile
from webapp.engine.team_side import load_leader_ids, load_members, load_others
from webapp.microsoft import to_entra_user
from webapp.models import SyncOutcome, SyncRun, TeamLeader, User

TENANT = "11111111-1111-1111-1111-111111111111"


def entra(n, **fields):
    body = {"id": f"oid-{n}", "displayName": f"Person {n}", "mail": f"person{n}@contoso.com",
            "userPrincipalName": f"person{n}@contoso.com", "accountEnabled": True, "jobTitle": "Analyst",
            "department": "Finance"}
    body.update(fields)
    return to_entra_user(body)


def sync(team, group, allow_deletion=True):
    """Load the team side, plan and apply, like the job does; returns the plan."""
    run = SyncRun.create(team=team, trigger="manual")
    members = load_members(team.id)
    others = load_others(team.id, TENANT, group, members)
    plan = reconcile(group, members, others, load_leader_ids(team.id),
                     SyncRules(team_id=team.id, tenant_id=TENANT, allow_deletion=allow_deletion))
    apply_plan(plan, team.id, run.id)
    return plan, run


def test_apply_creates_adds_updates_and_removes_then_changes_nothing(app, make_team):
    team, other = make_team("Mine"), make_team("Theirs")
    leader = User.create(email="lead@contoso.com", name="Lead", team=team)
    TeamLeader.create(team=team, user=leader)
    leaving = User.create(email="leaving@contoso.com", name="Leaving", team=team, synced_by_team=team)
    former = User.create(email="person2@contoso.com", name="Old Name", team=None, removed_from_team=other)
    User.create(email="person3@contoso.com", name="Taken", team=other)
    group = [entra(1), entra(2), entra(3)]

    plan, run = sync(team, group)
    assert plan.counts() == {"added": 2, "created": 1, "updated": 0, "removed": 1, "skipped_other_team": 1,
                             "skipped_disabled": 0}
    created = User.get(User.email == "person1@contoso.com")
    assert (created.team_id, created.synced_by_team_id, created.entra_object_id, created.active) == (
        team.id, team.id, "oid-1", True)
    former = User.get_by_id(former.id)
    assert (former.team_id, former.active, former.name, former.removed_from_team_id, former.entra_object_id) == (
        team.id, True, "Person 2", None, "oid-2")
    leaving = User.get_by_id(leaving.id)
    assert (leaving.team_id, leaving.active, leaving.removed_from_team_id) == (None, False, team.id)
    assert leaving.removed_at is not None
    assert User.get_by_id(leader.id).team_id == team.id
    outcomes = {(o.action, o.email, o.entra_id, o.user_id)
                for o in SyncOutcome.select().where(SyncOutcome.run == run.id)}
    assert ("created", "person1@contoso.com", "oid-1", None) in outcomes
    assert ("removed", "leaving@contoso.com", None, leaving.id) in outcomes

    renamed = [entra(1, mail="renamed@contoso.com", jobTitle="Lead Analyst"), entra(2), entra(3)]
    plan, _ = sync(team, renamed)
    assert plan.counts()["updated"] == 1
    assert User.get_by_id(created.id).email == "renamed@contoso.com"
    plan, _ = sync(team, renamed)
    assert not (plan.creates or plan.adds or plan.updates or plan.removals)


def test_apply_never_removes_a_leader_even_if_a_plan_says_so(app, make_team):
    team = make_team("Mine")
    leader = User.create(email="lead@contoso.com", name="Lead", team=team)
    TeamLeader.create(team=team, user=leader)
    plan, run = sync(team, [])
    plan.removals = [leader.id]
    apply_plan(plan, team.id, run.id)
    assert User.get_by_id(leader.id).team_id == team.id


def test_thousands_of_users_take_a_few_dozen_statements(app, make_team, database_url):
    if not is_sqlite():
        pytest.skip("statement counting uses SQLite's trace callback")
    team = make_team("Big", members=20)
    group = [entra(n) for n in range(3000)]
    statements = []
    database.connection().set_trace_callback(statements.append)
    try:
        plan, _ = sync(team, group)
    finally:
        database.connection().set_trace_callback(None)
    assert plan.counts()["created"] == 3000 and plan.counts()["removed"] == 20
    assert User.select().where(User.team == team.id).count() == 3000
    assert len([sql for sql in statements if sql.startswith("SELECT")]) < 30
    assert len([sql for sql in statements if sql.startswith("UPDATE")]) < 30


def test_a_removed_member_keeps_an_account_this_team_does_not_own(app, make_team):
    team, other = make_team("Mine"), make_team("Theirs")
    synced = User.create(email="synced@contoso.com", name="Synced", team=team, synced_by_team=team)
    hand_added = User.create(email="hand@contoso.com", name="Hand Added", team=team)
    other_leader = User.create(email="boss@contoso.com", name="Leads Theirs", team=team, synced_by_team=team)
    TeamLeader.create(team=other, user=other_leader)

    plan, run = sync(team, [entra(1)])

    assert sorted(plan.removals) == sorted([synced.id, hand_added.id, other_leader.id])
    states = {user.email: (user.team_id, user.active, user.removed_from_team_id)
              for user in User.select().where(User.id.in_([synced.id, hand_added.id, other_leader.id]))}
    assert states == {"synced@contoso.com": (None, False, team.id), "hand@contoso.com": (None, True, team.id),
                      "boss@contoso.com": (None, True, team.id)}
    assert SyncRun.get_by_id(run.id).removed == 3


def test_every_committed_change_is_in_the_runs_outcomes_and_counts(app, make_team):
    team = make_team("Mine", members=3)
    User.update(synced_by_team=team).execute()
    plan, run = sync(team, [entra(n) for n in range(7000)])
    run = SyncRun.get_by_id(run.id)
    outcomes = SyncOutcome.select().where(SyncOutcome.run == run.id)
    by_action = {action: outcomes.where(SyncOutcome.action == action).count() for action in ("created", "removed")}
    assert by_action == {"created": 7000, "removed": 3}
    assert (run.added, run.created, run.removed) == (7000, 7000, 3)


def test_a_run_that_may_no_longer_write_stops_before_its_next_transaction(app, make_team):
    team = make_team("Mine")
    run = SyncRun.create(team=team, trigger="manual")
    group = [entra(n) for n in range(12_000)]
    plan = reconcile(group, [], [], set(), SyncRules(team_id=team.id, tenant_id=TENANT))
    allowed = iter([True, True])

    def fence():
        if not next(allowed, False):
            raise RuntimeError("lock lost")

    with pytest.raises(RuntimeError):
        apply_plan(plan, team.id, run.id, fence=fence)
    written = User.select().where(User.team == team.id).count()
    assert written == 10_000, "two transactions of 5,000 went through, the third never started"
    run = SyncRun.get_by_id(run.id)
    assert run.created == written
    created = SyncOutcome.select().where((SyncOutcome.run == run.id) & (SyncOutcome.action == "created"))
    assert created.count() == written
