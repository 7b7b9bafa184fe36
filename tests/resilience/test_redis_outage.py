"""Redis trouble for the worker and the scheduler, through real processes and a real redis-server: down at boot,
stalled 15 s (SIGSTOP), killed and restarted empty. They wait and reconnect, saying so in one line each way,
and a run that was accepted is queued again (once, even with two schedulers) or failed with a reason."""
import datetime as dt
import subprocess
import time

import pytest

from fake_entra import demo
from tests.security.conftest import BIN, ROOT
from tests.worker.conftest import kill_group, run_of, run_worker, start_worker, wait_for
from webapp.engine.lifecycle import JOB_LOST_TOO_OLD, PERSON_JOB_LOST, queue_run
from webapp.models import SyncRun, utcnow

UNREACHABLE = "Redis is unreachable"
BACK = "Redis answers again"
GROUP_USERS = "transitiveMembers/microsoft.graph.user"
NESTED_GROUPS = "transitiveMembers/microsoft.graph.group"


@pytest.fixture
def env(worker_env, own_redis):
    """The worker and scheduler environment of this test, on the test's own Redis server."""
    return dict(worker_env, REDIS_URL=own_redis.url)


def start_scheduler(env, log):
    return subprocess.Popen([str(BIN / "python"), "-m", "worker.scheduler", "--interval", "1"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def log_lines(path, text):
    return [line for line in path.read_text().splitlines() if text in line]


def stop(*processes):
    for process in processes:
        if process.poll() is None:
            kill_group(process)


def test_a_worker_started_while_redis_is_down_waits_then_works(app, synced_team, own_redis, env, tmp_path):
    own_redis.kill()
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(env, log=log)
    try:
        wait_for(lambda: log_lines(log_path, UNREACHABLE), timeout=30)  # it started, found Redis down, and waits
        assert worker.poll() is None, log_path.read_text()
        own_redis.start()
        run = queue_run(synced_team.id, "manual", own_redis.client())
        wait_for(lambda: run_of(run.id).status == "succeeded", timeout=40)
        assert worker.poll() is None
    finally:
        stop(worker)
    assert len(log_lines(log_path, UNREACHABLE)) == 1 and len(log_lines(log_path, BACK)) == 1


def test_a_worker_rides_out_redis_going_down_during_a_sync(app, synced_team, own_redis, env, fake_entra, tmp_path):
    fake_entra.control.inject(delay=8.0, path=NESTED_GROUPS)  # the run waits on Microsoft while Redis goes away
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(env, "--job-monitoring-interval", "2", log=log)
    try:
        interrupted = queue_run(synced_team.id, "manual", own_redis.client())
        wait_for(lambda: run_of(interrupted.id).status == "running", timeout=30)
        own_redis.kill()
        time.sleep(15)
        assert worker.poll() is None, log_path.read_text()
        own_redis.start()
        wait_for(lambda: run_of(interrupted.id).status != "running", timeout=30)
        assert run_of(interrupted.id).error, "the interrupted run says why it stopped"
        fake_entra.control.clear_faults()
        wait_for(lambda: own_redis.client().ping())
        next_run = queue_run(synced_team.id, "manual", own_redis.client())
        wait_for(lambda: run_of(next_run.id).status == "succeeded", timeout=40)
        assert worker.poll() is None
    finally:
        stop(worker)
    assert len(log_lines(log_path, UNREACHABLE)) == 1, log_path.read_text()


def test_a_worker_rides_out_a_15_second_stall_of_redis_during_a_sync(app, synced_team, own_redis, env, fake_entra,
                                                                      tmp_path):
    fake_entra.control.inject(delay=3.0, path=GROUP_USERS)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(env, "--job-monitoring-interval", "2", log=log)
    try:
        stalled = queue_run(synced_team.id, "manual", own_redis.client())
        wait_for(lambda: run_of(stalled.id).status == "running", timeout=30)
        own_redis.stall()
        time.sleep(15)
        own_redis.resume()
        wait_for(lambda: run_of(stalled.id).status not in ("queued", "running"), timeout=30)
        fake_entra.control.clear_faults()
        next_run = queue_run(synced_team.id, "manual", own_redis.client())
        wait_for(lambda: run_of(next_run.id).status == "succeeded", timeout=40)
        assert worker.poll() is None, log_path.read_text()
    finally:
        own_redis.resume()
        stop(worker)
    assert run_of(stalled.id).status == "succeeded" or run_of(stalled.id).error


def test_the_scheduler_rides_out_a_15_second_stall_and_a_restart_of_redis(app, own_redis, env, tmp_path):
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "w") as log:
        scheduler = start_scheduler(env, log)
    client = own_redis.client()
    try:
        wait_for(lambda: client.zcard("rq:scheduler:scheduled_jobs") == 1, timeout=20)
        own_redis.stall()
        time.sleep(15)
        own_redis.resume()
        wait_for(lambda: log_lines(log_path, BACK), timeout=30)
        assert scheduler.poll() is None, log_path.read_text()
        own_redis.kill()
        own_redis.start()  # empty: the periodic job is gone, the scheduler registers it again
        wait_for(lambda: own_redis.client().zcard("rq:scheduler:scheduled_jobs") == 1, timeout=30)
        assert scheduler.poll() is None
    finally:
        own_redis.resume()
        stop(scheduler)
    assert len(log_lines(log_path, UNREACHABLE)) <= 2 and len(log_lines(log_path, BACK)) <= 2
    assert "Traceback" not in log_path.read_text()


def test_a_queued_run_lost_by_a_redis_restart_runs_once_with_two_schedulers(app, synced_team, own_redis, env,
                                                                             tmp_path):
    run = queue_run(synced_team.id, "manual", own_redis.client())
    own_redis.kill()
    own_redis.start()  # empty: the run's job is gone, the database still says it is queued
    SyncRun.update(created_at=utcnow() - dt.timedelta(minutes=2)).where(SyncRun.id == run.id).execute()
    logs = [tmp_path / f"{name}.log" for name in ("scheduler-1", "scheduler-2", "worker-1", "worker-2")]
    files = [open(path, "w") for path in logs]
    processes = [start_scheduler(env, files[0]), start_scheduler(env, files[1]),
                 start_worker(env, log=files[2]), start_worker(env, log=files[3])]
    try:
        wait_for(lambda: run_of(run.id).status == "succeeded", timeout=60)
        time.sleep(3)  # a second tick had its chance to queue it twice
    finally:
        stop(*processes)
        for file in files:
            file.close()
    assert SyncRun.select().where(SyncRun.team == synced_team.id).count() == 1
    dequeued = f"sync: sync team {synced_team.id} (run {run.id})"
    started = [line for path in logs[2:] for line in log_lines(path, dequeued)]
    assert len(started) == 1, started


def test_a_lost_run_too_old_to_start_again_is_failed_with_a_reason(app, synced_team, own_redis, env):
    run = queue_run(synced_team.id, "manual", own_redis.client())
    own_redis.client().flushall()
    SyncRun.update(created_at=utcnow() - dt.timedelta(hours=2)).where(SyncRun.id == run.id).execute()
    assert subprocess.run([str(BIN / "python"), "-m", "worker.scheduler", "--burst"], cwd=ROOT, env=env,
                          timeout=60).returncode == 0
    assert run_worker(env).returncode == 0
    assert (run_of(run.id).status, run_of(run.id).error) == ("failed", JOB_LOST_TOO_OLD)


def test_a_scheduler_started_while_redis_is_down_waits_then_registers_its_jobs(app, own_redis, env, tmp_path):
    own_redis.kill()
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "w") as log:
        scheduler = start_scheduler(env, log)
    try:
        time.sleep(4)
        assert scheduler.poll() is None, log_path.read_text()
        own_redis.start()
        wait_for(lambda: own_redis.client().zcard("rq:scheduler:scheduled_jobs") == 1, timeout=30)
        assert scheduler.poll() is None
    finally:
        stop(scheduler)
    assert len(log_lines(log_path, UNREACHABLE)) == 1 and len(log_lines(log_path, BACK)) == 1


def test_a_lost_one_person_run_is_failed_saying_to_press_it_again(app, synced_team, own_redis, env):
    run = queue_run(synced_team.id, "person", own_redis.client(), person_id=demo.user_id("Alex Wilber"))
    own_redis.client().flushall()
    SyncRun.update(created_at=utcnow() - dt.timedelta(minutes=2)).where(SyncRun.id == run.id).execute()
    assert subprocess.run([str(BIN / "python"), "-m", "worker.scheduler", "--burst"], cwd=ROOT, env=env,
                          timeout=60).returncode == 0
    assert run_worker(env).returncode == 0
    assert (run_of(run.id).status, run_of(run.id).error) == ("failed", PERSON_JOB_LOST)
