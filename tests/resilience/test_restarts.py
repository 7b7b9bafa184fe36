"""Restarts, as a dyno platform does them, through real worker processes: SIGTERM to every process of the worker
(then SIGKILL 30 s later), or SIGKILL straight away. A run either finishes within the grace period or is handed
back and retried at once; a killed worker's run is retried at the next tick; neither sets the Auto Sync period."""
import os
import signal
import time

import psutil
from rq import Queue
from rq.registry import FailedJobRegistry

from tests.worker.conftest import connect, emails_of, kill_group, run_of, run_worker, start_worker, wait_for
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import WORKER_STOPPED, queue_run
from webapp.engine.schedule import auto_sync_states
from webapp.models import SyncRun, SyncSettings
from worker.jobs import HANDED_BACK

GROUP_USERS = "transitiveMembers/microsoft.graph.user"
PLATFORM_KILLS_AFTER = 30


def runs_of(team):
    return list(SyncRun.select().where(SyncRun.team == team.id).order_by(SyncRun.id))


def sigterm_every_process(worker):
    """What the platform does on a restart or deploy: SIGTERM to the worker and to its work horse alike."""
    for pid in [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]:
        os.kill(pid, signal.SIGTERM)


def auto_sync_on(team):
    SyncSettings.update(auto_sync=True).where(SyncSettings.team == team.id).execute()


def exits_within(process, seconds):
    started = time.monotonic()
    process.wait(timeout=seconds)
    return time.monotonic() - started


def test_a_sync_running_at_sigterm_finishes_within_the_grace_period_and_the_worker_takes_no_new_job(
        app, synced_team, make_team, redis_connection, worker_env, fake_entra, tmp_path):
    fake_entra.control.inject(delay=3.0, path=GROUP_USERS)
    other = make_team("Waiting Academy")
    connect(app, other)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(dict(worker_env, WORKER_GRACE_SECONDS="20"), log=log)
    try:
        run = queue_run(synced_team.id, "manual", redis_connection)
        wait_for(lambda: run_of(run.id).status == "running", timeout=30)
        sigterm_every_process(worker)
        waiting = queue_run(other.id, "manual", redis_connection)
        assert exits_within(worker, PLATFORM_KILLS_AFTER) < 20, log_path.read_text()
    finally:
        if worker.poll() is None:
            kill_group(worker)
    assert run_of(run.id).status == "succeeded", log_path.read_text()
    assert emails_of(synced_team) >= TRAINING
    assert run_of(waiting.id).status == "queued", "a worker told to stop starts no new sync"


def test_a_sync_that_cannot_finish_in_the_grace_period_is_handed_back_and_retried_at_once(
        app, synced_team, redis_connection, worker_env, fake_entra, tmp_path):
    auto_sync_on(synced_team)
    fake_entra.control.inject(delay=20.0, path=GROUP_USERS, count=None)
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = start_worker(dict(worker_env, WORKER_GRACE_SECONDS="2"), log=log)
    try:
        run = queue_run(synced_team.id, "auto", redis_connection)
        wait_for(lambda: run_of(run.id).status == "running", timeout=30)
        time.sleep(1)  # the run is waiting on Microsoft
        sigterm_every_process(worker)
        assert exits_within(worker, PLATFORM_KILLS_AFTER) < 10, log_path.read_text()
    finally:
        if worker.poll() is None:
            kill_group(worker)
    interrupted = run_of(run.id)
    assert (interrupted.status, interrupted.interrupted) == ("failed", True), log_path.read_text()
    assert interrupted.error.startswith(HANDED_BACK)
    assert FailedJobRegistry(queue=Queue("sync", connection=redis_connection)).count == 1, "RQ counts it failed"
    retry = runs_of(synced_team)[-1]
    assert (retry.trigger, retry.status) == ("retry", "queued"), "handed back: queued again at once"
    assert [state.last_finished_at for state in auto_sync_states([synced_team.id])] == [None], \
        "an interrupted run does not start the Auto Sync period"

    fake_entra.control.clear_faults()
    assert run_worker(worker_env).returncode == 0  # the restarted worker
    assert run_of(retry.id).status == "succeeded"
    assert emails_of(synced_team) >= TRAINING


def test_a_killed_workers_run_is_retried_at_the_next_tick(app, synced_team, redis_connection, worker_env,
                                                          fake_entra, tmp_path):
    auto_sync_on(synced_team)
    fake_entra.control.inject(delay=20.0, path=GROUP_USERS, count=None)
    worker = start_worker(worker_env)
    try:
        run = queue_run(synced_team.id, "auto", redis_connection)
        wait_for(lambda: run_of(run.id).status == "running", timeout=30)
    finally:
        kill_group(worker)  # SIGKILL: no chance to hand anything back
    fake_entra.control.clear_faults()
    time.sleep(3)  # the run's team lock (2 s in these tests) expires

    Queue("sync", connection=redis_connection).enqueue("worker.jobs.tick")
    assert run_worker(worker_env).returncode == 0

    killed = run_of(run.id)
    assert (killed.status, killed.interrupted, killed.error) == ("failed", True, WORKER_STOPPED)
    retry = runs_of(synced_team)[-1]
    assert (retry.trigger, retry.status) == ("retry", "succeeded")
    assert emails_of(synced_team) >= TRAINING
    assert [state.last_finished_at for state in auto_sync_states([synced_team.id])] == [retry.finished_at]


