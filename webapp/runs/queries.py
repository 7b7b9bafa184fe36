"""What the runs pages show: the panel's state, pages of runs and outcomes, and the CSV rows."""
from collections.abc import Iterator
from typing import Any

from peewee import ModelSelect

from webapp.engine.lifecycle import active_run, failure_message
from webapp.models import SyncOutcome, SyncRun, SyncSettings

RECENT_RUNS = 5
REVIEW_PREVIEW = 20
RUNS_PER_PAGE = 20
ACTION_LABELS = {
    "created": "Created and added",
    "added": "Added",
    "updated": "Updated",
    "removed": "Removed",
    "would_remove": "Would be removed",
    "skipped": "Skipped",
}
STATUS_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "needs_review": "Needs review",
}
TRIGGER_LABELS = {"manual": "Sync button", "auto": "Auto Sync", "confirm": "Confirm removals",
                  "person": "Sync this person now", "retry": "Retry after a restart"}
MODE_LABELS = {"full": "Whole group", "incremental": "Changes only", "person": "One person"}
CSV_COLUMNS = ("action", "reason", "name", "email", "entra_object_id")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def team_runs(team_id: int) -> ModelSelect:
    return SyncRun.select().where(SyncRun.team == team_id)


def latest_run(team_id: int) -> SyncRun | None:
    return team_runs(team_id).order_by(SyncRun.id.desc()).first()


def reviewable(run: SyncRun | None) -> bool:
    """Whether removals of this run can be confirmed: it needs review and nothing ran since."""
    if run is None or run.status != "needs_review":
        return False
    latest = latest_run(run.team_id)
    return latest is not None and latest.id == run.id


def would_remove(run: SyncRun, limit: int = REVIEW_PREVIEW) -> tuple[list[SyncOutcome], int]:
    """The first users a needs-review run held back, and how many there are."""
    query = SyncOutcome.select().where((SyncOutcome.run == run.id) & (SyncOutcome.action == "would_remove"))
    return list(query.order_by(SyncOutcome.name, SyncOutcome.id).limit(limit)), query.count()


def panel_state(team_id: int, stopped: dict[int, str]) -> dict[str, Any]:
    """Everything the runs panel shows, in a handful of queries.

    `stopped` (run id: why) are runs whose worker is gone: shown as failed, as the scheduler will record them.
    """
    recent = list(team_runs(team_id).order_by(SyncRun.id.desc()).limit(RECENT_RUNS + 1))
    for run in recent:
        if run.id in stopped:
            run.status, run.progress, run.error = "failed", "", failure_message(run.id, stopped[run.id])
    active = active_run(team_id)
    if active is not None and active.id in stopped:
        active = None
    finished = [run for run in recent if run.status not in ("queued", "running")]
    last = finished[0] if finished else None
    review = last if reviewable(last) else None
    held, held_total = would_remove(review) if review else ([], 0)
    return {
        "active": active,
        "last": last,
        "recent": recent[:RECENT_RUNS],
        "more_runs": len(recent) > RECENT_RUNS,
        "settings": SyncSettings.get_or_none(SyncSettings.team == team_id),
        "review": review,
        "held": held,
        "held_total": held_total,
    }


def outcome_query(run: SyncRun, search: str = "", action: str = "") -> ModelSelect:
    query = SyncOutcome.select().where(SyncOutcome.run == run.id)
    if action in ACTION_LABELS:
        query = query.where(SyncOutcome.action == action)
    if search:
        query = query.where(SyncOutcome.name.contains(search) | SyncOutcome.email.contains(search))
    return query.order_by(SyncOutcome.action, SyncOutcome.name, SyncOutcome.id)


def _cell(value: str | None) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    value = value or ""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_rows(run: SyncRun, batch: int = 1000) -> Iterator[tuple[str, ...]]:
    """The run's outcomes as CSV rows, read in batches by id so memory stays flat."""
    yield CSV_COLUMNS
    last_id = 0
    while True:
        rows = list(SyncOutcome.select().where((SyncOutcome.run == run.id) & (SyncOutcome.id > last_id))
                    .order_by(SyncOutcome.id).limit(batch))
        if not rows:
            return
        for row in rows:
            yield (row.action, _cell(row.reason), _cell(row.name), _cell(row.email), row.entra_id or "")
        last_id = rows[-1].id
