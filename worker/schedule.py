"""The periodic schedule as data, and the pure decision of which jobs to (re)register (which teams are due is
decided in webapp.engine.schedule)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    """A job rq-scheduler enqueues every `interval` seconds."""

    id: str
    func: str
    interval: int
    queue: str = "sync"

    def signature(self) -> str:
        """What identifies this declaration in the scheduler, so a changed one is registered again."""
        return f"{self.func}|{self.interval}|{self.queue}"


PERIODIC_JOBS = (
    PeriodicJob(id="entra-sync-tick", func="worker.jobs.tick", interval=60),
)


def plan_schedule(declared: Iterable[PeriodicJob],
                  registered: Mapping[str, str]) -> tuple[list[str], list[PeriodicJob]]:
    """(ids to cancel, jobs to register) from the declared jobs and {id: signature} of the registered ones."""
    wanted = {job.id: job for job in declared}
    cancel = sorted(job_id for job_id, signature in registered.items()
                    if job_id not in wanted or wanted[job_id].signature() != signature)
    register = [job for job in declared
                if job.id not in registered or registered[job.id] != job.signature()]
    return cancel, register
