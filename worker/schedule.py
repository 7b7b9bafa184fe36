"""The periodic schedule as data, and the pure decisions: which jobs to (re)register, which teams are due."""

import datetime as dt
from dataclasses import dataclass

OAUTH = "oauth"
MAX_BACKOFF_DOUBLINGS = 5
MAX_BACKOFF = dt.timedelta(days=1)


@dataclass(frozen=True)
class PeriodicJob:
    """A job rq-scheduler enqueues every `interval` seconds."""

    id: str
    func: str
    interval: int
    queue: str = "sync"

    def signature(self):
        """What identifies this declaration in the scheduler, so a changed one is registered again."""
        return f"{self.func}|{self.interval}|{self.queue}"


PERIODIC_JOBS = (
    PeriodicJob(id="entra-sync-tick", func="worker.jobs.tick", interval=60),
)


def plan_schedule(declared, registered):
    """(ids to cancel, jobs to register) from the declared jobs and {id: signature} of the registered ones."""
    wanted = {job.id: job for job in declared}
    cancel = sorted(job_id for job_id, signature in registered.items()
                    if job_id not in wanted or wanted[job_id].signature() != signature)
    register = [job for job in declared
                if job.id not in registered or registered[job.id] != job.signature()]
    return cancel, register


@dataclass(frozen=True)
class TeamState:
    """What the scheduler knows of a team with Auto Sync on."""

    team_id: int
    method: str
    running: bool
    last_finished_at: dt.datetime | None
    failure_count: int


def interval_minutes(method, oauth_minutes, enterprise_minutes):
    """How often Auto Sync runs for a connection method."""
    return oauth_minutes if method == OAUTH else enterprise_minutes


def next_sync_after(finished_at, minutes, failure_count):
    """When the next automatic run is due: the interval, doubled per recent failure, capped."""
    delay = dt.timedelta(minutes=minutes) * 2 ** min(failure_count, MAX_BACKOFF_DOUBLINGS)
    return finished_at + max(dt.timedelta(minutes=minutes), min(delay, MAX_BACKOFF))


def due_teams(states, now, oauth_minutes, enterprise_minutes):
    """Ids of the teams whose automatic sync is due now, skipping those with a run queued or running."""
    due = []
    for state in states:
        if state.running:
            continue
        minutes = interval_minutes(state.method, oauth_minutes, enterprise_minutes)
        if state.last_finished_at is None or now >= next_sync_after(state.last_finished_at, minutes,
                                                                   state.failure_count):
            due.append(state.team_id)
    return due
