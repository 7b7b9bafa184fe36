"""The RQ worker the Procfile runs: `python -m worker.rq_worker [--burst] [QUEUE ...]` (default queue: sync).

A worker that starts while Redis is down waits for it; one that loses Redis while idle or while a sync runs keeps
going and reconnects with back-off. It exits only when asked to (SIGTERM, Ctrl-C) or, with --burst, when the
queues are empty.

On SIGTERM (a dyno platform sends it to every process of a dyno on a restart or deploy, then SIGKILL 30 s later) it
takes no new job and lets the running sync finish for up to WORKER_GRACE_SECONDS; a sync still running then stops,
is recorded as interrupted and is queued again as a retry run.

A short Auto Sync run (its job flagged in_process when queued) is worked in the worker's own process, as RQ's
SimpleWorker does, without the fork that would cost most of its time; every other job keeps the fork's isolation.
"""
import argparse
import logging
import signal
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.client import PubSub, PubSubWorkerThread
from rq.job import Job
from rq.queue import Queue
from rq.worker import HerokuWorker, WorkerStatus

import worker.jobs  # imported once here, so every forked work horse starts with it loaded
from webapp import config as settings_module
from webapp.engine.lifecycle import IN_PROCESS, IN_PROCESS_TIMEOUT
from worker.jobs import SyncFailed
from worker.redis_watch import TROUBLE, RedisWatch, entry_point_settings

log = logging.getLogger(__name__)


class SyncWorker(HerokuWorker):
    """RQ's forking worker, with the sync code already imported before each fork (saves ~0.5 s a job), riding out
    Redis trouble: each step of RQ's loop that talks to Redis waits for it instead of ending the worker.

    RQ's HerokuWorker gives the shutdown its shape: the work horse ignores SIGTERM; the worker, on SIGTERM, stops
    taking jobs and sends the horse SIGRTMIN, which raises ShutDownImminentException in the job
    `imminent_shutdown_delay` seconds (WORKER_GRACE_SECONDS) later unless it ended first."""

    in_process_job: Job | None = None  # the job running in this process, not in a work horse

    @property
    def redis_watch(self) -> RedisWatch:
        if getattr(self, "_redis_watch", None) is None:
            self._redis_watch = RedisWatch(self.connection, log)
        return self._redis_watch

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        self.redis_watch.wait()
        return self.redis_watch.call(super().bootstrap, *args, **kwargs)

    def check_for_suspension(self, burst: bool) -> None:
        return self.redis_watch.call(super().check_for_suspension, burst)

    def run_maintenance_tasks(self) -> None:
        return self.redis_watch.call(super().run_maintenance_tasks)

    def heartbeat(self, timeout: int | None = None, pipeline: redis.client.Pipeline | None = None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        return self.redis_watch.call(super().heartbeat, timeout)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None,
                                     max_idle_time: int | None = None) -> tuple[Job, Queue] | None:
        return self.redis_watch.call(super().dequeue_job_and_maintain_ttl, timeout, max_idle_time)

    def _while_a_job_runs(self, call: Callable[..., object], *args: Any) -> None:
        """A bookkeeping write Redis cannot take while the work horse runs is skipped (the job goes on), not fatal."""
        try:
            call(*args)
        except TROUBLE as error:
            self.redis_watch.failed(error)
            return
        self.redis_watch.answered()

    def maintain_heartbeats(self, job: Job) -> None:
        self._while_a_job_runs(super().maintain_heartbeats, job)

    def set_current_job_working_time(self, current_job_working_time: float,
                                     pipeline: redis.client.Pipeline | None = None) -> None:
        if pipeline is not None:
            return super().set_current_job_working_time(current_job_working_time, pipeline=pipeline)
        self.current_job_working_time = current_job_working_time
        return self._while_a_job_runs(super().set_current_job_working_time, current_job_working_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job (in this process when it is flagged so, else in a forked work horse); Redis lost while it ran
        leaves RQ's record of it unfinished, but not the run: the database has what the sync did, and the scheduler
        fails a run whose worker stopped. Then wait for Redis."""
        try:
            if job.meta.get(IN_PROCESS):
                return self._execute_in_process(job, queue)
            return super().execute_job(job, queue)
        except TROUBLE as error:
            self.redis_watch.failed(error)
            log.warning("Job %s ended while Redis was unreachable; its run records the outcome", job.id)
            self.redis_watch.wait()

    def _execute_in_process(self, job: Job, queue: Queue) -> None:
        """SimpleWorker's way: RQ's perform_job records a job that raises as failed and returns, and its death
        penalty (SIGALRM, in this main thread) still ends one that outlives its timeout."""
        self.in_process_job = job
        try:
            self.prepare_execution(job)
            self.perform_job(job, queue)
        finally:
            self.in_process_job = None
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job) -> int:
        """No monitoring loop renews the worker's heartbeat while a job runs in-process: it lasts the job's timeout."""
        if job.meta.get(IN_PROCESS):
            return int(job.timeout or IN_PROCESS_TIMEOUT) + 60
        return super().get_heartbeat_ttl(job)

    def handle_warm_shutdown_request(self) -> None:
        """On SIGTERM during an in-process job, do what the work horse does on SIGRTMIN: raise
        ShutDownImminentException in the job WORKER_GRACE_SECONDS later unless it ended first."""
        if self.in_process_job is None:
            return super().handle_warm_shutdown_request()
        log.warning("Shutting down: the running sync has %s s to finish", self.imminent_shutdown_delay)
        signal.signal(signal.SIGALRM, self.request_force_stop_sigrtmin)
        signal.alarm(max(1, self.imminent_shutdown_delay))
        return None

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """A failed sync was recorded and logged by the job: one line here, not a traceback."""
        if isinstance(exc_info[1], SyncFailed):
            log.info("Job %s failed: %s", job.id, exc_info[1])
            return
        super().handle_exception(job, *exc_info)

    def _pubsub_exception_handler(self, exc: Exception, pubsub: PubSub, pubsub_thread: PubSubWorkerThread) -> None:
        if isinstance(exc, TROUBLE):
            self.redis_watch.failed(exc)
            self.redis_watch.wait()
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("queues", nargs="*", default=["sync"], help="Queues to work, in order (default: sync).")
    parser.add_argument("--burst", action="store_true", help="Work until the queues are empty, then exit.")
    parser.add_argument("--name", help="The worker's name (default: a random one).")
    parser.add_argument("--job-monitoring-interval", type=int, default=30,
                        help="Seconds between the heartbeats of a running job (RQ's default: 30).")
    args = parser.parse_args(argv)
    config = entry_point_settings()
    worker.jobs.worker_app()  # built once here too, so every work horse starts with the app made
    connection = settings_module.redis_client(config, socket_connect_timeout=5)
    sync_worker = RedisWatch(connection, log).call(SyncWorker, args.queues, connection=connection, name=args.name,
                                                   job_monitoring_interval=args.job_monitoring_interval)
    sync_worker.imminent_shutdown_delay = config["WORKER_GRACE_SECONDS"]
    sync_worker.work(burst=args.burst, logging_level="INFO")


if __name__ == "__main__":
    main()
