"""Applying a plan: bulk writes in short transactions, safe to repeat, with the run's per-user outcomes."""

from peewee import Case

from webapp.db import database
from webapp.engine.team_side import chunks
from webapp.models import SyncOutcome, TeamLeader, User, utcnow

CHUNK = 400


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
    for batch in chunks(plan.creates, CHUNK):
        rows = [dict(join.values, team=team_id, synced_by_team=team_id, active=True) for join in batch]
        with database.atomic():
            User.insert_many(rows).on_conflict_ignore().execute()
        progress(f"Created {len(batch)} users")


def _add(plan, team_id, progress):
    for batch in chunks(plan.adds, CHUNK):
        updates = _case_updates(batch)
        updates.update({User.team: team_id, User.active: True, User.removed_at: None,
                        User.removed_from_team: None, User.synced_by_team: team_id})
        with database.atomic():
            User.update(updates).where(User.id.in_([join.user_id for join in batch])
                                       & User.team.is_null()).execute()
        progress(f"Added {len(batch)} users")


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


def _created_ids(plan, tenant_id):
    """Ids of the users this plan created, by object id, a chunk per query."""
    ids = {}
    object_ids = [join.entra_id for join in plan.creates]
    for batch in chunks(object_ids):
        query = User.select(User.entra_object_id, User.id).where(
            (User.entra_tenant_id == tenant_id) & User.entra_object_id.in_(batch))
        ids.update(query.tuples())
    return ids


def record_outcomes(plan, run_id, tenant_id):
    """Store the plan's per-user outcomes for the run, in chunks."""
    created = _created_ids(plan, tenant_id) if plan.creates else {}
    rows = [{"run": run_id, "entra_id": outcome.entra_id,
             "user": outcome.user_id or created.get(outcome.entra_id),
             "email": outcome.email[:320], "name": outcome.name[:200], "action": outcome.action,
             "reason": outcome.reason[:255]} for outcome in plan.outcomes]
    for batch in chunks(rows, CHUNK):
        with database.atomic():
            SyncOutcome.insert_many(batch).execute()


def apply_plan(plan, team_id, run_id, tenant_id, progress=lambda message: None):
    """Write the plan: creates, adds, updates, removals, then outcomes; returns the run's counts."""
    _create(plan, team_id, progress)
    _add(plan, team_id, progress)
    _update(plan, team_id, progress)
    _remove(plan, team_id, progress)
    record_outcomes(plan, run_id, tenant_id)
    return plan.counts()
