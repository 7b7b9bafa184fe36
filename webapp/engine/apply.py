"""Applying a plan: bulk writes in short transactions, safe to repeat.

Each transaction that changes users also writes those users' outcomes and adds them to the run's counts, so the
run's history holds every change that was committed, even when the worker dies between two transactions. Before
each transaction `fence` is called: it raises when the run may no longer write (its team lock is gone).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from peewee import Case, Field, Model

from webapp.db import database, is_postgres
from webapp.engine.reconcile import Change, Join, Outcome, Plan
from webapp.engine.team_side import chunks
from webapp.models import SyncOutcome, SyncRun, TeamLeader, User, UserSession, utcnow
from webapp.search import indexed_in_bulk

CHUNK = 400
INSERT_CHUNK = 5000  # rows per transaction: fewer commits rewrite far fewer index pages (SQLite WAL)
GROWTH_TO_ANALYZE = 0.1  # share of new users after which PostgreSQL gets fresh planner statistics at once
USER_FIELDS = (User.email, User.name, User.job_title, User.department, User.entra_tenant_id, User.entra_object_id,
               User.team, User.synced_by_team, User.active, User.created_at)
OUTCOME_FIELDS = (SyncOutcome.run, SyncOutcome.entra_id, SyncOutcome.user, SyncOutcome.email, SyncOutcome.name,
                  SyncOutcome.action, SyncOutcome.reason)


POSTGRES_ARRAYS = {"VARCHAR": "varchar[]", "TEXT": "text[]", "INT": "integer[]", "BOOL": "boolean[]",
                   "DATETIME": "timestamp[]"}


def _statement(sql: str, fields: Sequence[Field]) -> str:
    """The insert as run: executemany's on SQLite; on PostgreSQL the rows come as one array per column
    (unnest), which psycopg2 quotes in C rather than row by row in Python."""
    if not is_postgres():
        return sql
    start = sql.index(" VALUES (")
    end = sql.index(")", start) + 1
    arrays = ", ".join(f"%s::{POSTGRES_ARRAYS[field.field_type]}" for field in fields)
    return f"{sql[:start]} SELECT * FROM unnest({arrays}){sql[end:]}"


def insert_statement(model: type[Model], fields: Sequence[Field], ignore_conflicts: bool = False) -> str:
    """The insert of tuples ordered like `fields`, rendered once (every defaulted field listed, so none is added);
    it returns no ids (PostgreSQL's default), only its rowcount."""
    query = model.insert_many([tuple(None for _ in fields)], fields=list(fields)).returning()
    if ignore_conflicts:
        query = query.on_conflict_ignore()
    sql, params = query.sql()
    if len(params) != len(fields):
        raise ValueError(f"an insert into {model.__name__} needs every defaulted field listed")
    return _statement(sql, fields)


def insert_rows(statement: str, rows: list[tuple[Any, ...]]) -> int:
    """Run an insert_statement over rows in the current transaction; returns how many rows were inserted."""
    cursor = database.cursor()
    if is_postgres():
        cursor.execute(statement, [list(column) for column in zip(*rows)])
    else:
        cursor.executemany(statement, rows)
    return cursor.rowcount


def _case_updates(changes: Sequence[Join | Change]) -> dict[Field, Any]:
    """One CASE expression per field that any change sets, keyed by user id; others keep their value."""
    fields = sorted({name for change in changes for name in change.values})
    updates: dict[Field, Any] = {}
    for name in fields:
        column = getattr(User, name)
        pairs = [(change.user_id, change.values[name]) for change in changes if name in change.values]
        updates[column] = Case(User.id, pairs, column)
    return updates


def _outcome_row(run_id: int, outcome: Outcome) -> tuple[Any, ...]:
    return (run_id, (outcome.entra_id or "")[:36] or None, outcome.user_id, outcome.email[:320], outcome.name[:200],
            outcome.action, outcome.reason[:255])


class PlanWriter:
    """Writes a run's plan, whole or in parts (one per page of the group, then the removals); every transaction
    records its own outcomes and counts."""

    def __init__(self, team_id: int, run_id: int, progress: Callable[[str], None] = lambda message: None,
                 fence: Callable[[], None] = lambda: None) -> None:
        self.team_id, self.run_id, self.progress, self.fence = team_id, run_id, progress, fence
        self.outcomes = insert_statement(SyncOutcome, OUTCOME_FIELDS)
        self.counts = dict.fromkeys(("added", "created", "updated", "removed", "skipped_other_team",
                                     "skipped_disabled"), 0)
        self.planned_creates = self.creates_done = 0
        self.plan = Plan()
        self.by_action: dict[str, dict[int | str | None, Outcome]] = {}

    def write(self, plan: Plan) -> None:
        """Write one plan (or part): notes, creates, adds, updates, removals. A part that creates users writes its
        notes and skip counts in its first transaction: one commit a page of a first sync, not two."""
        self.plan, self.by_action = plan, {}
        for outcome in plan.outcomes:  # the outcomes of changes, by what identifies the change
            if outcome.action in ("updated", "removed"):
                self.by_action.setdefault(outcome.action, {})[outcome.user_id] = outcome
            elif outcome.action in ("created", "added"):
                self.by_action.setdefault(outcome.action, {})[outcome.entra_id] = outcome
        notes = [outcome for outcome in plan.outcomes if outcome.action in ("skipped", "would_remove")]
        skips = {name: value for name, value in (("skipped_other_team", plan.skipped_other_team),
                                                 ("skipped_disabled", plan.skipped_disabled)) if value}
        if plan.creates and len(notes) <= INSERT_CHUNK:
            self.create(notes, skips)
        else:
            self.notes(notes, skips)
            self.create()
        self.add()
        self.update()
        self.remove()

    def finish(self) -> dict[str, int]:
        """After the last part: the counts of what was committed (the planner's statistics refreshed)."""
        _refresh_statistics(self.counts["created"])
        return dict(self.counts)

    def commit(self, outcomes: Sequence[Outcome], **counts: int) -> None:
        """Inside a transaction: the outcomes of what it changed and the run's counts moved on."""
        if outcomes:
            insert_rows(self.outcomes, [_outcome_row(self.run_id, outcome) for outcome in outcomes])
        if counts:
            SyncRun.update({getattr(SyncRun, name): getattr(SyncRun, name) + value
                            for name, value in counts.items()}).where(SyncRun.id == self.run_id).execute()
            for name, value in counts.items():
                self.counts[name] += value

    def notes(self, notes: Sequence[Outcome], skips: dict[str, int]) -> None:
        """Outcomes that change nothing (skips, removals held for review), then the skip counts."""
        for batch in chunks(notes, INSERT_CHUNK):
            self.fence()
            with database.atomic():
                self.commit(batch)
        if skips:
            self.fence()
            with database.atomic():
                self.commit((), **skips)

    def create(self, notes: Sequence[Outcome] = (), skips: dict[str, int] | None = None) -> None:
        """New users, a transaction each INSERT_CHUNK; the first also writes `notes` and `skips` when given."""
        if not self.plan.creates:
            return
        now = utcnow()
        statement = insert_statement(User, USER_FIELDS, ignore_conflicts=True)
        created = self.by_action.get("created", {})
        self.planned_creates += len(self.plan.creates)
        for batch in chunks(self.plan.creates, INSERT_CHUNK):
            rows = [(join.values["email"], join.values["name"], join.values["job_title"], join.values["department"],
                     join.values["entra_tenant_id"], join.values["entra_object_id"], self.team_id, self.team_id,
                     True, now) for join in batch]
            self.fence()
            with database.atomic():
                entra_ids = [join.entra_id for join in batch]
                with indexed_in_bulk():
                    inserted = insert_rows(statement, rows)
                if inserted != len(rows):
                    entra_ids = self._inserted(batch, now)
                self.commit([*notes, *(created[entra_id] for entra_id in entra_ids if entra_id in created)],
                            added=len(entra_ids), created=len(entra_ids), **(skips or {}))
            notes, skips = (), None
            self.creates_done += len(batch)
            self.progress(f"Created {self.creates_done:,} of {self.planned_creates:,} new users")

    def _inserted(self, batch: Sequence[Join], now: dt.datetime) -> list[str]:
        """The Entra ids of a batch of new users that were inserted (another account may have taken an email)."""
        tenant_ids = {join.values["entra_tenant_id"] for join in batch}
        query = User.select(User.entra_object_id).where(
            User.entra_tenant_id.in_(list(tenant_ids)) & User.entra_object_id.in_([join.entra_id for join in batch])
            & (User.created_at == now) & (User.synced_by_team == self.team_id))
        return [row[0] for row in query.tuples()]

    def _applied(self, user_ids: Sequence[int | None], rowcount: int) -> Sequence[int | None]:
        """The users of a batch that a guarded UPDATE changed: all of them, unless the rowcount says otherwise."""
        if rowcount == len(user_ids):
            return user_ids
        query = User.select(User.id).where(User.id.in_(user_ids) & (User.team == self.team_id))
        return [row[0] for row in query.tuples()]

    def add(self) -> None:
        added = self.by_action.get("added", {})
        for batch in chunks(self.plan.adds, CHUNK):
            updates = _case_updates(batch)
            updates.update({User.team: self.team_id, User.active: True, User.removed_at: None,
                            User.removed_from_team: None, User.synced_by_team: self.team_id})
            user_ids = [join.user_id for join in batch]
            self.fence()
            with database.atomic():
                rowcount = User.update(updates).where(User.id.in_(user_ids) & User.team.is_null()).execute()
                applied = set(self._applied(user_ids, rowcount))
                self.commit([added[join.entra_id] for join in batch
                             if join.user_id in applied and join.entra_id in added], added=len(applied))
            self.progress(f"Added {len(batch):,} users")

    def update(self) -> None:
        updated = self.by_action.get("updated", {})
        for batch in chunks(self.plan.updates, CHUNK):
            user_ids = [change.user_id for change in batch]
            self.fence()
            with database.atomic():
                rowcount = User.update(_case_updates(batch)).where(
                    User.id.in_(user_ids) & (User.team == self.team_id)).execute()
                applied = set(self._applied(user_ids, rowcount))
                outcomes = [updated[user_id] for user_id in user_ids if user_id in applied and user_id in updated]
                self.commit(outcomes, updated=len(outcomes))
            self.progress(f"Updated {len(batch)} users")

    def remove(self) -> None:
        """Members leave the team; only accounts this team synced, leading no team, are also deactivated."""
        removed = self.by_action.get("removed", {})
        leaders = TeamLeader.select(TeamLeader.user)
        own_leaders = leaders.where(TeamLeader.team == self.team_id)
        for batch in chunks(self.plan.removals, CHUNK):
            self.fence()
            with database.atomic():
                now = utcnow()
                leaving = User.id.in_(batch) & (User.team == self.team_id) & User.id.not_in(own_leaders)
                ids = [row[0] for row in User.select(User.id).where(leaving).tuples()]
                deactivate = User.id.in_(ids) & (User.synced_by_team == self.team_id) & User.id.not_in(leaders)
                # a deactivated account is signed out everywhere, in the same transaction
                UserSession.delete().where(UserSession.user.in_(User.select(User.id).where(deactivate))).execute()
                User.update(team=None, active=False, removed_at=now, removed_from_team=self.team_id).where(
                    deactivate).execute()
                User.update(team=None, removed_at=now, removed_from_team=self.team_id).where(
                    User.id.in_(ids) & (User.team == self.team_id)).execute()
                self.commit([removed[user_id] for user_id in ids if user_id in removed], removed=len(ids))
            self.progress(f"Removed {len(batch)} users")


def apply_plan(plan: Plan, team_id: int, run_id: int, progress: Callable[[str], None] = lambda message: None,
               fence: Callable[[], None] = lambda: None) -> dict[str, int]:
    """Write the plan: notes, creates, adds, updates, removals; returns the counts of what was committed."""
    writer = PlanWriter(team_id, run_id, progress, fence)
    writer.write(plan)
    return writer.finish()


def _refresh_statistics(created: int) -> None:
    """When a run grew the users table by a tenth or more (or it was never analyzed), let PostgreSQL's planner see
    the new rows now rather than at autovacuum's next pass: stale statistics turn index lookups into table scans."""
    if not created or not is_postgres():
        return
    table = User._meta.table_name
    (estimate,) = database.execute_sql("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    if estimate < 0 or created >= GROWTH_TO_ANALYZE * estimate:
        database.execute_sql(f'ANALYZE "{table}"')
