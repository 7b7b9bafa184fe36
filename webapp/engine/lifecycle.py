"""A sync run's life, and the team lock that keeps it one at a time: queued once per team, worked under the lock
while its progress shows, ended with what happened; runs whose worker stopped or whose job Redis lost are failed or
queued again; old runs are forgotten.

`redis` is the Redis client everywhere here; "connection" is only ever a team's Entra connection.
"""

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection
from typing import cast

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock
from peewee import Value
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import EnqueueData

from webapp.db import database
from webapp.engine.schedule import interval_minutes, next_sync_after
from webapp.models import SyncOutcome, SyncRun, SyncSettings, utcnow

QUEUE = "sync"
JOB = "worker.jobs.sync_team"  # the job's name is kept in Redis with each queued job: renaming it loses those
ACTIVE = ("queued", "running")
JOB_TIMEOUT = 3 * 3600
IN_PROCESS = "in_process"  # a job's meta flag: the worker runs it in its own process, without forking
IN_PROCESS_TIMEOUT = 15 * 60
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


def team_lock_key(team_id: int) -> str:
    """The Redis key a running sync of the team holds, its value the run id."""
    return f"entra-sync:team:{team_id}:running"


def job_id_for(run_id: int) -> str:
    return f"sync-run-{run_id}"


def _enqueue_lock_key(team_id: int) -> str:
    return f"entra-sync:team:{team_id}:enqueue"


def _enqueue_lock(redis: Redis, team_id: int) -> Lock:
    """Held while a run of the team is queued, so two requests (or two schedulers) never queue two."""
    return redis.lock(_enqueue_lock_key(team_id), timeout=ENQUEUE_LOCK_SECONDS, blocking_timeout=ENQUEUE_LOCK_SECONDS)


RELEASE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


# Queued

def active_run(team_id: int) -> SyncRun | None:
    """The team's queued or running run, if any."""
    return (SyncRun.select().where((SyncRun.team == team_id) & SyncRun.status.in_(ACTIVE))
            .order_by(SyncRun.id.desc()).first())


def queue_run(team_id: int, trigger: str, redis: Redis, reviewed_run_id: int | None = None,
              person_id: str | None = None) -> SyncRun:
    """Queue a sync run of the team (of one person of the tenant, with `person_id`), or return the run already
    queued or running: never two at once."""
    with _enqueue_lock(redis, team_id):
        reap_stale_runs(team_id, redis)
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
            _enqueue(redis, run, reviewed_run_id, person_id)
        except Exception:
            fail_run(run.id, JOB_LOST)
            raise
    log.info("Queued sync run %s of team %s (%s)", run.id, team_id, trigger,
             extra={"team_id": team_id, "run_id": run.id})
    return run


def _job_data(team_id: int, run_id: int, reviewed_run_id: int | None, person_id: str | None = None,
              in_process: bool = False) -> EnqueueData:
    """The RQ job of a run; `in_process` for a short one the worker runs without forking (and a shorter timeout)."""
    args = (team_id, run_id, reviewed_run_id) + ((person_id,) if person_id else ())
    return Queue.prepare_data(JOB, args, timeout=IN_PROCESS_TIMEOUT if in_process else JOB_TIMEOUT, result_ttl=3600,
                              failure_ttl=7 * 24 * 3600, description=f"sync team {team_id} (run {run_id})",
                              job_id=job_id_for(run_id), meta={IN_PROCESS: True} if in_process else None)


def _enqueue(redis: Redis, run: SyncRun, reviewed_run_id: int | None, person_id: str | None = None) -> None:
    Queue(QUEUE, connection=redis).enqueue_many([_job_data(run.team_id, run.id, reviewed_run_id, person_id)])


def queue_auto_runs(team_ids: list[int], redis: Redis, in_process: Collection[int] = ()) -> list[int]:
    """Queue an "auto" run of each team, in this order, with a few queries and one Redis pipeline whatever their
    number; returns the run ids. A team with a run queued or running, or being queued right now by someone else,
    is left out. The runs of teams in `in_process` are worked without a fork."""
    token = uuid.uuid4().hex
    locked = _take_enqueue_locks(redis, team_ids, token)
    try:
        busy = {row[0] for row in SyncRun.select(SyncRun.team).where(
            SyncRun.team.in_(locked) & SyncRun.status.in_(ACTIVE)).tuples()} if locked else set()
        teams = [team_id for team_id in locked if team_id not in busy]
        runs = _create_auto_runs(teams)
        try:
            Queue(QUEUE, connection=redis).enqueue_many(
                [_job_data(team_id, run_id, None, in_process=team_id in in_process) for team_id, run_id in runs])
        except Exception:
            for _, run_id in runs:
                fail_run(run_id, JOB_LOST)
            raise
    finally:
        _release_enqueue_locks(redis, locked, token)
    log.info("Queued %s automatic sync runs", len(runs))
    return [run_id for _, run_id in runs]


def _take_enqueue_locks(redis: Redis, team_ids: list[int], token: str) -> list[int]:
    """Take the enqueue locks of the teams in one round trip; returns the teams whose lock this took, in order."""
    pipe = redis.pipeline(transaction=False)
    for team_id in team_ids:
        pipe.set(_enqueue_lock_key(team_id), token, nx=True, px=ENQUEUE_LOCK_SECONDS * 1000)
    return [team_id for team_id, taken in zip(team_ids, pipe.execute()) if taken]


def _release_enqueue_locks(redis: Redis, team_ids: list[int], token: str) -> None:
    """Give back the enqueue locks this took (a lock that expired and was taken by another is left alone)."""
    release = redis.register_script(RELEASE_IF_OURS)
    pipe = redis.pipeline(transaction=False)
    for team_id in team_ids:
        release(keys=[_enqueue_lock_key(team_id)], args=[token], client=pipe)
    pipe.execute()


def _create_auto_runs(team_ids: list[int]) -> list[tuple[int, int]]:
    """Create the teams' queued "auto" runs in one transaction; returns (team id, run id) in the teams' order."""
    if not team_ids:
        return []
    groups = dict(SyncSettings.select(SyncSettings.team, SyncSettings.group_id).where(
        SyncSettings.team.in_(team_ids)).tuples())
    now = utcnow()
    with database.atomic():
        created = SyncRun.insert_many(
            [{"team": team_id, "trigger": "auto", "status": "queued", "group_id": groups.get(team_id),
              "created_at": now} for team_id in team_ids]).returning(SyncRun.id, SyncRun.team).tuples().execute()
        runs = sorted(((team_id, run_id) for run_id, team_id in created), key=lambda pair: pair[1])
        SyncRun.update(job_id=Value("sync-run-").concat(SyncRun.id.cast("TEXT"))).where(
            SyncRun.id.in_([run_id for _, run_id in runs])).execute()
    return runs


# Running

class LockLost(Exception):
    """The team lock expired while the run was still working."""


def tenant_slots_key(tenant_id: str) -> str:
    """The Redis sorted set of the runs working on the tenant: run id scored by when its slot expires (ms)."""
    return f"entra-sync:tenant:{tenant_id}:running"


# Forget the expired slots, then take (or renew) this run's if it holds one or one is free; Redis' clock for all.
TAKE_SLOT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""


class TenantSlot:
    """One of the TENANT_SYNC_LIMIT places for a run working on an Entra tenant, across all workers, so one busy
    tenant's teams do not spend the app's throttling budget for that tenant all at once. A slot expires unless
    renewed (with the team lock), so a killed worker's slot frees itself."""

    def __init__(self, redis: Redis, tenant_id: str, run_id: int, limit: int, seconds: float) -> None:
        self.redis, self.key, self.member, self.limit = redis, tenant_slots_key(tenant_id), str(run_id), limit
        self.milliseconds = int(seconds * 1000)
        self.script = redis.register_script(TAKE_SLOT)

    def take(self) -> bool:
        """Take a free slot, or renew the one this run holds; False when every slot is taken."""
        return bool(self.script(keys=[self.key], args=[self.member, self.limit, self.milliseconds]))

    def release(self) -> None:
        self.redis.zrem(self.key, self.member)


class HeldRun:
    """A run being worked under its team's lock: a heartbeat thread renews the lock (valued with the run id) and the
    run's progress is written where the page shows it, at most twice a second.

    The run may write only while the lock surely holds: until a third of its lifetime before the last renewal
    that Redis confirmed would expire. A stalled Redis thus stops the writes before another worker can take over.
    """

    progress_every_seconds = 0.5

    def __init__(self, redis: Redis, team_id: int, run_id: int, lock_seconds: float, job: Job | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.redis, self.team_id, self.run_id, self.job = redis, team_id, run_id, job
        self.lock = redis.lock(team_lock_key(team_id), timeout=lock_seconds, thread_local=False)
        self.seconds, self.clock = lock_seconds, clock
        self.holds_until = 0.0
        self.lost, self.stopped = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"lock-team-{team_id}")
        self.written_at = 0.0
        self.pending: str | None = None
        self.slot: TenantSlot | None = None

    def take_tenant_slot(self, tenant_id: str, limit: int) -> bool:
        """Take one of the tenant's slots, renewed with the team lock and given back with it; False: none free."""
        slot = TenantSlot(self.redis, tenant_id, self.run_id, limit, self.seconds)
        if not slot.take():
            return False
        self.slot = slot
        return True

    def acquire(self) -> bool:
        """Take the team lock without waiting (False: another run holds it); start renewing it."""
        asked = self.clock()
        if not self.lock.acquire(blocking=False, token=str(self.run_id)):
            return False
        self.holds_until = asked + self.seconds * 2 / 3
        self.thread.start()
        return True

    def _beat(self) -> None:
        failing = False
        while not self.stopped.wait(self.seconds / 3):
            asked = self.clock()
            try:
                self.lock.reacquire()
                if self.slot is not None:
                    self.slot.take()
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

    def fence(self) -> None:
        """Raise LockLost unless the lock surely still holds; called before every write."""
        if self.lost.is_set() or self.clock() > self.holds_until:
            self.lost.set()
            raise LockLost()

    def progress(self, message: str) -> None:
        """Show what the run is doing (checking the lock each time)."""
        self.fence()
        self.pending = message
        if time.monotonic() - self.written_at >= self.progress_every_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the latest progress message now."""
        if self.pending is None:
            return
        self.written_at = time.monotonic()
        SyncRun.update(progress=self.pending[:255]).where(SyncRun.id == self.run_id).execute()
        if self.job is not None:
            self.job.meta["progress"] = self.pending
            self.job.save_meta()
        self.pending = None

    def release(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        try:
            if self.slot is not None:
                self.slot.release()
            self.lock.release()
        except (LockError, RedisError):
            log.warning("The team lock of run %s had already expired", self.run_id)


def begin_run(team_id: int, run_id: int) -> bool:
    """Mark the run running and fail the team's other running runs: holding the lock proves their worker stopped.
    False when the run was not queued (it ended meanwhile)."""
    started = SyncRun.update(status="running", started_at=utcnow(), progress="Starting").where(
        (SyncRun.id == run_id) & (SyncRun.status == "queued")).execute()
    stopped = SyncRun.select(SyncRun.id, SyncRun.trigger).where(
        (SyncRun.team == team_id) & (SyncRun.id != run_id) & (SyncRun.status == "running"))
    for run in stopped:
        fail_run(run.id, worker_stopped(run), interrupted=True)
    return bool(started)


# Ended

def end_run(run_id: int, status: str, error: str | None, mode: str | None, graph_requests: int | None) -> None:
    """Record how the run ended: "succeeded", "needs_review", "failed" or "interrupted" (failed, its worker
    stopping)."""
    failed = status in ("failed", "interrupted")
    values = {"graph_requests": graph_requests} if graph_requests is not None else {}
    SyncRun.update(status="failed" if failed else status, error=failure_message(run_id, error) if failed else error,
                   finished_at=utcnow(), progress="", mode=mode, interrupted=status == "interrupted",
                   **values).where(SyncRun.id == run_id).execute()


def record_schedule(team_id: int, method: str | None, failed: bool, oauth_minutes: int,
                    enterprise_minutes: int) -> None:
    """After a run ended: reset or grow the team's Auto Sync back-off and note when it runs next."""
    row = SyncSettings.get_or_none(SyncSettings.team == team_id)
    if row is None:
        return
    failures = row.failure_count + 1 if failed else 0
    minutes = interval_minutes(method, oauth_minutes, enterprise_minutes)
    SyncSettings.update(failure_count=failures, next_sync_at=next_sync_after(utcnow(), minutes, failures)).where(
        SyncSettings.id == row.id).execute()


def failure_message(run_id: int, message: str | None) -> str | None:
    """The message of a run that failed, saying so when it had changed members before it stopped."""
    run = SyncRun.select(SyncRun.added, SyncRun.updated, SyncRun.removed).where(SyncRun.id == run_id).first()
    if message and run is not None and (run.added or run.updated or run.removed):
        return message + APPLIED_BEFORE
    return message


def fail_run(run_id: int, message: str, interrupted: bool = False) -> int:
    """Record that a run ended without finishing, unless it already ended; `interrupted` when its worker stopped."""
    return SyncRun.update(status="failed", error=failure_message(run_id, message), finished_at=utcnow(),
                          progress="", interrupted=interrupted).where(
        (SyncRun.id == run_id) & SyncRun.status.in_(ACTIVE)).execute()


def worker_stopped(run: SyncRun) -> str:
    """Why the run is failed when its worker stopped mid-run."""
    return PERSON_WORKER_STOPPED if run.trigger == "person" else WORKER_STOPPED


# Noticed when their worker stopped or Redis lost their job

def _job_status(run: SyncRun, redis: Redis) -> JobStatus | None:
    """The status of the run's RQ job, or None when Redis no longer holds it."""
    try:
        return Job.fetch(run.job_id, connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _why_lost(run: SyncRun, redis: Redis, requeue_within: dt.timedelta | None) -> str | None:
    """Why a queued run's job can no longer start, or None. A job Redis lost is given up on only past
    `requeue_within` (the scheduler queues it again until then), or at once when `requeue_within` is None."""
    status = _job_status(run, redis)
    if status is None:
        if requeue_within is None:
            return JOB_LOST
        if run.trigger == "person":  # the person is not recorded on the run, so it cannot be queued again
            return PERSON_JOB_LOST
        return JOB_LOST_TOO_OLD if run.created_at < utcnow() - requeue_within else None
    return JOB_LOST if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) else None


def stale_runs(team_id: int, redis: Redis, requeue_within: dt.timedelta | None = None) -> dict[int, str]:
    """{run id: why} of the team's runs whose worker stopped (lock expired) or whose job vanished; reads only.

    With `requeue_within`, a queued run younger than that whose job Redis lost is not stale: the scheduler queues
    it again (requeue_lost_runs)."""
    value = cast(bytes | None, redis.get(team_lock_key(team_id)))
    holder = int(value) if value else None
    stale = {}
    just_queued = utcnow() - dt.timedelta(seconds=ENQUEUE_LOCK_SECONDS)
    for run in SyncRun.select().where((SyncRun.team == team_id) & SyncRun.status.in_(ACTIVE)):
        if run.id == holder or (run.status == "queued" and run.created_at > just_queued):
            continue
        if run.status == "running":
            stale[run.id] = worker_stopped(run)
        elif why := _why_lost(run, redis, requeue_within):
            stale[run.id] = why
    return stale


def reap_stale_runs(team_id: int, redis: Redis) -> int:
    """Fail the team's runs whose worker stopped (lock expired: interrupted) or whose job vanished; returns how
    many."""
    return sum(fail_run(run_id, message, interrupted=message in (WORKER_STOPPED, PERSON_WORKER_STOPPED))
               for run_id, message in stale_runs(team_id, redis).items())


def retry_interrupted(team_id: int, redis: Redis) -> SyncRun | None:
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
    run = queue_run(team_id, "retry", redis)
    log.info("Team %s: its interrupted sync is tried again as run %s", team_id, run.id,
             extra={"team_id": team_id, "run_id": run.id})
    return run


def _reviewed_run_id(run: SyncRun) -> int | None:
    """The needs-review run a Confirm removals run confirmed: the team's run just before it (it was the latest)."""
    if run.trigger != "confirm":
        return None
    before = (SyncRun.select(SyncRun.id, SyncRun.status).where((SyncRun.team == run.team_id) & (SyncRun.id < run.id))
              .order_by(SyncRun.id.desc()).first())
    return before.id if before is not None and before.status == "needs_review" else None


def requeue_lost_runs(redis: Redis, requeue_within: dt.timedelta) -> list[int]:
    """Queue again the queued runs whose job Redis lost (a restart empties it), or fail those older than
    `requeue_within` with a reason the leader sees; returns the ids queued again.

    Each run is checked again under its team's enqueue lock, so two schedulers (or two ticks) queue it once."""
    just_queued = utcnow() - dt.timedelta(seconds=ENQUEUE_LOCK_SECONDS)
    candidates = SyncRun.select().where((SyncRun.status == "queued") & (SyncRun.created_at <= just_queued))
    requeued = []
    for run in [run for run in candidates if _job_status(run, redis) is None]:
        with _enqueue_lock(redis, run.team_id):
            run = SyncRun.get_or_none((SyncRun.id == run.id) & (SyncRun.status == "queued"))
            if run is None or _job_status(run, redis) is not None:
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
            _enqueue(redis, run, _reviewed_run_id(run))
        log.warning("Sync run %s of team %s was lost by Redis (it restarted empty): queued again", run.id, run.team_id)
        requeued.append(run.id)
    return requeued


# Forgotten

def prune_history(days: int = HISTORY_DAYS) -> int:
    """Forget runs, and their per-user outcomes, that ended more than `days` ago; returns how many runs."""
    old = SyncRun.select(SyncRun.id).where(SyncRun.finished_at < utcnow() - dt.timedelta(days=days))
    with database.atomic():
        SyncOutcome.delete().where(SyncOutcome.run.in_(old)).execute()
        return SyncRun.delete().where(SyncRun.id.in_(old)).execute()
