"""When Auto Sync runs: the pure decisions (which teams are due, when a team runs next) and the one query they need,
shared by the scheduler's tick and the `flask status` command."""

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import fn

from webapp.models import EntraConnection, SyncRun, SyncSettings

OAUTH = "oauth"
MAX_BACKOFF_DOUBLINGS = 5
MAX_BACKOFF = dt.timedelta(days=1)
TICK = dt.timedelta(minutes=1)
EARLY = TICK / 2  # a due time falls between two ticks: the nearer tick runs it, not the next one after it


@dataclass(frozen=True)
class TeamState:
    """What the scheduler knows of a team with Auto Sync on."""

    team_id: int
    method: str
    running: bool
    last_finished_at: dt.datetime | None
    failure_count: int
    tenant_id: str = ""


def interval_minutes(method: str | None, oauth_minutes: int, enterprise_minutes: int) -> int:
    """How often Auto Sync runs for a connection method."""
    return oauth_minutes if method == OAUTH else enterprise_minutes


def next_sync_after(finished_at: dt.datetime, minutes: int, failure_count: int) -> dt.datetime:
    """When the next automatic run is due: the interval, doubled per recent failure, capped."""
    delay = dt.timedelta(minutes=minutes) * 2 ** min(failure_count, MAX_BACKOFF_DOUBLINGS)
    return finished_at + max(dt.timedelta(minutes=minutes), min(delay, MAX_BACKOFF))


def next_due(state: TeamState, oauth_minutes: int, enterprise_minutes: int) -> dt.datetime | None:
    """When the team's next automatic run is due (None: at once, it never finished one)."""
    if state.last_finished_at is None:
        return None
    minutes = interval_minutes(state.method, oauth_minutes, enterprise_minutes)
    return next_sync_after(state.last_finished_at, minutes, state.failure_count)


def due_teams(states: Iterable[TeamState], now: dt.datetime, oauth_minutes: int, enterprise_minutes: int) -> list[int]:
    """Ids of the teams whose automatic sync is due at this tick, skipping those with a run queued or running, in a
    fair order (see fair_order)."""
    due = []
    for state in states:
        if state.running:
            continue
        when = next_due(state, oauth_minutes, enterprise_minutes)
        if when is None or now + EARLY >= when:
            due.append((when, state.tenant_id, state.team_id))
    return fair_order(due)


def fair_order(due: list[tuple[dt.datetime | None, str, int]]) -> list[int]:
    """Team ids of (due time, tenant, team) longest overdue first, the never synced before all: when a round is more
    than the workers do in one interval, the teams left over are first in the next one, so none starves. Among the
    teams that fell due in the same minute the tenants take turns, so a round does not start with one tenant's
    teams, which would wait for each other (TENANT_SYNC_LIMIT) while the workers could sync other tenants'."""
    earliest = dt.datetime.min
    turns: Counter = Counter()
    keyed = []
    for when, tenant, team_id in sorted(due, key=lambda item: (item[0] is not None, item[0] or earliest, item[2])):
        minute = when.replace(second=0, microsecond=0) if when is not None else None
        turn = turns[(minute, tenant)]
        turns[(minute, tenant)] += 1
        keyed.append(((minute is not None, minute or earliest, turn, when or earliest, team_id), team_id))
    return [team_id for _, team_id in sorted(keyed)]


def auto_sync_states(team_ids: Iterable[int] | None = None) -> list[TeamState]:
    """The teams with Auto Sync on, a Sync Group and a connection (or those of `team_ids` among them), in three
    queries. A run its worker interrupted is not a finish: the retry's end is."""
    rows = (SyncSettings.select(SyncSettings.team, EntraConnection.method, SyncSettings.failure_count,
                                EntraConnection.tenant_id)
            .join(EntraConnection, on=(EntraConnection.team == SyncSettings.team))
            .where(SyncSettings.auto_sync & SyncSettings.group_id.is_null(False)))
    if team_ids is not None:
        rows = rows.where(SyncSettings.team.in_(team_ids))
    found = list(rows.tuples())
    ids = [row[0] for row in found]
    if not ids:
        return []
    finished = dict(SyncRun.select(SyncRun.team, fn.MAX(SyncRun.finished_at))
                    .where(SyncRun.team.in_(ids) & ~SyncRun.interrupted).group_by(SyncRun.team).tuples())
    running = {row[0] for row in SyncRun.select(SyncRun.team).where(
        SyncRun.team.in_(ids) & SyncRun.status.in_(("queued", "running"))).tuples()}
    return [TeamState(team_id, method, team_id in running, finished.get(team_id), failures, tenant_id)
            for team_id, method, failures, tenant_id in found]
