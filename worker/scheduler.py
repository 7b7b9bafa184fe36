"""`python -m worker.scheduler`: register the declared periodic jobs with rq-scheduler, then run it.

The scheduler rides out Redis trouble (down at start, stalled, restarted): it waits with back-off, says so once,
and registers the periodic jobs again in every round, since a Redis that restarted empty lost them.
"""

import argparse
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rq_scheduler import Scheduler

from webapp import config as settings_module
from webapp.models import utcnow
from worker.redis_watch import TROUBLE, RedisWatch, entry_point_settings
from worker.schedule import PERIODIC_JOBS, PeriodicJob, plan_schedule

SIGNATURE = "periodic_signature"
REDIS_TIMEOUT_SECONDS = 5

log = logging.getLogger(__name__)


def registered_jobs(scheduler: Scheduler) -> dict[str, str]:
    """{job id: signature} of the periodic jobs this project registered earlier."""
    return {job.id: job.meta[SIGNATURE] for job in scheduler.get_jobs() if SIGNATURE in job.meta}


def register(scheduler: Scheduler, declared: Iterable[PeriodicJob] = PERIODIC_JOBS) -> tuple[list[str], list[str]]:
    """Make the scheduler hold exactly the declared periodic jobs; returns (cancelled ids, registered ids)."""
    cancel, add = plan_schedule(declared, registered_jobs(scheduler))
    for job_id in cancel:
        scheduler.cancel(job_id)
    for job in add:
        scheduler.schedule(scheduled_time=utcnow(), func=job.func, interval=job.interval, repeat=None,
                           id=job.id, queue_name=job.queue, result_ttl=job.interval * 10, timeout=job.interval * 5,
                           meta={SIGNATURE: job.signature()}, description=job.id)
    return cancel, [job.id for job in add]


class SteadyScheduler(Scheduler):
    """rq-scheduler's loop (one scheduler at a time enqueues, under its lock), made to outlast Redis trouble."""

    def __init__(self, *args: Any, declared: Iterable[PeriodicJob] = PERIODIC_JOBS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared
        self.watch = RedisWatch(self.connection, log)
        self.standing_by = False

    def round(self) -> bool:
        """One round: keep the periodic jobs registered, then enqueue what is due if this scheduler has the lock."""
        self.heartbeat()
        cancelled, added = register(self, self.declared)
        if added or cancelled:
            log.info("Periodic jobs: registered %s, cancelled %s", added or "none new", cancelled or "none")
        if not self.acquire_lock():
            if not self.standing_by:
                log.info("Another scheduler holds the lock; this one stands by and takes over if it stops")
                self.standing_by = True
            return False
        self.standing_by = False
        try:
            self.enqueue_jobs()
            self.heartbeat()
        finally:
            self.remove_lock()
        return True

    def run(self, burst: bool = False) -> None:
        self.watch.call(self.register_birth)
        self._install_signal_handlers()
        try:
            while True:
                started = time.monotonic()
                try:
                    worked = self.round()
                except TROUBLE as error:
                    self._lock_acquired = False  # it expires by itself; Redis may be another (empty) one by now
                    self.watch.failed(error)
                    self.watch.wait()
                    continue
                self.watch.answered()
                if burst and worked:
                    break
                time.sleep(max(0.0, self._interval - (time.monotonic() - started)))
        finally:
            try:
                self.remove_lock()
                self.register_death()
            except TROUBLE:
                log.warning("Stopped while Redis was unreachable; its lock and record expire by themselves")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=10, help="Seconds between checks for due jobs.")
    parser.add_argument("--burst", action="store_true", help="Enqueue what is due now, then exit.")
    parser.add_argument("--register-only", action="store_true", help="Register the periodic jobs and exit.")
    args = parser.parse_args(argv)
    config = entry_point_settings()
    connection = settings_module.redis_client(config, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                              socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    scheduler = SteadyScheduler(queue_name="sync", connection=connection, interval=args.interval)
    if args.register_only:
        cancelled, added = scheduler.watch.call(register, scheduler)
        log.info("Periodic jobs: registered %s, cancelled %s", added or "none new", cancelled or "none")
        return
    scheduler.run(burst=args.burst)


if __name__ == "__main__":
    main()
