"""The periodic schedule: pure decisions, and Auto Sync driven through rq-scheduler and a real worker."""
import datetime as dt
import subprocess
import time

from rq import Queue
from rq.registry import FailedJobRegistry
from rq_scheduler import Scheduler

from fake_entra import demo
from tests.worker.conftest import BIN, ROOT, connect, emails_of, run_worker, wait_for
from webapp import connections
from webapp.models import SyncRun, SyncSettings
from webapp.engine.schedule import TeamState, due_teams, next_sync_after
from worker.schedule import PERIODIC_JOBS, PeriodicJob, plan_schedule
from worker.scheduler import register

NOW = dt.datetime(2026, 11, 27, 12, 0)
TICK = PeriodicJob(id="tick", func="worker.jobs.tick", interval=60)


def test_plan_schedule_registers_new_keeps_unchanged_replaces_changed_and_cancels_removed():
    assert plan_schedule([TICK], {}) == ([], [TICK])
    assert plan_schedule([TICK], {"tick": TICK.signature()}) == ([], [])
    faster = PeriodicJob(id="tick", func="worker.jobs.tick", interval=30)
    assert plan_schedule([faster], {"tick": TICK.signature()}) == (["tick"], [faster])
    assert plan_schedule([], {"tick": TICK.signature(), "old": "x|1|sync"}) == (["old", "tick"], [])


def state(team_id, method="oauth", running=False, finished_minutes_ago=None, failures=0):
    finished = None if finished_minutes_ago is None else NOW - dt.timedelta(minutes=finished_minutes_ago)
    return TeamState(team_id, method, running, finished, failures)


def test_due_teams_follow_the_interval_of_each_connection_method():
    states = [state(1), state(2, finished_minutes_ago=4), state(3, finished_minutes_ago=5),
              state(4, "enterprise_app", finished_minutes_ago=60),
              state(5, "enterprise_app", finished_minutes_ago=1440), state(6, running=True)]
    assert due_teams(states, NOW, 5, 1440) == [1, 3, 5]


def test_failures_back_off_exponentially_up_to_a_cap():
    assert due_teams([state(1, finished_minutes_ago=9, failures=1)], NOW, 5, 1440) == []
    assert due_teams([state(1, finished_minutes_ago=10, failures=1)], NOW, 5, 1440) == [1]
    assert due_teams([state(1, finished_minutes_ago=39, failures=3)], NOW, 5, 1440) == []
    delays = [next_sync_after(NOW, 5, failures) - NOW for failures in range(12)]
    assert delays[:3] == [dt.timedelta(minutes=5), dt.timedelta(minutes=10), dt.timedelta(minutes=20)]
    assert delays[-1] == dt.timedelta(minutes=160)
    assert next_sync_after(NOW, 1440, 4) - NOW == dt.timedelta(days=1)


def test_registering_the_periodic_jobs_twice_adds_nothing(redis_connection):
    scheduler = Scheduler(queue_name="sync", connection=redis_connection)
    assert register(scheduler) == ([], [job.id for job in PERIODIC_JOBS])
    assert register(scheduler) == ([], [])
    assert [job.id for job in scheduler.get_jobs()] == [job.id for job in PERIODIC_JOBS]


def scheduler_burst(env):
    result = subprocess.run([str(BIN / "python"), "-m", "worker.scheduler", "--burst"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def next_tick_now(redis_connection):
    """Time passes: the periodic tick is due again."""
    scheduler = Scheduler(queue_name="sync", connection=redis_connection)
    redis_connection.zadd(scheduler.scheduled_jobs_key, {PERIODIC_JOBS[0].id: 0})


def test_auto_sync_follows_group_changes_on_the_next_tick(app, make_team, redis_connection, worker_env, fake_entra):
    team = make_team("Auto Academy")
    connect(app, team, auto_sync=True, allow_deletion=True)
    scheduler_burst(worker_env)
    assert run_worker(worker_env).returncode == 0
    first = SyncRun.get(SyncRun.team == team.id)
    assert (first.trigger, first.status) == ("auto", "succeeded")
    assert f"rita.moreno@{demo.TENANT_DOMAIN}" in emails_of(team)

    next_tick_now(redis_connection)
    scheduler_burst(worker_env)
    run_worker(worker_env)
    assert SyncRun.select().where(SyncRun.team == team.id).count() == 1, "not due yet: nothing runs"

    fake_entra.control.remove_member(demo.TENANT_ID, demo.group_id("Training"), demo.user_id("Rita Moreno"))
    fake_entra.control.add_member(demo.TENANT_ID, demo.group_id("Training"), demo.user_id("Alex Wilber"))
    SyncRun.update(finished_at=first.finished_at - dt.timedelta(days=2)).where(SyncRun.id == first.id).execute()
    next_tick_now(redis_connection)
    scheduler_burst(worker_env)
    run_worker(worker_env)
    second = SyncRun.select().where(SyncRun.team == team.id).order_by(SyncRun.id.desc()).first()
    assert (second.trigger, second.status, second.added, second.removed) == ("auto", "succeeded", 1, 1)
    members = emails_of(team)
    assert f"alex.wilber@{demo.TENANT_DOMAIN}" in members and f"rita.moreno@{demo.TENANT_DOMAIN}" not in members
    assert FailedJobRegistry(queue=Queue("sync", connection=redis_connection)).count == 0, "every tick ran cleanly"


def connect_again(app, team):
    """The leader pastes the right secret; keep the error so the sync, not the save, is seen to clear it."""
    error = connections.connection_of(team.id).error
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, demo.ENTERPRISE_APP_SECRET,
                                    app.extensions["secret_box"])
    connections.mark_error(connections.connection_of(team.id).id, error)


def test_failed_auto_syncs_back_off_and_say_so(app, make_team, redis_connection, worker_env, signed_in, leader):
    team = leader.team
    connect(app, team, secret="wrong-secret", auto_sync=True)
    scheduler_burst(worker_env)
    run_worker(worker_env)
    run = SyncRun.get(SyncRun.team == team.id)
    assert run.status == "failed" and "client secret is wrong" in run.error and "wrong-secret" not in run.error
    settings = SyncSettings.get(SyncSettings.team == team.id)
    assert settings.failure_count == 1
    assert settings.next_sync_at - run.finished_at >= dt.timedelta(days=1)
    page = signed_in.get(f"/teams/{team.id}/runs/panel").get_data(as_text=True)
    assert "Auto Sync failed 1 time in a row" in page and "client secret is wrong" in page
    assert "client secret is wrong" in connections.connection_of(team.id).error

    connect_again(app, team)
    SyncRun.update(finished_at=run.finished_at - dt.timedelta(days=3)).where(SyncRun.id == run.id).execute()
    next_tick_now(redis_connection)
    scheduler_burst(worker_env)
    run_worker(worker_env)
    assert SyncRun.select().where(SyncRun.team == team.id).order_by(SyncRun.id.desc()).first().status == "succeeded"
    assert SyncSettings.get(SyncSettings.team == team.id).failure_count == 0
    assert connections.connection_of(team.id).error is None


def test_a_one_minute_period_runs_at_every_tick_not_every_other():
    ended_after_its_tick = state(1, finished_minutes_ago=55 / 60)  # the tick a minute ago queued it; it took 5 s
    assert due_teams([ended_after_its_tick], NOW, 1, 1440) == [1]
    assert due_teams([state(1, finished_minutes_ago=25 / 60)], NOW, 1, 1440) == []
    assert due_teams([state(1, "enterprise_app", finished_minutes_ago=1440 - 10 / 60)], NOW, 5, 1440) == [1]


def test_two_schedulers_say_once_that_one_stands_by(worker_env, tmp_path):
    logs = [tmp_path / f"scheduler-{n}.log" for n in (1, 2)]
    files = [open(path, "w") for path in logs]
    schedulers = [subprocess.Popen([str(BIN / "python"), "-m", "worker.scheduler", "--interval", "0.5"], cwd=ROOT,
                                   env=worker_env, stdout=file, stderr=subprocess.STDOUT) for file in files]
    try:
        wait_for(lambda: all("Registering birth" in path.read_text() for path in logs))
        time.sleep(3)  # six rounds each
    finally:
        for scheduler in schedulers:
            scheduler.terminate()
            scheduler.wait(timeout=10)
        for file in files:
            file.close()
    text = "\n".join(path.read_text() for path in logs)
    assert "Lock already taken" not in text
    assert all(path.read_text().count("this one stands by") <= 1 for path in logs), text
