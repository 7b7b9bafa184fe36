"""`python -m worker.scheduler`: register the declared periodic jobs with rq-scheduler, then run it."""

import argparse
import logging

import redis
from rq_scheduler import Scheduler

from webapp import config as settings_module
from webapp.models import utcnow
from worker.schedule import PERIODIC_JOBS, plan_schedule

SIGNATURE = "periodic_signature"

log = logging.getLogger(__name__)


def registered_jobs(scheduler):
    """{job id: signature} of the periodic jobs this project registered earlier."""
    return {job.id: job.meta[SIGNATURE] for job in scheduler.get_jobs() if SIGNATURE in job.meta}


def register(scheduler, declared=PERIODIC_JOBS):
    """Make the scheduler hold exactly the declared periodic jobs; returns (cancelled ids, registered ids)."""
    cancel, add = plan_schedule(declared, registered_jobs(scheduler))
    for job_id in cancel:
        scheduler.cancel(job_id)
    for job in add:
        scheduler.schedule(scheduled_time=utcnow(), func=job.func, interval=job.interval, repeat=None,
                           id=job.id, queue_name=job.queue, result_ttl=job.interval * 10, timeout=job.interval * 5,
                           meta={SIGNATURE: job.signature()}, description=job.id)
    return cancel, [job.id for job in add]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=10, help="Seconds between checks for due jobs.")
    parser.add_argument("--burst", action="store_true", help="Enqueue what is due now, then exit.")
    parser.add_argument("--register-only", action="store_true", help="Register the periodic jobs and exit.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    url = settings_module.load_or_exit()["REDIS_URL"]
    if not url:
        raise SystemExit("REDIS_URL is not set.")
    scheduler = Scheduler(queue_name="sync", connection=redis.Redis.from_url(url), interval=args.interval)
    cancelled, added = register(scheduler)
    log.info("Periodic jobs: registered %s, cancelled %s", added or "none new", cancelled or "none")
    if not args.register_only:
        scheduler.run(burst=args.burst)


if __name__ == "__main__":
    main()
