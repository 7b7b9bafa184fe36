"""Auto Sync at scale: the tick's fair order and bulk queueing, the per-tenant limit, short runs without a fork."""
import datetime as dt
import json
import os
import signal
import subprocess
import time

import psutil
from rq import Queue
from rq.registry import FailedJobRegistry

from fake_entra import demo
from tests.worker.conftest import BIN, ROOT, connect, emails_of, kill_group, run_of, start_worker, wait_for
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import (ACTIVE, IN_PROCESS, TenantSlot, queue_auto_runs, queue_run, team_lock_key,
                                     tenant_slots_key)
from webapp.engine.schedule import TeamState, due_teams
from webapp.models import SyncRun, SyncSettings, utcnow
from worker.jobs import HANDED_BACK

# Runs tick() as the worker does and prints what it queued and how many SQL queries and Redis round trips it took.
COUNTED_TICK = """
import json, peewee, redis.connection
from worker.jobs import tick
counts = {"sql": 0, "redis": 0}
execute_sql, send = peewee.Database.execute_sql, redis.connection.Connection.send_packed_command
def counted_sql(self, *args, **kwargs):
    counts["sql"] += 1
    return execute_sql(self, *args, **kwargs)
def counted_send(self, *args, **kwargs):
    counts["redis"] += 1
    return send(self, *args, **kwargs)
peewee.Database.execute_sql, redis.connection.Connection.send_packed_command = counted_sql, counted_send
print(json.dumps({"runs": tick(), **counts}))
"""


def counted_tick(env):
    result = subprocess.run([str(BIN / "python"), "-c", COUNTED_TICK], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def auto_teams(app, make_team, count, start=0):
    teams = [make_team(f"Auto {start + n}") for n in range(count)]
    for team in teams:
        connect(app, team, auto_sync=True)
    return teams


def finished(team, days_ago):
    SyncRun.create(team=team, trigger="auto", status="succeeded", finished_at=utcnow() - dt.timedelta(days=days_ago))


def queued_teams(redis_connection):
    """The team of each queued sync job, in the order the workers will take them."""
    queue = Queue("sync", connection=redis_connection)
    return [job.args[0] for job in queue.get_jobs() if job.func_name == "worker.jobs.sync_team"]


def test_the_tick_queues_the_longest_overdue_first(app, make_team, redis_connection, worker_env):
    recent, oldest, never, middle = auto_teams(app, make_team, 4)
    finished(recent, 1.1)
    finished(oldest, 9)
    finished(middle, 3)
    not_due = auto_teams(app, make_team, 1, start=4)[0]
    finished(not_due, 0.5)
    ticked = counted_tick(worker_env)
    assert queued_teams(redis_connection) == [never.id, oldest.id, middle.id, recent.id]
    runs = list(SyncRun.select().where(SyncRun.id.in_(ticked["runs"])).order_by(SyncRun.id))
    assert [(run.team_id, run.trigger, run.status, run.job_id) for run in runs] == [
        (team.id, "auto", "queued", f"sync-run-{run.id}") for team, run in zip([never, oldest, middle, recent], runs)]
    assert counted_tick(worker_env)["runs"] == [], "a team with a run queued is not queued twice"


def test_teams_due_in_the_same_minute_take_turns_by_tenant_after_the_longest_overdue():
    now = dt.datetime(2026, 11, 27, 12, 0)

    def due(team_id, tenant, minutes_ago=None):
        finished_at = None if minutes_ago is None else now - dt.timedelta(minutes=minutes_ago)
        return TeamState(team_id, "oauth", False, finished_at, 0, tenant)

    busy = [due(1, "a", 10), due(2, "a", 9.9), due(3, "a", 9.8)]  # due at 11:55:00, :06 and :12
    states = [*busy, due(4, "b", 9.7), due(5, "b", 600), due(6, "a")]  # 11:55:18; 10:05; never synced
    assert due_teams(states, now, 5, 1440) == [6, 5, 1, 4, 2, 3]


def test_the_tick_takes_as_many_queries_and_round_trips_for_forty_teams_as_for_four(app, make_team,
                                                                                    redis_connection, worker_env):
    few = counted_tick_of(app, make_team, redis_connection, worker_env, 4, 0)
    many = counted_tick_of(app, make_team, redis_connection, worker_env, 40, 4)
    assert (len(few["runs"]), len(many["runs"])) == (4, 40)
    assert many["sql"] == few["sql"] and many["redis"] <= few["redis"], (few, many)


def counted_tick_of(app, make_team, redis_connection, worker_env, count, start):
    """A tick over `count` new due teams (half of them synced before); the earlier teams' runs ended and their Auto
    Sync is off."""
    SyncSettings.update(auto_sync=False).execute()
    SyncRun.update(status="succeeded", finished_at=utcnow()).where(SyncRun.status == "queued").execute()
    redis_connection.flushdb()
    for number, team in enumerate(auto_teams(app, make_team, count, start)):
        if number % 2:
            finished(team, 2)
    return counted_tick(worker_env)


def test_a_busy_tenant_works_one_run_at_a_time_while_another_tenants_run_goes_ahead(app, make_team, redis_connection,
                                                                                    worker_env, fake_entra):
    control = fake_entra.control
    staff = tuple(demo.user_id(name) for name in demo.DEPARTMENT_STAFF["Sales"][:3])
    busy = []
    for number in range(3):
        group_id = control.add_group(demo.TENANT_ID, f"Busy {number}", members=staff)["id"]
        control.inject(delay=1.5, path=f"/groups/{group_id}/", count=None)  # each run of the busy tenant is slow
        busy.append(make_team(f"Busy {number}"))
        connect(app, busy[-1], group_id=group_id)
    other = control.create_tenant(seed=16, users=30, groups=2, big_group_size=20, name="Other Tenant",
                                  domain="other.onmicrosoft.com")
    quiet = make_team("Quiet")
    connect(app, quiet, tenant_id=other["tenant_id"], client_id=other["app"]["client_id"],
            secret=other["app"]["client_secret"], group_id=other["big_group_id"])
    workers = [start_worker(dict(worker_env, TENANT_SYNC_LIMIT="1")) for _ in range(2)]
    try:
        run_ids = [queue_run(team.id, "manual", redis_connection).id for team in [*busy, quiet]]
        most_at_once = 0
        while SyncRun.select().where(SyncRun.id.in_(run_ids) & SyncRun.status.in_(ACTIVE)).count():
            running = SyncRun.select().where(SyncRun.id.in_(run_ids[:3]) & (SyncRun.status == "running")).count()
            most_at_once = max(most_at_once, running, redis_connection.zcard(tenant_slots_key(demo.TENANT_ID)))
            time.sleep(0.05)
    finally:
        for worker in workers:
            kill_group(worker)
    *busy_runs, quiet_run = [run_of(run_id) for run_id in run_ids]
    assert [run.status for run in [*busy_runs, quiet_run]] == ["succeeded"] * 4, [run.error for run in busy_runs]
    assert most_at_once == 1
    in_turn = sorted(busy_runs, key=lambda run: run.started_at)
    assert all(earlier.finished_at <= later.started_at for earlier, later in zip(in_turn, in_turn[1:]))
    assert quiet_run.finished_at < in_turn[-1].started_at, "the other tenant's run did not wait for the busy one"
    assert FailedJobRegistry(queue=Queue("sync", connection=redis_connection)).count == 0


def test_a_tenant_slot_a_killed_worker_held_frees_itself(redis_connection):
    held = TenantSlot(redis_connection, "tenant-a", 1, limit=1, seconds=1)
    assert held.take()
    assert not TenantSlot(redis_connection, "tenant-a", 2, limit=1, seconds=1).take()
    assert TenantSlot(redis_connection, "tenant-b", 3, limit=1, seconds=1).take(), "another tenant has its own"
    time.sleep(1.1)  # never renewed nor released, as when its worker was killed
    assert TenantSlot(redis_connection, "tenant-a", 2, limit=1, seconds=1).take()


def worker_result(redis_connection, job, timeout=30):
    """The job once a worker ended it: (its status, its return value)."""
    wait_for(lambda: job.get_status(refresh=True) in ("finished", "failed"), timeout=timeout)
    return job.get_status(), job.return_value()


def test_a_short_run_works_in_the_workers_process_and_others_fork(redis_connection, worker_env):
    queue = Queue("sync", connection=redis_connection)
    worker = start_worker(worker_env)
    try:
        in_process = queue.enqueue("os.getpid", meta={IN_PROCESS: True})
        forked = queue.enqueue("os.getpid")
        assert worker_result(redis_connection, in_process) == ("finished", worker.pid)
        status, pid = worker_result(redis_connection, forked)
        assert status == "finished" and pid != worker.pid
    finally:
        kill_group(worker)


def test_an_in_process_job_that_raises_or_overruns_is_failed_and_the_worker_goes_on(app, make_team, redis_connection,
                                                                                    worker_env):
    wrong, right = make_team("Wrong Secret"), make_team("Right Secret")
    connect(app, wrong, secret="wrong-secret")
    connect(app, right)
    queue = Queue("sync", connection=redis_connection)
    worker = start_worker(worker_env)
    try:
        raises = queue.enqueue("int", "not a number", meta={IN_PROCESS: True})
        overruns = queue.enqueue("time.sleep", 30, meta={IN_PROCESS: True}, job_timeout=1)
        failed_run, good_run = (queue_auto_runs([team.id], redis_connection, in_process={team.id})[0]
                                for team in (wrong, right))
        still_here = queue.enqueue("os.getpid", meta={IN_PROCESS: True})
        assert worker_result(redis_connection, still_here) == ("finished", worker.pid)
        assert worker.poll() is None
    finally:
        kill_group(worker)
    failed = FailedJobRegistry(queue=queue)
    assert set(failed.get_job_ids()) == {raises.id, overruns.id, f"sync-run-{failed_run}"}
    assert "ValueError" in raises.latest_result().exc_string
    assert "JobTimeoutException" in overruns.latest_result().exc_string
    assert run_of(failed_run).status == "failed" and "client secret is wrong" in run_of(failed_run).error
    assert run_of(good_run).status == "succeeded" and emails_of(right) >= TRAINING
    assert redis_connection.get(team_lock_key(right.id)) is None, "the team lock was given back"


def test_an_in_process_sync_still_running_at_sigterm_is_handed_back_and_retried(app, synced_team, redis_connection,
                                                                                worker_env, fake_entra):
    SyncSettings.update(auto_sync=True).where(SyncSettings.team == synced_team.id).execute()
    fake_entra.control.inject(delay=20.0, path="transitiveMembers/microsoft.graph.user", count=None)
    worker = start_worker(dict(worker_env, WORKER_GRACE_SECONDS="2"))
    try:
        (run_id,) = queue_auto_runs([synced_team.id], redis_connection, in_process={synced_team.id})
        wait_for(lambda: run_of(run_id).status == "running", timeout=30)
        time.sleep(1)  # the run is waiting on Microsoft, in the worker's own process
        assert psutil.Process(worker.pid).children() == []
        os.kill(worker.pid, signal.SIGTERM)
        started = time.monotonic()
        worker.wait(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        if worker.poll() is None:
            kill_group(worker)
    interrupted = run_of(run_id)
    assert (interrupted.status, interrupted.interrupted) == ("failed", True)
    assert interrupted.error.startswith(HANDED_BACK)
    retry = SyncRun.select().where(SyncRun.team == synced_team.id).order_by(SyncRun.id.desc()).first()
    assert (retry.trigger, retry.status) == ("retry", "queued"), "handed back: queued again at once"
