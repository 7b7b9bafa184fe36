"""Starting a team's sync run once, noticing runs whose worker stopped, and queueing again the runs whose job
Redis lost (it keeps nothing on disk: a restart empties it)."""

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
JOB_TIMEOUT = 3 * 3600
ENQUEUE_LOCK_SECONDS = 30
WORKER_STOPPED = ("The worker stopped before the sync finished (a restart, a deploy or a crash); it is tried again "
                  "within two minutes.")
PERSON_WORKER_STOPPED = ("The worker stopped before this one-person sync finished (a restart, a deploy or a crash). "
                         "Press Sync this person now again.")
JOB_LOST = "The queued sync was lost before a worker started it."
JOB_LOST_TOO_OLD = ("The queued sync was lost (the job queue restarted empty) and had waited too long to be started "
                    "again. Press Sync to start a new one.")
PERSON_JOB_LOST = ("This one-person sync was lost (the job queue restarted empty) before a worker started it. "
                   "Press Sync this person now again.")
APPLIED_BEFORE = " The changes it made before it stopped are listed in its history."
HISTORY_DAYS = 30
MAX_RETRIES = 3

log = logging.getLogger(__name__)


def team_lock_key(team_id):
    """The Redis key a running sync of the team holds, its value the run id."""
    return f"entra-sync:team:{team_id}:running"


def job_id_for(run_id):
    return f"sync-run-{run_id}"


def _job_status(run, connection):
    """The status of the run's RQ job, or None when Redis no longer holds it."""
    try:
        return Job.fetch(run.job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _why_lost(run, connection, requeue_within):
    """Why a queued run's job can no longer start, or None. A job Redis lost is given up on only past
    `requeue_within` (the scheduler queues it again until then), or at once when `requeue_within` is None."""
    status = _job_status(run, connection)
    if status is None:
        if requeue_within is None:
            return JOB_LOST
        if run.trigger == "person":  # the person is not recorded on the run, so it cannot be queued again
            return PERSON_JOB_LOST
        return JOB_LOST_TOO_OLD if run.created_at < utcnow() - requeue_within else None
    return JOB_LOST if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) else None


def failure_message(run_id, message):
    """The message of a run that failed, saying so when it had changed members before it stopped."""
    run = SyncRun.select(SyncRun.added, SyncRun.updated, SyncRun.removed).where(SyncRun.id == run_id).first()
    if run is not None and (run.added or run.updated or run.removed):
        return message + APPLIED_BEFORE
    return message


def fail_run(run_id, message, interrupted=False):
    """Record that a run ended without finishing, unless it already ended; `interrupted` when its worker stopped."""
    return SyncRun.update(status="failed", error=failure_message(run_id, message), finished_at=utcnow(),
                          progress="", interrupted=interrupted).where(
        (SyncRun.id == run_id) & SyncRun.status.in_(ACTIVE)).execute()


def worker_stopped(run):
    """Why the run is failed when its worker stopped mid-run."""
    return PERSON_WORKER_STOPPED if run.trigger == "person" else WORKER_STOPPED


def stale_runs(team_id: int, connection, requeue_within: dt.timedelta | None = None) -> dict[int, str]:
    """{run id: why} of the team's runs whose worker stopped (lock expired) or whose job vanished; reads only.

    With `requeue_within`, a queued run younger than that whose job Redis lost is not stale: the scheduler queues
    it again (requeue_lost_runs)."""
    holder = connection.get(team_lock_key(team_id))
    holder = int(holder) if holder else None
    stale = {}
    just_queued = utcnow() - dt.timedelta(seconds=ENQUEUE_LOCK_SECONDS)
    for run in SyncRun.select().where((SyncRun.team == team_id) & SyncRun.status.in_(ACTIVE)):
        if run.id == holder or (run.status == "queued" and run.created_at > just_queued):
            continue
        if run.status == "running":
            stale[run.id] = worker_stopped(run)
        elif why := _why_lost(run, connection, requeue_within):
            stale[run.id] = why
    return stale


def reap_stale_runs(team_id, connection):
    """Fail the team's runs whose worker stopped (lock expired: interrupted) or whose job vanished; returns how
    many."""
    return sum(fail_run(run_id, message, interrupted=message in (WORKER_STOPPED, PERSON_WORKER_STOPPED))
               for run_id, message in stale_runs(team_id, connection).items())


def retry_interrupted(team_id, connection):
    """Queue a "retry" run when the team's latest run was interrupted (its worker stopped), unless that already
    happened MAX_RETRIES times in a row or the run cannot be asked for again (one person); returns the run or None."""
    latest = list(SyncRun.select(SyncRun.trigger, SyncRun.interrupted).where(SyncRun.team == team_id)
                  .order_by(SyncRun.id.desc()).limit(MAX_RETRIES + 1))
    if not latest or not latest[0].interrupted or latest[0].trigger == "person":
        return None
    in_a_row = next((at for at, run in enumerate(latest) if not run.interrupted), len(latest))
    if in_a_row > MAX_RETRIES:
        log.warning("Team %s: %s runs in a row were interrupted; not retrying again", team_id, in_a_row,
                    extra={"team_id": team_id})
        return None
    run = start_sync(team_id, "retry", connection)
    log.info("Team %s: its interrupted sync is tried again as run %s", team_id, run.id,
             extra={"team_id": team_id, "run_id": run.id})
    return run


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
        try:
            _enqueue(connection, run, reviewed_run_id, person_id)
        except Exception:
            fail_run(run.id, JOB_LOST)
            raise
    log.info("Queued sync run %s of team %s (%s)", run.id, team_id, trigger,
             extra={"team_id": team_id, "run_id": run.id})
    return run


def _enqueue(connection, run, reviewed_run_id, person_id=None):
    args = (run.team_id, run.id, reviewed_run_id) + ((person_id,) if person_id else ())
    Queue(QUEUE, connection=connection).enqueue(
        JOB, *args, job_id=run.job_id, job_timeout=JOB_TIMEOUT,
        result_ttl=3600, failure_ttl=7 * 24 * 3600, description=f"sync team {run.team_id} (run {run.id})")


def _reviewed_run_id(run):
    """The needs-review run a Confirm removals run confirmed: the team's run just before it (it was the latest)."""
    if run.trigger != "confirm":
        return None
    before = (SyncRun.select(SyncRun.id, SyncRun.status).where((SyncRun.team == run.team_id) & (SyncRun.id < run.id))
              .order_by(SyncRun.id.desc()).first())
    return before.id if before is not None and before.status == "needs_review" else None


def requeue_lost_runs(connection, requeue_within: dt.timedelta) -> list[int]:
    """Queue again the queued runs whose job Redis lost (a restart empties it), or fail those older than
    `requeue_within` with a reason the leader sees; returns the ids queued again.

    Each run is checked again under its team's enqueue lock, so two schedulers (or two ticks) queue it once."""
    just_queued = utcnow() - dt.timedelta(seconds=ENQUEUE_LOCK_SECONDS)
    candidates = SyncRun.select().where((SyncRun.status == "queued") & (SyncRun.created_at <= just_queued))
    requeued = []
    for run in [run for run in candidates if _job_status(run, connection) is None]:
        with connection.lock(f"entra-sync:team:{run.team_id}:enqueue", timeout=ENQUEUE_LOCK_SECONDS,
                             blocking_timeout=ENQUEUE_LOCK_SECONDS):
            run = SyncRun.get_or_none((SyncRun.id == run.id) & (SyncRun.status == "queued"))
            if run is None or _job_status(run, connection) is not None:
                continue
            if run.trigger == "person":
                fail_run(run.id, PERSON_JOB_LOST)
                log.warning("One-person sync run %s of team %s was lost by Redis: failed", run.id, run.team_id)
                continue
            if run.created_at < utcnow() - requeue_within:
                fail_run(run.id, JOB_LOST_TOO_OLD)
                log.warning("Sync run %s of team %s was lost by Redis and is too old to queue again: failed",
                            run.id, run.team_id)
                continue
            if not run.job_id:
                run.job_id = job_id_for(run.id)
                run.save(only=[SyncRun.job_id])
            _enqueue(connection, run, _reviewed_run_id(run))
        log.warning("Sync run %s of team %s was lost by Redis (it restarted empty): queued again", run.id, run.team_id)
        requeued.append(run.id)
    return requeued


def prune_history(days=HISTORY_DAYS):
    """Forget runs, and their per-user outcomes, that ended more than `days` ago; returns how many runs."""
    old = SyncRun.select(SyncRun.id).where(SyncRun.finished_at < utcnow() - dt.timedelta(days=days))
    with database.atomic():
        SyncOutcome.delete().where(SyncOutcome.run.in_(old)).execute()
        return SyncRun.delete().where(SyncRun.id.in_(old)).execute()
