"""Racing workers, a worker killed mid-run, throttling and outages: one run at a time, no partial removals."""
import pytest
from rq import Queue

from tests.worker.conftest import (LOCK_SECONDS, connect, emails_of, kill_group, run_of, run_worker,
                                   start_worker, wait_for)
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import APPLIED_BEFORE, queue_run, team_lock_key
from webapp.microsoft import ServiceUnavailable, Throttled
from webapp.models import SyncOutcome, SyncRun, SyncSettings

GROUP_USERS = "transitiveMembers/microsoft.graph.user"
FOLLOW_CHANGES = 3  # requests a full pass adds to follow changes later: nested groups, a users delta link, a first
# groups/delta round (each tracked group's direct members and the link)


@pytest.fixture
def mirrored_team(app, make_team, make_leader_of):
    """A team with three members who are not in the Sync Group, Allow Deletion on."""
    team = make_team("Mirror Academy", members=3)
    make_leader_of(team)
    connect(app, team, allow_deletion=True)
    return team


def group_emails(team):
    return TRAINING | {f"leader.team{team.id}@example.com"}


def test_two_workers_racing_on_one_team_make_one_run(app, mirrored_team, redis_connection, worker_env, fake_entra):
    SyncSettings.update(auto_sync=True).execute()
    fake_entra.control.inject(delay=1.0, path=GROUP_USERS)
    workers = [start_worker(worker_env) for _ in range(2)]
    try:
        queue = Queue("sync", connection=redis_connection)
        queue.enqueue("worker.jobs.tick")
        queue.enqueue("worker.jobs.tick")
        run = wait_for(lambda: SyncRun.get_or_none(SyncRun.team == mirrored_team.id))
        assert queue_run(mirrored_team.id, "manual", redis_connection).id == run.id
        wait_for(lambda: run_of(run.id).status == "succeeded")
    finally:
        for worker in workers:
            kill_group(worker)
    assert SyncRun.select().count() == 1
    assert emails_of(mirrored_team) == group_emails(mirrored_team)


def test_the_team_lock_lets_only_one_of_two_queued_jobs_work(app, mirrored_team, redis_connection, worker_env,
                                                             fake_entra):
    fake_entra.control.inject(delay=1.0, path=GROUP_USERS)
    queue = Queue("sync", connection=redis_connection)
    runs = [SyncRun.create(team=mirrored_team, trigger="manual") for _ in range(2)]
    workers = [start_worker(worker_env) for _ in range(2)]
    try:
        for run in runs:
            queue.enqueue("worker.jobs.sync_team", mirrored_team.id, run.id)
        wait_for(lambda: all(run_of(run.id).status in ("succeeded", "failed") for run in runs))
    finally:
        for worker in workers:
            kill_group(worker)
    outcomes = sorted((run_of(run.id).status, run_of(run.id).error) for run in runs)
    assert outcomes == [("failed", "Another sync of this team was already running."), ("succeeded", None)]
    assert emails_of(mirrored_team) == group_emails(mirrored_team)


def test_a_run_after_a_worker_killed_mid_run_completes_the_team(app, mirrored_team, redis_connection, worker_env,
                                                                  fake_entra):
    fake_entra.control.inject(delay=10.0, path=GROUP_USERS)
    worker = start_worker(worker_env)
    killed = queue_run(mirrored_team.id, "manual", redis_connection)
    try:
        wait_for(lambda: run_of(killed.id).status == "running")
    finally:
        kill_group(worker)
    assert queue_run(mirrored_team.id, "manual", redis_connection).id == killed.id, "lock still held"
    wait_for(lambda: not redis_connection.exists(team_lock_key(mirrored_team.id)), timeout=LOCK_SECONDS + 5)
    fake_entra.control.clear_faults()
    next_run = queue_run(mirrored_team.id, "manual", redis_connection)
    assert next_run.id != killed.id
    assert run_of(killed.id).status == "failed" and "worker stopped" in run_of(killed.id).error
    assert run_worker(worker_env).returncode == 0
    assert (run_of(next_run.id).status, run_of(next_run.id).removed) == ("succeeded", 3)
    assert emails_of(mirrored_team) == group_emails(mirrored_team)


def sync_once(team, redis_connection, worker_env):
    run = queue_run(team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    return run_of(run.id)


def test_throttling_is_retried_to_success(app, mirrored_team, redis_connection, worker_env, fake_entra):
    fake_entra.control.inject(429, retry_after=0.2, count=3, path=GROUP_USERS)
    run = sync_once(mirrored_team, redis_connection, worker_env)
    assert (run.status, run.graph_requests, run.removed) == ("succeeded", 4 + FOLLOW_CHANGES, 3)
    assert emails_of(mirrored_team) == group_emails(mirrored_team)


def test_a_throttling_storm_fails_the_run_and_removes_nobody(app, mirrored_team, redis_connection, worker_env,
                                                             fake_entra):
    before = emails_of(mirrored_team)
    fake_entra.control.inject(429, retry_after=0.05, count=None, path=GROUP_USERS)
    run = sync_once(mirrored_team, redis_connection, worker_env)
    assert (run.status, run.error, run.removed, run.added) == ("failed", Throttled.default_message, 0, 0)
    assert emails_of(mirrored_team) == before
    assert SyncSettings.get(SyncSettings.team == mirrored_team.id).failure_count == 1


@pytest.fixture
def big_group_team(app, make_team, make_leader_of, fake_entra):
    """A team synced from a generated group of 2,100 users (three Graph pages), Allow Deletion on."""
    tenant = fake_entra.control.create_tenant(seed=7, users=2100, groups=2, big_group_size=2100)
    team = make_team("Big Academy", members=3)
    make_leader_of(team)
    connect(app, team, tenant_id=tenant["tenant_id"], client_id=tenant["app"]["client_id"],
            secret=tenant["app"]["client_secret"], group_id=tenant["big_group_id"], allow_deletion=True)
    return team


def test_a_503_on_page_3_is_retried_to_success(app, big_group_team, redis_connection, worker_env, fake_entra):
    fake_entra.control.inject(503, retry_after=0.05, page=3, path=GROUP_USERS)
    run = sync_once(big_group_team, redis_connection, worker_env)
    assert (run.status, run.graph_requests, run.removed) == ("succeeded", 4 + FOLLOW_CHANGES, 3)
    assert run.added > 2000


def test_a_503_on_page_3_that_persists_fails_the_run_and_removes_nobody(app, big_group_team, redis_connection,
                                                                        worker_env, fake_entra):
    """The pages read before the fault are written (each page while the next is read), and the history lists
    them; nobody leaves the team, and the next run finishes the job."""
    members_before = emails_of(big_group_team)
    fake_entra.control.inject(503, retry_after=0.05, count=None, page=3, path=GROUP_USERS)
    run = sync_once(big_group_team, redis_connection, worker_env)
    assert (run.status, run.error) == ("failed", ServiceUnavailable.default_message + APPLIED_BEFORE)
    assert run.removed == 0 and members_before <= emails_of(big_group_team)
    joined = emails_of(big_group_team) - members_before
    assert run.added == len(joined) and 1900 < run.added <= 2 * 999
    outcomes = SyncOutcome.select().where(SyncOutcome.run == run.id)
    assert {outcome.email for outcome in outcomes if outcome.action == "created"} == joined
    assert not [outcome for outcome in outcomes if outcome.action in ("removed", "would_remove")]
    fake_entra.control.clear_faults()
    again = sync_once(big_group_team, redis_connection, worker_env)
    assert (again.status, again.removed) == ("succeeded", 3)
    after = emails_of(big_group_team)
    assert joined <= after and len(after) == len(members_before) - 3 + run.added + again.added  # nobody twice
