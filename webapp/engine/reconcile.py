"""The reconcile step: a pure function from the group's users and the team side to a plan (no I/O)."""

import hashlib
from dataclasses import dataclass, field

SYNCED_FIELDS = ("name", "email", "job_title", "department")

WILL_BE_ADDED = "will_be_added"
IN_THIS_TEAM = "in_this_team"
IN_OTHER_TEAM = "in_other_team"
DISABLED = "disabled"
NO_EMAIL = "no_email"
EMAIL_TAKEN = "email_taken"
NOT_IN_GROUP = "not_in_group"

STATUS_LABELS = {
    WILL_BE_ADDED: "will be added",
    IN_THIS_TEAM: "already in this team",
    IN_OTHER_TEAM: "in another team",
    DISABLED: "disabled in Entra",
    NO_EMAIL: "no email address in Entra",
    EMAIL_TAKEN: "email used by another Entra account",
    NOT_IN_GROUP: "not in group",
}
SELECTABLE = frozenset({WILL_BE_ADDED})

REASON_OTHER_TEAM = "in another team"
REASON_DISABLED = "disabled in Entra"
REASON_NOT_IN_GROUP = "not in the group"
REASON_NO_EMAIL = "no email address in Entra"
REASON_EMAIL_TAKEN = "email used by another Entra account"
REASON_LEADER = "team leader: never removed"
REASON_EMAIL_CHANGE_TAKEN = "new email already used by another user; email kept"


@dataclass(frozen=True, slots=True)
class PlatformUser:
    """What the reconcile step needs to know about a user of the learning platform."""

    id: int
    email: str
    name: str
    job_title: str
    department: str
    team_id: int | None
    active: bool
    entra_tenant_id: str | None
    entra_object_id: str | None
    synced_by_team_id: int | None


@dataclass(frozen=True)
class SyncRules:
    """A team's settings as the plan needs them."""

    team_id: int
    tenant_id: str
    selected_ids: frozenset | None = None  # None means All Users
    allow_deletion: bool = False
    guard_percent: float = 10.0
    guard_minimum: int = 25
    confirmed_removals: frozenset | None = None  # user ids a leader confirmed after a review


@dataclass(frozen=True)
class RemovalScope:
    """An incremental run sees part of the team: only these members may be removed, and the deletion guard
    measures removals against the whole team."""

    member_ids: frozenset
    team_size: int


@dataclass(frozen=True, slots=True)
class Join:
    """An existing user (`user_id`) or a new one (`user_id` None) joins the team with these values."""

    user_id: int | None
    entra_id: str
    values: dict


@dataclass(frozen=True, slots=True)
class Change:
    """New values for a user already in the team."""

    user_id: int
    entra_id: str
    values: dict
    visible: bool  # False when only the stored Entra ids change


@dataclass(frozen=True, slots=True)
class Outcome:
    """One line of the run's per-user report."""

    action: str  # created, added, updated, removed, skipped, would_remove
    reason: str
    entra_id: str | None
    user_id: int | None
    email: str
    name: str


@dataclass
class Plan:
    """What applying the sync will do to the team."""

    creates: list = field(default_factory=list)
    adds: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    removals: list = field(default_factory=list)  # user ids
    held_removals: list = field(default_factory=list)  # user ids kept back by the deletion guard
    outcomes: list = field(default_factory=list)
    needs_review: bool = False
    skipped_other_team: int = 0
    skipped_disabled: int = 0

    def counts(self):
        """The run's counts: added includes created users."""
        return {
            "added": len(self.creates) + len(self.adds),
            "created": len(self.creates),
            "updated": sum(1 for change in self.updates if change.visible),
            "removed": len(self.removals),
            "skipped_other_team": self.skipped_other_team,
            "skipped_disabled": self.skipped_disabled,
        }


class TeamSide:
    """The platform users a group can match, indexed by (tenant, object id) and by lower-case email."""

    def __init__(self, users, tenant_id):
        self.tenant_id = tenant_id
        self.by_object_id = {}
        self.by_email = {}
        for user in users:
            if user.entra_object_id and user.entra_tenant_id == tenant_id:
                self.by_object_id[user.entra_object_id] = user
            self.by_email[user.email.lower()] = user

    def match(self, entra_user):
        """(user, conflict): by stored object id, else by email unless that user is linked to another Entra user."""
        user = self.by_object_id.get(entra_user.object_id)
        if user is not None:
            return user, False
        if not entra_user.email:
            return None, False
        user = self.by_email.get(entra_user.email.lower())
        if user is None:
            return None, False
        if user.entra_object_id and user.entra_tenant_id == self.tenant_id:
            return None, True
        return user, False


def status(entra_user, user, conflict, team_id):
    """The Sync Users status of one group user given its matched platform user."""
    if user is not None and user.team_id == team_id:
        return DISABLED if not entra_user.enabled else IN_THIS_TEAM
    if user is not None and user.team_id is not None:
        return IN_OTHER_TEAM
    if not entra_user.enabled:
        return DISABLED
    if conflict:
        return EMAIL_TAKEN
    if user is None and not entra_user.email:
        return NO_EMAIL
    return WILL_BE_ADDED


def user_status(entra_user, side, team_id):
    """The Sync Users status of one group user: match it in `side`, then decide."""
    user, conflict = side.match(entra_user)
    return status(entra_user, user, conflict, team_id)


def fingerprint(entra_users):
    """A digest of who is in the group and enabled: equal digests mean the same removals."""
    lines = sorted(f"{user.object_id}:{int(user.enabled)}\n" for user in entra_users)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def guard_threshold(team_size, rules):
    """The most removals one run may make without a review."""
    return max(team_size * rules.guard_percent / 100.0, rules.guard_minimum)


def entra_values(entra_user):
    """The synced fields as Entra has them."""
    return {
        "name": entra_user.display_name[:200],
        "email": (entra_user.email or "").lower(),
        "job_title": (entra_user.job_title or "")[:200],
        "department": (entra_user.department or "")[:200],
    }


def _link_values(user, entra_user, tenant_id):
    if user.entra_object_id == entra_user.object_id and user.entra_tenant_id == tenant_id:
        return {}
    return {"entra_tenant_id": tenant_id, "entra_object_id": entra_user.object_id}


def _outcome(action, reason, entra_user=None, user=None, values=None):
    email = (values or {}).get("email") or (user.email if user else (entra_user.email or "").lower())
    name = (values or {}).get("name") or (user.name if user else entra_user.display_name)
    return Outcome(action, reason, entra_user.object_id if entra_user else None,
                   user.id if user else None, email, name)


class _Planner:
    """Builds one plan; keeps track of emails claimed so no two users end with one address."""

    def __init__(self, side, members, leader_ids, rules, scope):
        self.side = side
        self.scope = scope
        self.members = members
        self.leader_ids = leader_ids
        self.rules = rules
        self.plan = Plan()
        self.emails_in_use = {user.email.lower(): user.id for user in members}
        self.emails_in_use.update((email, user.id) for email, user in side.by_email.items())

    def claim(self, email, user_id):
        """Reserve an email for a user; False when another user has it."""
        owner = self.emails_in_use.get(email, user_id)
        if owner != user_id:
            return False
        self.emails_in_use[email] = user_id
        return True

    def follow(self, user, entra_user, values):
        """The values to write so `user` follows Entra; an email another user has is kept as it is."""
        changes = {name: value for name, value in values.items() if getattr(user, name) != value}
        if "email" in changes and (not changes["email"] or not self.claim(changes["email"], user.id)):
            if changes["email"]:
                self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_CHANGE_TAKEN, entra_user, user))
            del changes["email"]
        return changes

    def member_in_group(self, user, entra_user):
        values = {}
        if user.synced_by_team_id == self.rules.team_id:
            values = self.follow(user, entra_user, entra_values(entra_user))
        visible = bool(values)
        values.update(_link_values(user, entra_user, self.rules.tenant_id))
        if values:
            self.plan.updates.append(Change(user.id, entra_user.object_id, values, visible))
            if visible:
                self.plan.outcomes.append(_outcome("updated", ", ".join(sorted(
                    name for name in values if name in SYNCED_FIELDS)), entra_user, user, values))

    def candidate(self, entra_user, user, conflict):
        state = status(entra_user, user, conflict, self.rules.team_id)
        if state == IN_OTHER_TEAM:
            self.plan.skipped_other_team += 1
            self.plan.outcomes.append(_outcome("skipped", REASON_OTHER_TEAM, entra_user, user))
        elif state == DISABLED:
            self.plan.skipped_disabled += 1
            self.plan.outcomes.append(_outcome("skipped", REASON_DISABLED, entra_user, user))
        elif state == EMAIL_TAKEN:
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_TAKEN, entra_user))
        elif state == NO_EMAIL:
            self.plan.outcomes.append(_outcome("skipped", REASON_NO_EMAIL, entra_user))
        elif user is None:
            self.create(entra_user)
        else:
            self.add(entra_user, user)

    def create(self, entra_user):
        values = entra_values(entra_user)
        if not self.claim(values["email"], ("new", entra_user.object_id)):
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_TAKEN, entra_user))
            return
        values.update(entra_tenant_id=self.rules.tenant_id, entra_object_id=entra_user.object_id)
        self.plan.creates.append(Join(None, entra_user.object_id, values))
        self.plan.outcomes.append(_outcome("created", "", entra_user, values=values))

    def add(self, entra_user, user):
        values = self.follow(user, entra_user, entra_values(entra_user))
        values.update(_link_values(user, entra_user, self.rules.tenant_id))
        self.plan.adds.append(Join(user.id, entra_user.object_id, values))
        self.plan.outcomes.append(_outcome("added", "", entra_user, user, values))

    def removals(self, in_group, disabled_member_ids):
        """Members not in the group or disabled in Entra, leaders excepted, then the deletion guard."""
        candidates, team_size = self.members, len(self.members)
        if self.scope is not None:
            candidates = [user for user in self.members
                          if user.id in self.scope.member_ids or user.id in disabled_member_ids]
            team_size = self.scope.team_size
        wanted = []
        for user in candidates:
            reason = REASON_DISABLED if user.id in disabled_member_ids else (
                REASON_NOT_IN_GROUP if user.id not in in_group else None)
            if reason is None:
                continue
            if user.id in self.leader_ids:
                self.plan.outcomes.append(_outcome("skipped", REASON_LEADER, user=user))
                continue
            wanted.append((user, reason))
        confirmed = self.rules.confirmed_removals
        if confirmed is not None:
            wanted = [(user, reason) for user, reason in wanted if user.id in confirmed]
        elif len(wanted) > guard_threshold(team_size, self.rules):
            self.plan.needs_review = True
            self.plan.held_removals = [user.id for user, _ in wanted]
            self.plan.outcomes.extend(_outcome("would_remove", reason, user=user) for user, reason in wanted)
            return
        self.plan.removals = [user.id for user, _ in wanted]
        self.plan.outcomes.extend(_outcome("removed", reason, user=user) for user, reason in wanted)


def reconcile(group_users, members, others, leader_ids, rules, scope=None):
    """The plan that makes the team follow the group: creates, adds, updates, removals and skips.

    A full pass gives every group user and every member; an incremental one gives the users that changed
    and the members they can match, with a `scope` for removals."""
    side = TeamSide([*members, *others], rules.tenant_id)
    planner = _Planner(side, members, frozenset(leader_ids), rules, scope)
    in_group = set()
    disabled_member_ids = set()
    seen = set()
    for entra_user in group_users:
        if entra_user.object_id in seen:
            continue
        seen.add(entra_user.object_id)
        user, conflict = side.match(entra_user)
        if user is not None and user.team_id == rules.team_id:
            in_group.add(user.id)
            if not entra_user.enabled:
                disabled_member_ids.add(user.id)
            planner.member_in_group(user, entra_user)
        elif rules.selected_ids is None or entra_user.object_id in rules.selected_ids:
            planner.candidate(entra_user, user, conflict)
    if rules.allow_deletion:
        planner.removals(in_group, disabled_member_ids)
    return planner.plan
