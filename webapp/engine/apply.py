"""Applying a plan: bulk writes in short transactions, safe to repeat, with the run's per-user outcomes."""

from peewee import Case

from webapp.db import database, is_postgres
from webapp.engine.team_side import chunks
from webapp.models import SyncOutcome, TeamLeader, User, utcnow

CHUNK = 400
INSERT_CHUNK = 5000  # rows per transaction: fewer commits rewrite far fewer index pages (SQLite WAL)
GROWTH_TO_ANALYZE = 0.1  # share of new users after which PostgreSQL gets fresh planner statistics at once
USER_FIELDS = (User.email, User.name, User.job_title, User.department, User.entra_tenant_id, User.entra_object_id,
               User.team, User.synced_by_team, User.active, User.created_at)
OUTCOME_FIELDS = (SyncOutcome.run, SyncOutcome.entra_id, SyncOutcome.user, SyncOutcome.email, SyncOutcome.name,
                  SyncOutcome.action, SyncOutcome.reason)


POSTGRES_ARRAYS = {"VARCHAR": "varchar[]", "TEXT": "text[]", "INT": "integer[]", "BOOL": "boolean[]",
                   "DATETIME": "timestamp[]"}


def _statement(sql, fields):
    """The insert as run: executemany's on SQLite; on PostgreSQL the rows come as one array per column
    (unnest), which psycopg2 quotes in C rather than row by row in Python."""
    if not is_postgres():
        return sql
    start = sql.index(" VALUES (")
    end = sql.index(")", start) + 1
    arrays = ", ".join(f"%s::{POSTGRES_ARRAYS[field.field_type]}" for field in fields)
    return f"{sql[:start]} SELECT * FROM unnest({arrays}){sql[end:]}"


def bulk_insert(model, fields, rows, ignore_conflicts=False, inserted=lambda count: None):
    """Insert tuples ordered like `fields` with SQL rendered once (every defaulted field listed, so none is added)."""
    query = model.insert_many(rows[:1], fields=list(fields))
    if ignore_conflicts:
        query = query.on_conflict_ignore()
    sql, params = query.sql()
    if len(params) != len(fields):
        raise ValueError(f"bulk_insert into {model.__name__} needs every defaulted field listed")
    statement = _statement(sql, fields)
    done = 0
    for batch in chunks(rows, INSERT_CHUNK):
        with database.atomic():
            if is_postgres():
                database.cursor().execute(statement, [list(column) for column in zip(*batch)])
            else:
                database.cursor().executemany(statement, batch)
        done += len(batch)
        inserted(done)


def _case_updates(changes):
    """One CASE expression per field that any change sets, keyed by user id; others keep their value."""
    fields = sorted({name for change in changes for name in change.values})
    updates = {}
    for name in fields:
        column = getattr(User, name)
        pairs = [(change.user_id, change.values[name]) for change in changes if name in change.values]
        updates[column] = Case(User.id, pairs, column)
    return updates


def _create(plan, team_id, progress):
    if not plan.creates:
        return
    now = utcnow()
    rows = [(join.values["email"], join.values["name"], join.values["job_title"], join.values["department"],
             join.values["entra_tenant_id"], join.values["entra_object_id"], team_id, team_id, True, now)
            for join in plan.creates]
    bulk_insert(User, USER_FIELDS, rows, ignore_conflicts=True,
                inserted=lambda done: progress(f"Created {done:,} of {len(rows):,} new users"))


def _add(plan, team_id, progress):
    for batch in chunks(plan.adds, CHUNK):
        updates = _case_updates(batch)
        updates.update({User.team: team_id, User.active: True, User.removed_at: None,
                        User.removed_from_team: None, User.synced_by_team: team_id})
        with database.atomic():
            User.update(updates).where(User.id.in_([join.user_id for join in batch])
                                       & User.team.is_null()).execute()
        progress(f"Added {len(batch):,} users")


def _update(plan, team_id, progress):
    for batch in chunks(plan.updates, CHUNK):
        with database.atomic():
            User.update(_case_updates(batch)).where(
                User.id.in_([change.user_id for change in batch]) & (User.team == team_id)).execute()
        progress(f"Updated {len(batch)} users")


def _remove(plan, team_id, progress):
    leaders = TeamLeader.select(TeamLeader.user).where(TeamLeader.team == team_id)
    for batch in chunks(plan.removals, CHUNK):
        with database.atomic():
            User.update(team=None, active=False, removed_at=utcnow(), removed_from_team=team_id).where(
                User.id.in_(batch) & (User.team == team_id) & User.id.not_in(leaders)).execute()
        progress(f"Removed {len(batch)} users")


def record_outcomes(plan, run_id):
    """Store the plan's per-user outcomes for the run (new users are known by Entra id and email)."""
    rows = [(run_id, outcome.entra_id, outcome.user_id, outcome.email[:320],
             outcome.name[:200], outcome.action, outcome.reason[:255]) for outcome in plan.outcomes]
    if rows:
        bulk_insert(SyncOutcome, OUTCOME_FIELDS, rows)


def apply_plan(plan, team_id, run_id, progress=lambda message: None):
    """Write the plan: creates, adds, updates, removals, then outcomes; returns the run's counts."""
    _create(plan, team_id, progress)
    _add(plan, team_id, progress)
    _update(plan, team_id, progress)
    _remove(plan, team_id, progress)
    record_outcomes(plan, run_id)
    _refresh_statistics(len(plan.creates))
    return plan.counts()


def _refresh_statistics(created):
    """When a run grew the users table by a tenth or more (or it was never analyzed), let PostgreSQL's planner see
    the new rows now rather than at autovacuum's next pass: stale statistics turn index lookups into table scans."""
    if not created or not is_postgres():
        return
    table = User._meta.table_name
    (estimate,) = database.execute_sql("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
    if estimate < 0 or created >= GROWTH_TO_ANALYZE * estimate:
        database.execute_sql(f'ANALYZE "{table}"')
