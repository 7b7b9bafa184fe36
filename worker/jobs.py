"""RQ jobs: a team's sync run and the scheduler's tick; they take ids and build their own context."""

import datetime as dt
import functools
import logging
import signal
import threading
import time

import redis as redis_lib
from redis.exceptions import LockError, RedisError
from rq import get_current_job
from rq.exceptions import ShutDownImminentException

from webapp import config as settings_module
from webapp import create_app, membership, metrics
from webapp.connections import clear_error, connection_of, graph_client_from_config, note_failure
from webapp.db import database
from webapp.engine import sync
from webapp.engine.runs import (active_run, fail_run, failure_message, prune_history, reap_stale_runs,
                                requeue_lost_runs, retry_interrupted, start_sync, team_lock_key, worker_stopped)
from webapp.engine.schedule import auto_sync_states, due_teams, interval_minutes, next_sync_after
from webapp.engine.tracking import GroupTracker
from webapp.microsoft import MicrosoftError
from webapp.models import SyncRun, SyncSettings, utcnow
from webapp.notify.events import after_run
from worker.health import queue_due_checks

log = logging.getLogger(__name__)

ANOTHER_RUN = "Another sync of this team was already running."
NOT_CONNECTED = "The team is not connected to Microsoft: connect it on the Azure Entra Sync page."
UNEXPECTED = "The sync stopped on an unexpected error. It will be tried again."
LOCK_LOST = "The sync lost its hold on the team (Redis was unreachable too long) and stopped writing."
REDIS_LOST = "The sync stopped because the job queue (Redis) could not be reached. It will be tried again."
HANDED_BACK = ("The worker was restarting and the sync could not finish in time; it stopped and is tried again "
               "within a minute.")


class SyncFailed(Exception):
    """Raised after a failed run is recorded, so that RQ counts its job as failed too."""


class LockLost(Exception):
    """The team lock expired while the run was still working."""


class TeamLock:
    """The team's Redis lock, valued with the run id, renewed by a heartbeat thread while the run works.

    The run may write only while the lock surely holds: until a third of its lifetime before the last renewal
    that Redis confirmed would expire. A stalled Redis thus stops the writes before another worker can take over.
    """

    def __init__(self, connection, team_id, run_id, seconds, clock=time.monotonic):
        self.lock = connection.lock(team_lock_key(team_id), timeout=seconds, thread_local=False)
        self.run_id = run_id
        self.seconds = seconds
        self.clock = clock
        self.holds_until = 0.0
        self.lost = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"lock-team-{team_id}")

    def acquire(self):
        """Take the lock without waiting; start renewing it."""
        asked = self.clock()
        if not self.lock.acquire(blocking=False, token=str(self.run_id)):
            return False
        self.holds_until = asked + self.seconds * 2 / 3
        self.thread.start()
        return True

    def _beat(self):
        failing = False
        while not self.stopped.wait(self.seconds / 3):
            asked = self.clock()
            try:
                self.lock.reacquire()
            except LockError:
                self.lost.set()
                return
            except RedisError:
                if not failing:
                    log.warning("Could not renew the team lock of run %s (Redis unreachable); retrying", self.run_id)
                    failing = True
                continue
            failing = False
            self.holds_until = asked + self.seconds * 2 / 3

    def check(self):
        """Raise LockLost unless the lock surely still holds."""
        if self.lost.is_set() or self.clock() > self.holds_until:
            self.lost.set()
            raise LockLost()

    def release(self):
        self.stopped.set()
        self.thread.join()
        try:
            self.lock.release()
        except (LockError, RedisError):
            log.warning("The team lock of run %s had already expired", self.run_id)


@functools.cache
def worker_app():
    """The portal's app, built by create_app from the environment as the web builds it; once a process."""
    return create_app()


def context():
    """Settings, secret box and Redis for a job, from the worker's app."""
    app = worker_app()
    job = get_current_job()
    connection = job.connection if job else redis_lib.Redis.from_url(
        app.config["REDIS_URL"], **settings_module.redis_options(app.config["REDIS_URL"], app.config))
    return app.config, app.extensions["secret_box"], connection


class Progress:
    """Reports a run's progress: checks the lock every time, writes what the page shows at most twice a second."""

    every_seconds = 0.5

    def __init__(self, run_id, lock, job):
        self.run_id, self.lock, self.job = run_id, lock, job
        self.written_at = 0.0
        self.pending = None

    def __call__(self, message):
        self.lock.check()
        self.pending = message
        if time.monotonic() - self.written_at >= self.every_seconds:
            self.flush()

    def flush(self):
        """Write the latest message now."""
        if self.pending is None:
            return
        self.written_at = time.monotonic()
        SyncRun.update(progress=self.pending[:255]).where(SyncRun.id == self.run_id).execute()
        if self.job is not None:
            self.job.meta["progress"] = self.pending
            self.job.save_meta()
        self.pending = None


def _record_schedule(team_id, method, failed, config):
    """Reset or grow the team's Auto Sync back-off and note when it runs next."""
    row = SyncSettings.get_or_none(SyncSettings.team == team_id)
    if row is None:
        return
    failures = row.failure_count + 1 if failed else 0
    minutes = interval_minutes(method, config["OAUTH_SYNC_MINUTES"], config["ENTERPRISE_APP_SYNC_MINUTES"])
    SyncSettings.update(failure_count=failures, next_sync_at=next_sync_after(utcnow(), minutes, failures)).where(
        SyncSettings.id == row.id).execute()


def _begin(team_id, run_id):
    """Mark the run running and fail the team's other active runs: holding the lock proves their worker stopped."""
    started = SyncRun.update(status="running", started_at=utcnow(), progress="Starting").where(
        (SyncRun.id == run_id) & (SyncRun.status == "queued")).execute()
    stopped = SyncRun.select(SyncRun.id, SyncRun.trigger).where(
        (SyncRun.team == team_id) & (SyncRun.id != run_id) & (SyncRun.status == "running"))
    for run in stopped:
        fail_run(run.id, worker_stopped(run), interrupted=True)
    return started


def sync_team(team_id, run_id, reviewed_run_id=None, person_id=None):
    """Sync one team's members with its Sync Group (or one person of the tenant), at most one run per team at a
    time."""
    config, secret_box, connection = context()
    with database.connection_context():
        lock = TeamLock(connection, team_id, run_id, config["SYNC_LOCK_SECONDS"])
        if not lock.acquire():
            fail_run(run_id, ANOTHER_RUN)
            raise SyncFailed(f"Sync run {run_id} of team {team_id}: {ANOTHER_RUN}")
        try:
            status = _run(team_id, run_id, reviewed_run_id, person_id, config, secret_box, connection, lock)
        finally:
            lock.release()
        if status == "interrupted":
            retry_interrupted(team_id, connection)
    if status in ("failed", "interrupted"):
        raise SyncFailed(f"Sync run {run_id} of team {team_id} {status}")
    return status


def _run(team_id, run_id, reviewed_run_id, person_id, config, secret_box, connection, lock):
    if not _begin(team_id, run_id):
        return "not queued"
    ids = {"team_id": team_id, "run_id": run_id}
    log.info("Sync run %s of team %s started", run_id, team_id, extra=ids)
    entra = connection_of(team_id)
    graph = None
    status, error, mode = "failed", None, None
    try:
        if entra is None:
            raise sync.SyncNotReady(NOT_CONNECTED)
        graph = graph_client_from_config(entra, secret_box, config, redis=connection)
        guard = (config["DELETION_GUARD_PERCENT"], config["DELETION_GUARD_MINIMUM"], config["DELETION_GUARD_MAXIMUM"])
        progress = Progress(run_id, lock, get_current_job())
        tracker = GroupTracker(connection, team_id, config["SYNC_FULL_PASS_HOURS"] * 3600)
        plan, _, mode = sync.sync_team(team_id, run_id, entra, graph, guard, progress, reviewed_run_id,
                                       redis=connection, tracker=tracker, fence=lock.check, person_id=person_id)
        progress.flush()
        status = "needs_review" if plan.needs_review else "succeeded"
        if entra.error:
            clear_error(entra.id)
    except MicrosoftError as exc:
        error = exc.message
        note_failure(entra, exc)
        log.warning("Sync run %s of team %s failed: %r", run_id, team_id, exc, extra=ids)
    except sync.SyncNotReady as exc:
        error = exc.message
    except LockLost:
        error = LOCK_LOST
    except RedisError as exc:
        error = REDIS_LOST
        log.warning("Sync run %s of team %s stopped: Redis unreachable (%s)", run_id, team_id, type(exc).__name__,
                    extra=ids)
    except ShutDownImminentException:
        status, error = "interrupted", HANDED_BACK
        log.warning("Sync run %s of team %s stopped: the worker is shutting down", run_id, team_id, extra=ids)
    except Exception:
        error = UNEXPECTED
        log.exception("Sync run %s of team %s failed", run_id, team_id, extra=ids)
    finally:
        signal.alarm(0)  # the shutdown alarm (see worker.rq_worker) must not cut the recording of the run short
        values = {"graph_requests": graph.request_count} if graph is not None else {}
        failed = status in ("failed", "interrupted")
        if failed:
            error = failure_message(run_id, error)
        SyncRun.update(status="failed" if failed else status, error=error, finished_at=utcnow(), progress="",
                       mode=mode, interrupted=status == "interrupted", **values).where(SyncRun.id == run_id).execute()
        if failed:
            _note_membership_change(connection, team_id)
        _count_run(connection, run_id, status, graph)
        if status != "interrupted":
            _record_schedule(team_id, entra.method if entra else None, failed, config)
            after_run(config, team_id, run_id)
    log.info("Sync run %s of team %s ended: %s", run_id, team_id, status, extra=ids)
    return status


def _count_run(connection, run_id, status, graph):
    """Add the ended run to the metrics every worker shares (in Redis)."""
    run = SyncRun.select(SyncRun.created_at, SyncRun.started_at, SyncRun.finished_at).where(SyncRun.id == run_id).get()
    try:
        metrics.record_run(connection, status, (run.finished_at - run.started_at).total_seconds(),
                           (run.started_at - run.created_at).total_seconds(), graph.request_count if graph else 0,
                           graph.throttled_count if graph else 0)
    except RedisError:
        log.warning("Could not count run %s in the metrics (Redis unreachable)", run_id, extra={"run_id": run_id})


def _note_membership_change(connection, team_id):
    """After a failed run, which may have changed some members, let caches derived from the team's members
    know they may be stale (a run that ends normally marks the change itself)."""
    try:
        membership.changed(connection, team_id)
    except RedisError:
        log.warning("Could not mark team %s as changed in Redis", team_id)


def tick():
    """Every minute: queue again the runs Redis lost, fail runs whose worker stopped and try them again, queue the
    automatic syncs and health checks that are due, forget old runs."""
    config, _, connection = context()
    with database.connection_context():
        requeue_lost_runs(connection, dt.timedelta(hours=config["QUEUED_RUN_REQUEUE_HOURS"]))
        stale_teams = {row[0] for row in SyncRun.select(SyncRun.team).where(
            SyncRun.status.in_(("queued", "running"))).tuples()}
        for team_id in stale_teams:
            if reap_stale_runs(team_id, connection):
                retry_interrupted(team_id, connection)
        due = due_teams(auto_sync_states(), utcnow(), config["OAUTH_SYNC_MINUTES"],
                        config["ENTERPRISE_APP_SYNC_MINUTES"])
        started = [start_sync(team_id, "auto", connection).id for team_id in due if active_run(team_id) is None]
        queue_due_checks(connection, config)
        prune_history()
    return started
