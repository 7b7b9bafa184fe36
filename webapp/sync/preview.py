"""Before Save changes the Sync Group, the user selection or the guest choice, or turns Allow Deletion on: the plan
the next run makes with the new settings, by the reconcile step a run uses, over the group as Graph lists it."""
import json
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app

from webapp.engine.reconcile import Outcome, reconcile
from webapp.engine.team_sync import team_rules
from webapp.engine.team_side import load_leader_ids, load_members, load_others
from webapp.microsoft import EntraUser
from webapp.models import EntraConnection, SyncSettings, Team
from webapp.sync.context import deletion_guard, graph_client
from webapp.sync.group_users import GroupUsers

FRESH_SECONDS = 60  # a copy of the group older than this is read again, so the preview is what a run reads now
LISTED = 200  # outcomes listed under the counts


@dataclass
class Preview:
    counts: dict[str, int]
    held: int  # removals the deletion guard would hold for a review
    review_reason: str
    changes: list[Outcome]  # the outcomes that change someone, the first LISTED
    more: int  # changes not listed
    skipped: int


def needs_preview(saved: SyncSettings, form: dict[str, Any]) -> bool:
    """Whether saving `form` changes what a run adds or removes: another Sync Group, another selection, another
    guest choice, or Allow Deletion turned on. Choosing the first Sync Group needs none: the Sync Users list shows
    what the first run does."""
    if not form["group_id"] or not saved.group_id:
        return False
    selected = json.loads(saved.selected_user_ids) if saved.selected_user_ids else []
    return (form["group_id"] != saved.group_id or sorted(form["user_ids"]) != sorted(selected)
            or form["include_guests"] != saved.include_guests or (form["allow_deletion"] and not saved.allow_deletion))


def _group_users(team: Team, connection: EntraConnection, group_id: str) -> list[EntraUser]:
    group_users = GroupUsers(current_app.extensions["redis"], team.id, group_id)
    info = group_users.info()
    reload = info is None or time.time() - info["fetched_at"] > FRESH_SECONDS
    group_users.ensure(lambda: graph_client(connection), group_id, reload)
    return group_users.everyone()


def preview(team: Team, connection: EntraConnection, form: dict[str, Any]) -> Preview:
    """What the next run does with the settings of `form` (it makes a full pass: the settings changed)."""
    settings = SyncSettings(team=team.id, group_id=form["group_id"],
                            selected_user_ids=json.dumps(form["user_ids"]) if form["user_ids"] else None,
                            allow_deletion=form["allow_deletion"], include_guests=form["include_guests"])
    users = _group_users(team, connection, form["group_id"])
    members = load_members(team.id)
    others = load_others(team.id, connection.tenant_id, users, members)
    plan = reconcile(users, members, others, load_leader_ids(team.id),
                     team_rules(team.id, connection.tenant_id, settings, deletion_guard()))
    changes = [outcome for outcome in plan.outcomes if outcome.action in ("created", "added", "updated", "removed",
                                                                          "would_remove")]
    skipped = sum(1 for outcome in plan.outcomes if outcome.action == "skipped")
    return Preview(plan.counts(), len(plan.held_removals), plan.review_reason, changes[:LISTED],
                   max(0, len(changes) - LISTED), skipped)
