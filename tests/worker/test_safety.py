"""The sync's safety rules through the real worker, database and fake_entra: no removal from a partial or empty
read, no account taken over by email."""
import pytest

from tests.worker.conftest import connect, emails_of, run_of, run_worker
from tests.worker.test_resilience import GROUP_USERS, big_group_team  # noqa: F401 (fixture)
from webapp.accounts import make_leader
from webapp.engine.lifecycle import APPLIED_BEFORE, queue_run
from webapp.models import SyncOutcome, SyncSettings, User


def sync_once(team, redis_connection, worker_env):
    run = queue_run(team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    return run_of(run.id)


def tracking_keys(redis_connection, team):
    return redis_connection.keys(f"entra-sync:delta:{team.id}*")


@pytest.mark.parametrize("fault", [dict(truncate=True, page=2), dict(count_offset=79, page=1)],
                         ids=["listing ends early", "count disagrees"])
def test_a_listing_short_of_its_count_removes_nobody_and_saves_no_tracking(app, big_group_team, redis_connection,
                                                                          worker_env, fake_entra, fault):
    """Pages are written while the next ones are read, so what the listing held before it proved short is in the
    team and in the run's history; nobody is removed."""
    before = emails_of(big_group_team)
    fake_entra.control.inject(path=GROUP_USERS, **fault)

    run = sync_once(big_group_team, redis_connection, worker_env)

    assert run.status == "failed"
    assert "Microsoft reported 2,1" in run.error and "so this sync removed nobody" in run.error
    assert run.error.endswith(APPLIED_BEFORE) and run.removed == 0
    assert before <= emails_of(big_group_team) and len(emails_of(big_group_team)) == len(before) + run.added
    created = SyncOutcome.select().where((SyncOutcome.run == run.id) & (SyncOutcome.action == "created")).count()
    assert created == run.added
    assert tracking_keys(redis_connection, big_group_team) == []
    retried = sync_once(big_group_team, redis_connection, worker_env)
    assert (retried.status, retried.removed) == ("succeeded", 3)


def test_an_empty_group_read_stops_for_review_even_for_a_small_team(app, make_team, make_leader_of, fake_entra,
                                                                    redis_connection, worker_env, client, auth):
    team = make_team("Small Academy", members=24)
    User.update(synced_by_team=team).where(User.team == team.id).execute()
    empty = fake_entra.control.add_group(fake_entra.demo.TENANT_ID, "Emptied Group")
    connect(app, team, group_id=empty["id"], allow_deletion=True)
    before = emails_of(team)

    run = sync_once(team, redis_connection, worker_env)

    assert (run.status, run.removed) == ("needs_review", 0)
    assert emails_of(team) == before
    assert run.notice.startswith("Microsoft listed no users in the Sync Group, so this sync removed nobody")
    auth.login(make_leader_of(team).email)
    panel = client.get(f"/teams/{team.id}/runs/panel").get_data(as_text=True)
    assert "Microsoft listed no users in the Sync Group" in panel and "Confirm removals" in panel
    history = client.get(f"/teams/{team.id}/runs/").get_data(as_text=True)
    assert "Microsoft listed no users in the Sync Group" in history


def test_a_made_up_mail_in_another_tenant_never_takes_over_an_account(app, make_team, fake_entra, redis_connection,
                                                                       worker_env):
    victim_team, team = make_team("Victim Academy"), make_team("Fabrikam Academy")
    victim = make_leader("boss@victim.example", victim_team.id, "long enough password", name="Victim Boss")
    User.update(team=None, active=False).where(User.id == victim.id).execute()
    fabrikam = fake_entra.control.create_tenant(seed=11, users=30, groups=1, name="Fabrikam",
                                                domain="fabrikam.onmicrosoft.com")
    forger = fake_entra.control.add_user(fabrikam["tenant_id"], "Forged Boss", "forger@fabrikam.onmicrosoft.com",
                                         mail="Boss@Victim.example", accountEnabled=True)
    group = fake_entra.control.add_group(fabrikam["tenant_id"], "Fabrikam Learners", members=(forger["id"],))
    connect(app, team, tenant_id=fabrikam["tenant_id"], client_id=fabrikam["app"]["client_id"],
            secret=fabrikam["app"]["client_secret"], group_id=group["id"])

    run = sync_once(team, redis_connection, worker_env)

    assert run.status == "succeeded" and run.added == 0
    victim = User.get_by_id(victim.id)
    assert (victim.team_id, victim.active, victim.email, victim.name, victim.entra_object_id) == (
        None, False, "boss@victim.example", "Victim Boss", None)
    outcome = SyncOutcome.get(SyncOutcome.run == run.id)
    assert (outcome.action, outcome.reason) == ("skipped", "email belongs to an existing account")


def test_over_long_values_from_graph_skip_the_user_not_the_run(app, synced_team, fake_entra, redis_connection,
                                                              worker_env):
    long_mail = "x" * 330 + "@contoso-learning.onmicrosoft.com"
    user = fake_entra.control.add_user(fake_entra.demo.TENANT_ID, "Y" * 300, long_mail, mail=long_mail)
    settings = SyncSettings.get(SyncSettings.team == synced_team.id)
    fake_entra.control.add_member(fake_entra.demo.TENANT_ID, settings.group_id, user["id"])

    run = sync_once(synced_team, redis_connection, worker_env)

    assert run.status == "succeeded" and run.added > 0
    outcome = SyncOutcome.get((SyncOutcome.run == run.id) & (SyncOutcome.entra_id == user["id"]))
    assert (outcome.action, outcome.reason) == ("skipped", "email address in Entra is longer than 320 characters")
