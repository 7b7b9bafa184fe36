"""Starting a team's sync run once, and noticing runs whose worker stopped."""

import datetime as dt
import logging

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from webapp.db import database
from webapp.models import SyncOutcome, SyncRun, SyncSettings, utcnow

QUEUE = "sync"
JOB = "worker.jobs.sync_team"
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "needs_review")
JOB_TIMEOUT = 3 * 3600
ENQUEUE_LOCK_SECONDS = 30
WORKER_STOPPED = "The worker stopped before the sync finished; the next run will complete it."
JOB_LOST = "The queued sync was lost before a worker started it."
APPLIED_BEFORE = " The changes it made before it stopped are listed in its history."
HISTORY_DAYS = 30

log = logging.getLogger(__name__)


def team_lock_key(team_id):
    """The Redis key a running sync of the team holds, its value the run id."""
    return f"entra-sync:team:{team_id}:running"


def job_id_for(run_id):
    return f"sync-run-{run_id}"


def _job_gone(run, connection):
    """Whether the RQ job of a queued run can no longer start."""
    try:
        status = Job.fetch(run.job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return True
    return status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def failure_message(run_id, message):
    """The message of a run that failed, saying so when it had changed members before it stopped."""
    run = SyncRun.select(SyncRun.added, SyncRun.updated, SyncRun.removed).where(SyncRun.id == run_id).first()
    if run is not None and (run.added or run.updated or run.removed):
        return message + APPLIED_BEFORE
    return message


def fail_run(run_id, message):
    """Record that a run ended without finishing, unless it already ended."""
    return SyncRun.update(status="failed", error=failure_message(run_id, message), finished_at=utcnow(),
                          progress="").where((SyncRun.id == run_id) & SyncRun.status.in_(ACTIVE)).execute()


def stale_runs(team_id: int, connection) -> dict[int, str]:
    """{run id: why} of the team's runs whose worker stopped (lock expired) or whose job vanished; reads only."""
    holder = connection.get(team_lock_key(team_id))
    holder = int(holder) if holder else None
    stale = {}
    just_queued = utcnow() - dt.timedelta(seconds=ENQUEUE_LOCK_SECONDS)
    for run in SyncRun.select().where((SyncRun.team == team_id) & SyncRun.status.in_(ACTIVE)):
        if run.id == holder or (run.status == "queued" and run.created_at > just_queued):
            continue
        if run.status == "running":
            stale[run.id] = WORKER_STOPPED
        elif _job_gone(run, connection):
            stale[run.id] = JOB_LOST
    return stale


def reap_stale_runs(team_id, connection):
    """Fail the team's runs whose worker stopped (lock expired) or whose job vanished; returns how many."""
    return sum(fail_run(run_id, message) for run_id, message in stale_runs(team_id, connection).items())


def active_run(team_id):
    """The team's queued or running run, if any."""
    return (SyncRun.select().where((SyncRun.team == team_id) & SyncRun.status.in_(ACTIVE))
            .order_by(SyncRun.id.desc()).first())


def start_sync(team_id, trigger, connection, reviewed_run_id=None, person_id=None):
    """Queue a sync of the team (of one person of the tenant, with `person_id`), or return the run already queued
    or running: never two at once."""
    with connection.lock(f"entra-sync:team:{team_id}:enqueue", timeout=ENQUEUE_LOCK_SECONDS,
                         blocking_timeout=ENQUEUE_LOCK_SECONDS):
        reap_stale_runs(team_id, connection)
        run = active_run(team_id)
        if run is not None:
            return run
        settings = SyncSettings.get_or_none(SyncSettings.team == team_id)
        with database.atomic():
            run = SyncRun.create(team=team_id, trigger=trigger, status="queued",
                                 group_id=settings.group_id if settings else None)
            run.job_id = job_id_for(run.id)
            run.save()
        args = (team_id, run.id, reviewed_run_id) + ((person_id,) if person_id else ())
        try:
            Queue(QUEUE, connection=connection).enqueue(
                JOB, *args, job_id=run.job_id, job_timeout=JOB_TIMEOUT,
                result_ttl=3600, failure_ttl=7 * 24 * 3600, description=f"sync team {team_id} (run {run.id})")
        except Exception:
            fail_run(run.id, JOB_LOST)
            raise
    log.info("Queued sync run %s of team %s (%s)", run.id, team_id, trigger)
    return run


def prune_history(days=HISTORY_DAYS):
    """Forget runs, and their per-user outcomes, that ended more than `days` ago; returns how many runs."""
    old = SyncRun.select(SyncRun.id).where(SyncRun.finished_at < utcnow() - dt.timedelta(days=days))
    with database.atomic():
        SyncOutcome.delete().where(SyncOutcome.run.in_(old)).execute()
        return SyncRun.delete().where(SyncRun.id.in_(old)).execute()
