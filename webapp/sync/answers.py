"""The answer to "why is this person (not) in my team?": each step that decides their fate, in a leader's words.

The steps read the facts Graph gave and the plan the reconcile step made for this one person, so the answer says
what a run does, by the same rules."""
from collections.abc import Collection
from dataclasses import dataclass

from webapp.engine.person import PersonFacts, PersonPlan
from webapp.engine.reconcile import EMAIL_OWNED, EMAIL_TAKEN, MAX_EMAIL, Plan, PlatformUser, SyncRules, TeamSide
from webapp.microsoft import EntraUser
from webapp.models import SyncOutcome, SyncRun, Team
from webapp.runs.queries import ACTION_LABELS

RECENT_RUNS = 20  # runs searched for the person's last outcome


@dataclass(frozen=True)
class Step:
    """One line of the answer: passed (True), failed (False) or a plain fact (None), and what the leader can do."""

    title: str
    passed: bool | None
    words: str
    remedy: str = ""


@dataclass(frozen=True)
class Answer:
    steps: list[Step]
    next_run: str
    changes: bool  # whether syncing this person now would change anything


def _group_step(facts: PersonFacts, group_name: str) -> Step:
    if facts.in_group and facts.directly:
        return Step("Member of the Sync Group", True, f"In {group_name} directly.")
    if facts.in_group:
        through = ", ".join(facts.through)
        return Step("Member of the Sync Group", True, f"In {group_name} through the nested group {through}.")
    return Step("Member of the Sync Group", False, f"Not in {group_name}, nor in any group nested in it.",
                f"Add them to {group_name} in Microsoft Entra, or to a group nested in it.")


def _guest_step(user: EntraUser, rules: SyncRules) -> Step:
    if not user.is_guest:
        return Step("Guest account", True, "A member account of your tenant, not a guest.")
    if rules.include_guests:
        return Step("Guest account", True, "A guest (#EXT#) account: this team includes guests.")
    return Step("Guest account", False, "A guest (#EXT#) account: this team leaves guests out.",
                "Choose Include guests in the sync settings and Save.")


def _selection_step(user: EntraUser, rules: SyncRules) -> Step:
    if rules.selected_ids is None:
        return Step("Selected in Sync Users", True, "All Users: everyone in the group who can be added.")
    if user.object_id in rules.selected_ids:
        return Step("Selected in Sync Users", True, "Selected in the Sync Users list.")
    count = len(rules.selected_ids)
    return Step("Selected in Sync Users", False,
                f"Not selected: only the {count} user{'' if count == 1 else 's'} selected in Sync Users are added.",
                "Select them in the Sync Users list, or choose Use All Users, then Save.")


def _email_step(user: EntraUser, platform_user: PlatformUser | None, conflict: str | None) -> Step:
    if conflict == EMAIL_TAKEN:
        return Step("Email address", False, f"{user.email} is already used by another Entra account on the platform.",
                    "Ask the platform's administrator which account holds it: accounts are never merged.")
    if conflict == EMAIL_OWNED:
        return Step("Email address", False,
                    f"{user.email} belongs to an existing account that the sync may not take over (it leads a "
                    "team, is deactivated, belongs to another Entra user, or the address is not in a domain of "
                    "your tenant).", "Ask the platform's administrator: accounts are never merged.")
    if platform_user is not None:
        return Step("Email address", True, f"Their account on the platform is {platform_user.email}.")
    if not user.email:
        return Step("Email address", False, "No email address in Entra: the platform needs one for the account.",
                    "An Entra administrator sets their mail address.")
    if len(user.email) > MAX_EMAIL:
        return Step("Email address", False, f"The email address is longer than {MAX_EMAIL} characters.",
                    "An Entra administrator shortens their mail address.")
    return Step("Email address", True, f"{user.email} is free: a new account will be created with it.")


def _team_step(platform_user: PlatformUser | None, team_id: int) -> Step:
    if platform_user is None or platform_user.team_id is None:
        return Step("Other teams", True, "Not in any team yet.")
    if platform_user.team_id == team_id:
        return Step("Other teams", True, "Already a member of this team.")
    other = Team.get_or_none(Team.id == platform_user.team_id)
    name = other.name if other else "another team"
    return Step("Other teams", False, f"In the team {name}: a user belongs to one team only.",
                f"A leader of {name} removes them from that team; then sync again.")


def last_run_step(team_id: int, entra_id: str, user_ids: Collection[int]) -> Step:
    """What the most recent runs that looked at this person did to them, and why."""
    runs = [row[0] for row in SyncRun.select(SyncRun.id).where(
        (SyncRun.team == team_id) & SyncRun.finished_at.is_null(False)).order_by(SyncRun.id.desc())
        .limit(RECENT_RUNS).tuples()]
    if not runs:
        return Step("Last sync run", None, "No sync of this team has run yet.")
    about = SyncOutcome.entra_id == entra_id
    if user_ids:
        about |= SyncOutcome.user.in_(list(user_ids))
    outcome = (SyncOutcome.select().where(SyncOutcome.run.in_(runs) & about)
               .order_by(SyncOutcome.run.desc(), SyncOutcome.id.desc()).first())
    if outcome is None:
        return Step("Last sync run", None, f"The last {len(runs)} sync runs changed nothing for them.")
    run = SyncRun.get_by_id(outcome.run_id)
    said = ACTION_LABELS.get(outcome.action, outcome.action) + (f": {outcome.reason}" if outcome.reason else "")
    later = "" if outcome.run_id == runs[0] else " Later runs changed nothing for them."
    return Step("Last sync run", None, f"Run #{run.id} ({run.created_at:%Y-%m-%d %H:%M} UTC): {said}.{later}")


def _next_run(plan: Plan, facts: PersonFacts, platform_user: PlatformUser | None, team_id: int,
              rules: SyncRules) -> str:
    """What the next run does to this person, from the plan the reconcile step made for them alone."""
    for outcome in plan.outcomes:
        if outcome.action == "created":
            return "Will be added to this team, with a new account."
        if outcome.action == "added":
            return "Will be added to this team, with their existing account."
        if outcome.action == "removed":
            return f"Will be removed from this team: {outcome.reason}."
        if outcome.action == "would_remove":
            return f"Would be removed ({outcome.reason}), once a leader confirms the removals."
    updated = [outcome for outcome in plan.outcomes if outcome.action == "updated"]
    skipped = [outcome for outcome in plan.outcomes if outcome.action == "skipped"]
    if updated:
        return f"Stays in this team; their {updated[0].reason.replace('_', ' ')} will follow Entra."
    if skipped:
        return f"Will not be added: {skipped[0].reason}."
    member = platform_user is not None and platform_user.team_id == team_id
    user = facts.entra_user
    if member and not rules.allow_deletion and (user is None or not facts.in_group or not user.enabled):
        why = "not in the Sync Group" if not facts.in_group else "disabled in Entra"
        return f"Stays in this team although {why}: Allow Deletion is off, so such members are kept."
    if member:
        return "Nothing changes: they are a member of this team and up to date."
    if user is not None and facts.in_group and rules.selected_ids is not None \
            and user.object_id not in rules.selected_ids:
        return "Will not be added: they are not selected in Sync Users."
    return "Nothing: people outside the Sync Group are not added."


def explain(facts: PersonFacts, planned: PersonPlan, team_id: int, tenant_name: str, group_name: str,
            rules: SyncRules) -> Answer:
    """Every step that decides the person's fate, and what the next run does to them."""
    user = facts.entra_user
    if user is None:
        steps = [Step("Found in the tenant", False, "Microsoft Entra has no such user any more: they were deleted.",
                      "Restore them in Entra (deleted users stay restorable for 30 days).")]
        steps.append(last_run_step(team_id, facts.entra_id, {row.id for row in planned.matching}))
        return Answer(steps, _next_run(planned.plan, facts, None, team_id, rules), _changes(planned.plan))
    side = TeamSide(planned.matching, rules.tenant_id)
    platform_user, conflict = side.match(user)
    steps = [Step("Found in the tenant", True, f"Found in {tenant_name}.")]
    if user.enabled:
        steps.append(Step("Account enabled", True, "The account is enabled in Entra."))
    else:
        steps.append(Step("Account enabled", False, "The account is disabled in Entra: a sync never adds a "
                          "disabled account, and with Allow Deletion on it removes one from the team.",
                          "An Entra administrator enables the account."))
    steps += [_group_step(facts, group_name), _guest_step(user, rules), _selection_step(user, rules),
              _email_step(user, platform_user, conflict), _team_step(platform_user, team_id),
              last_run_step(team_id, user.object_id, {row.id for row in planned.matching})]
    return Answer(steps, _next_run(planned.plan, facts, platform_user, team_id, rules), _changes(planned.plan))


def _changes(plan: Plan) -> bool:
    counts = plan.counts()
    return bool(counts["added"] or counts["updated"] or counts["removed"])
