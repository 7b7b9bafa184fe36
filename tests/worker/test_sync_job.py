"""A team's sync through a real `rq worker` process, Redis and fake_entra over HTTP."""
from rq.job import Job

from fake_entra import demo
from tests.worker.conftest import connect, emails_of, run_of, run_worker
from webapp.engine.lifecycle import queue_run
from webapp.models import SyncOutcome, SyncSettings, Team, User

DOMAIN = demo.TENANT_DOMAIN
TRAINING = {f"{demo.handle(name)}@{DOMAIN}" for name in
            demo.DEPARTMENT_STAFF["Support"] + demo.DEPARTMENT_STAFF["People"]
            + ("Megan Bowen", "Lynne Robbins", "Christie Cline")} | {
    "jane.doe@partner.example", "kofi.mensah@partner.example", "lena.vogel@external.example"}


def sync_now(team, redis_connection, worker_env, trigger="manual", **kwargs):
    run = queue_run(team.id, trigger, redis_connection, **kwargs)
    result = run_worker(worker_env)
    assert result.returncode == 0, result.stderr
    return run_of(run.id)


def test_manual_sync_adds_the_group_and_a_second_run_changes_nothing(synced_team, redis_connection, worker_env):
    leader_email = f"leader.team{synced_team.id}@example.com"
    run = sync_now(synced_team, redis_connection, worker_env)
    assert (run.status, run.error) == ("succeeded", None)
    assert emails_of(synced_team) == TRAINING | {leader_email}
    assert (run.added, run.created, run.skipped_disabled, run.removed) == (len(TRAINING), len(TRAINING), 2, 0)
    # the group's users; then, to follow changes later: its nested group, a users delta link and a first groups/delta
    # round (the direct members of the group and of its nested group, as the directory has them, and its link)
    assert (run.mode, run.graph_requests) == ("full", 4) and run.started_at and run.finished_at
    job = Job.fetch(run.job_id, connection=redis_connection)
    assert job.get_meta()["progress"] == f"Created {len(TRAINING)} of {len(TRAINING)} new users"
    megan = User.get(User.email == demo.ADMIN_EMAIL)
    assert (megan.name, megan.job_title, megan.department, megan.entra_object_id, megan.synced_by_team_id) == (
        "Megan Bowen", "IT Administrator", "IT", demo.user_id("Megan Bowen"), synced_team.id)
    skipped = {row.email: row.reason for row in SyncOutcome.select().where(
        (SyncOutcome.run == run.id) & (SyncOutcome.action == "skipped"))}
    assert skipped == {f"diego.siciliani@{DOMAIN}": "disabled in Entra", f"irvin.sayers@{DOMAIN}": "disabled in Entra"}

    before = list(User.select().order_by(User.id).tuples())
    again = sync_now(synced_team, redis_connection, worker_env)
    assert (again.status, again.mode, again.graph_requests) == ("succeeded", "incremental", 2)
    assert (again.added, again.created, again.updated, again.removed) == (0, 0, 0, 0)
    assert SyncOutcome.select().where((SyncOutcome.run == again.id)
                                      & (SyncOutcome.action != "skipped")).count() == 0
    assert list(User.select().order_by(User.id).tuples()) == before
    settings = SyncSettings.get(SyncSettings.team == synced_team.id)
    assert settings.failure_count == 0 and settings.next_sync_at > again.finished_at


def test_a_microsoft_365_sync_group_syncs_and_then_follows_its_changes(app, make_team, make_leader_of,
                                                                       redis_connection, worker_env, fake_entra):
    team = make_team("Mentors")
    make_leader_of(team)
    connect(app, team, group_id=demo.group_id("Mentoring Circle"))

    run = sync_now(team, redis_connection, worker_env)

    mentors = {f"{demo.handle(name)}@{DOMAIN}" for name in ("Megan Bowen", "Adele Vance", "Miriam Graham",
                                                            "Debra Berger", "Lynne Robbins")}
    assert (run.status, run.error, run.mode) == ("succeeded", None, "full")
    assert emails_of(team) == mentors | {"kofi.mensah@partner.example", f"leader.team{team.id}@example.com"}
    fake_entra.control.add_member(demo.TENANT_ID, demo.group_id("Mentoring Circle"), demo.user_id("Jane Doe"))
    again = sync_now(team, redis_connection, worker_env)
    assert (again.status, again.mode, again.added) == ("succeeded", "incremental", 1)
    assert demo.GUEST_EMAIL in emails_of(team)


def test_users_of_another_team_are_skipped_and_reported(synced_team, redis_connection, worker_env):
    other = Team.create(name="Sales Academy")
    User.create(email=f"rita.moreno@{DOMAIN}", name="Rita Moreno", team=other)
    run = sync_now(synced_team, redis_connection, worker_env)
    assert run.skipped_other_team == 1
    assert f"rita.moreno@{DOMAIN}" not in emails_of(synced_team)
    assert User.get(User.email == f"rita.moreno@{DOMAIN}").team_id == other.id
    outcome = SyncOutcome.get((SyncOutcome.run == run.id) & (SyncOutcome.email == f"rita.moreno@{DOMAIN}"))
    assert (outcome.action, outcome.reason) == ("skipped", "in another team")
