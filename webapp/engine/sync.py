"""One sync of a team, from the fetched group to the applied plan; the job around it owns locks and status."""

import json

from webapp.engine.apply import apply_plan
from webapp.engine.reconcile import SyncRules, fingerprint, reconcile
from webapp.engine.team_side import load_leader_ids, load_members, load_others
from webapp.microsoft import to_entra_user
from webapp.models import SyncOutcome, SyncRun, SyncSettings


class SyncNotReady(Exception):
    """The team cannot be synced as it is set up; `message` says what the leader must do."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


def fetch_group(graph, group_id, progress):
    """Every user of the group, normalised: complete, or the client's exception propagates."""
    users = []
    for page in graph.iter_group_user_pages(group_id):
        users.extend(to_entra_user(user) for user in page)
        progress(f"Read {len(users):,} users of the Sync Group")
    return users


def selected_ids(settings):
    """The saved Sync Users selection as a set of Entra ids, or None for All Users."""
    if settings.selected_user_ids is None:
        return None
    return frozenset(json.loads(settings.selected_user_ids))


def confirmed_removals(team_id, reviewed_run_id, group_fingerprint):
    """The user ids a leader confirmed in a needs-review run, if the group is still what was reviewed."""
    if reviewed_run_id is None:
        return None
    reviewed = SyncRun.get_or_none((SyncRun.id == reviewed_run_id) & (SyncRun.team == team_id)
                                   & (SyncRun.status == "needs_review"))
    if reviewed is None or reviewed.group_fingerprint != group_fingerprint:
        return None
    query = SyncOutcome.select(SyncOutcome.user).where(
        (SyncOutcome.run == reviewed.id) & (SyncOutcome.action == "would_remove"))
    return frozenset(row[0] for row in query.tuples() if row[0] is not None)


def sync_team(team_id, run_id, connection, graph, guard, progress, reviewed_run_id=None):
    """Fetch the group, plan against the team, apply; returns (plan, counts)."""
    settings = SyncSettings.get_or_none(SyncSettings.team == team_id)
    if settings is None or not settings.group_id:
        raise SyncNotReady("No Sync Group is chosen: choose one on the Azure Entra Sync page and Save.")
    progress("Reading the Sync Group from Microsoft")
    users = fetch_group(graph, settings.group_id, progress)
    group_fingerprint = fingerprint(users)
    SyncRun.update(group_id=settings.group_id, group_fingerprint=group_fingerprint,
                   graph_requests=graph.request_count).where(SyncRun.id == run_id).execute()
    progress("Comparing the group with the team")
    members = load_members(team_id)
    others = load_others(team_id, connection.tenant_id, users, members)
    rules = SyncRules(team_id=team_id, tenant_id=connection.tenant_id, selected_ids=selected_ids(settings),
                      allow_deletion=settings.allow_deletion, guard_percent=guard[0], guard_minimum=guard[1],
                      confirmed_removals=confirmed_removals(team_id, reviewed_run_id, group_fingerprint))
    plan = reconcile(users, members, others, load_leader_ids(team_id), rules)
    progress("Applying the changes")
    counts = apply_plan(plan, team_id, run_id, progress)
    return plan, counts
