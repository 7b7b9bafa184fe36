"""Real syncs of a 10,000-member group while the work horse is killed, Redis stalls and Graph throttles at
seeded random points: afterwards the team is what the rules say, the history holds every committed change, and
nobody was removed wrongly."""
import random
import signal
import time

import psutil
import pytest
from peewee import fn

from tests.worker.conftest import LOCK_SECONDS, connect, kill_group, run_of, start_worker, wait_for
from tests.worker.test_resilience import GROUP_USERS
from webapp.engine.lifecycle import ACTIVE, queue_run
from webapp.models import SyncOutcome, SyncRun, User

GROUP_SIZE = 10_000
LEAVERS = 300
ROUNDS = 6


def redis_server_of(redis_url):
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    for child in psutil.Process().children(recursive=True):
        if child.name().startswith("redis-server") and port in " ".join(child.cmdline()):
            return child
    raise AssertionError("the test's redis-server was not found")


@pytest.fixture
def soak_team(app, make_team, make_leader_of, fake_entra):
    tenant = fake_entra.control.create_tenant(seed=23, users=GROUP_SIZE + 200, groups=2, big_group_size=GROUP_SIZE)
    team = make_team("Soak Academy")
    leader = make_leader_of(team)
    User.insert_many([{"email": f"leaver{n}@example.com", "name": f"Leaver {n:03d}", "team": team.id,
                       "synced_by_team": team.id} for n in range(LEAVERS)]).execute()
    connect(app, team, tenant_id=tenant["tenant_id"], client_id=tenant["app"]["client_id"],
            secret=tenant["app"]["client_secret"], group_id=tenant["big_group_id"], allow_deletion=True)
    return team, leader


def test_syncs_under_random_faults_lose_nothing_and_remove_nobody_wrongly(app, soak_team, redis_connection,
                                                                         redis_url, worker_env, fake_entra):
    team, leader = soak_team
    env = dict(worker_env, DELETION_GUARD_PERCENT="100", DELETION_GUARD_MAXIMUM="100000")
    leavers = {row[0] for row in User.select(User.id).where(User.email.startswith("leaver")).tuples()}
    rng = random.Random(20261202)
    redis_server = redis_server_of(redis_url)
    faults = ["kill", "stall", "throttle"] * (ROUNDS // 3)
    rng.shuffle(faults)
    worker = start_worker(env)
    try:
        for fault in faults:
            if fault == "throttle":
                fake_entra.control.inject(429, retry_after=0.05, count=rng.randint(2, 6), path=GROUP_USERS,
                                          page=rng.randint(1, 10))
            run = queue_run(team.id, "manual", redis_connection)
            time.sleep(rng.uniform(0.2, 3.0))
            if fault == "kill":
                kill_group(worker)
                time.sleep(LOCK_SECONDS + 1)
                worker = start_worker(env)
            elif fault == "stall":
                redis_server.send_signal(signal.SIGSTOP)
                time.sleep(LOCK_SECONDS * 2)
                redis_server.send_signal(signal.SIGCONT)
            if fault != "kill":
                wait_for(lambda: run_of(run.id).status not in ACTIVE, timeout=90)
        fake_entra.control.clear_faults()
        wait_for(lambda: not redis_connection.exists(f"entra-sync:team:{team.id}:running"), timeout=LOCK_SECONDS + 5)
        settle = queue_run(team.id, "manual", redis_connection)
        wait_for(lambda: run_of(settle.id).status not in ACTIVE, timeout=90)
        final = queue_run(team.id, "manual", redis_connection)
        wait_for(lambda: run_of(final.id).status not in ACTIVE, timeout=90)
    finally:
        if redis_server.is_running():
            redis_server.send_signal(signal.SIGCONT)
        kill_group(worker)

    final = run_of(final.id)
    assert (final.status, final.added, final.updated, final.removed) == ("succeeded", 0, 0, 0), (
        f"the team is not yet what the rules say after {faults}")
    members = User.select().where(User.team == team.id)
    assert leader.id in {user.id for user in members}
    removed = {row[0] for row in User.select(User.id).where(User.removed_from_team == team.id).tuples()}
    assert removed == leavers, "exactly the members who are not in the group were removed"

    outcomes = SyncOutcome.select().join(SyncRun).where(SyncRun.team == team.id)
    created = [row[0] for row in outcomes.where(SyncOutcome.action == "created").select(SyncOutcome.entra_id).tuples()]
    synced_members = {row[0] for row in members.where(User.entra_object_id.is_null(False))
                      .select(User.entra_object_id).tuples()}
    assert len(created) == len(set(created)) and set(created) == synced_members, (
        "every account the runs created is in their history exactly once")
    removals = [row[0] for row in outcomes.where(SyncOutcome.action == "removed").select(SyncOutcome.user).tuples()]
    assert sorted(removals) == sorted(leavers)
    totals = SyncRun.select(fn.SUM(SyncRun.created), fn.SUM(SyncRun.removed)).where(SyncRun.team == team.id).tuples()
    assert list(totals)[0] == (len(created), len(removals)), "the runs' counts add up to their outcomes"
