"""The reconcile step: a pure function from the group's users and the team side to a plan (no I/O)."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from webapp.microsoft.users import EntraUser

SYNCED_FIELDS = ("name", "email", "job_title", "department")

WILL_BE_ADDED = "will_be_added"
IN_THIS_TEAM = "in_this_team"
IN_OTHER_TEAM = "in_other_team"
DISABLED = "disabled"
NO_EMAIL = "no_email"
EMAIL_TAKEN = "email_taken"
EMAIL_OWNED = "email_owned"
EMAIL_TOO_LONG = "email_too_long"
GUEST_LEFT_OUT = "guest_left_out"

MAX_EMAIL = 320  # the users table's limits
MAX_TEXT = 200
MAX_OBJECT_ID = 36

STATUS_LABELS = {
    WILL_BE_ADDED: "will be added",
    IN_THIS_TEAM: "already in this team",
    IN_OTHER_TEAM: "in another team",
    DISABLED: "disabled in Entra",
    NO_EMAIL: "no email address in Entra",
    EMAIL_TAKEN: "email used by another Entra account",
    EMAIL_OWNED: "email belongs to an existing account",
    EMAIL_TOO_LONG: "email address too long",
    GUEST_LEFT_OUT: "guest: this team leaves guests out",
}
SELECTABLE = frozenset({WILL_BE_ADDED})

REASON_OTHER_TEAM = "in another team"
REASON_DISABLED = "disabled in Entra"
REASON_NOT_IN_GROUP = "not in the group"
REASON_NO_EMAIL = "no email address in Entra"
REASON_EMAIL_TAKEN = "email used by another Entra account"
REASON_EMAIL_OWNED = "email belongs to an existing account"
REASON_EMAIL_TOO_LONG = f"email address in Entra is longer than {MAX_EMAIL} characters"
REASON_BAD_ID = "Entra object id not recognised"
REASON_LEADER = "team leader: never removed"
REASON_EMAIL_CHANGE_TAKEN = "new email already used by another user; email kept"
REASON_GUEST_LEFT_OUT = "guest account: this team leaves guests out"
REASON_DELETED = {"changed": "deleted in Entra (in its deleted items, restorable there for 30 days)",
                  "deleted": "permanently deleted in Entra"}
REASON_NOT_FOUND = "no longer in Entra (deleted)"
REASON_CONFIRMED = "removed by a confirmed review"


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
    leads_team: bool = False  # leads any team of the platform


@dataclass(frozen=True)
class SyncRules:
    """A team's settings as the plan needs them."""

    team_id: int
    tenant_id: str
    selected_ids: frozenset[str] | None = None  # None means All Users
    allow_deletion: bool = False
    guard_percent: float = 10.0
    guard_minimum: int = 25
    guard_maximum: int = 500  # removals one run may make, whatever the team's size
    confirmed_removals: frozenset[int] | None = None  # user ids a leader confirmed after a review
    include_guests: bool = True  # guest accounts (#EXT#) may join the team


@dataclass(frozen=True)
class RemovalScope:
    """An incremental run sees part of the team: only these members may be removed, and the deletion guard
    measures removals against the whole team."""

    member_ids: frozenset[int]
    team_size: int
    # Entra object id -> why that member left (else "not in the group")
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Join:
    """An existing user (`user_id`) or a new one (`user_id` None) joins the team with these values."""

    user_id: int | None
    entra_id: str
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Change:
    """New values for a user already in the team."""

    user_id: int
    entra_id: str
    values: dict[str, str]
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

    creates: list[Join] = field(default_factory=list)
    adds: list[Join] = field(default_factory=list)
    updates: list[Change] = field(default_factory=list)
    removals: list[int] = field(default_factory=list)  # user ids
    held_removals: list[int] = field(default_factory=list)  # user ids kept back by the deletion guard
    outcomes: list[Outcome] = field(default_factory=list)
    needs_review: bool = False
    review_reason: str = ""  # why the run stopped for review, in the leader's words
    skipped_other_team: int = 0
    skipped_disabled: int = 0

    def counts(self) -> dict[str, int]:
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

    def __init__(self, users: Iterable[PlatformUser], tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.by_object_id: dict[str, PlatformUser] = {}
        self.by_email: dict[str, PlatformUser] = {}
        self.add(users)

    def add(self, users: Iterable[PlatformUser]) -> None:
        """Index more platform users (a later one with the same key wins)."""
        for user in users:
            if user.entra_object_id and user.entra_tenant_id == self.tenant_id:
                self.by_object_id[user.entra_object_id] = user
            self.by_email[user.email.lower()] = user

    def match(self, entra_user: EntraUser) -> tuple[PlatformUser | None, str | None]:
        """(user, conflict): the account linked to (tenant, object id), the durable identity; else the account
        holding the email when it may be adopted. A conflict (EMAIL_TAKEN, EMAIL_OWNED) says why an account with
        that email is not this Entra user's; with EMAIL_OWNED the account is returned too."""
        user = self.by_object_id.get(entra_user.object_id)
        if user is not None:
            return user, None
        if not entra_user.email:
            return None, None
        user = self.by_email.get(entra_user.email.lower())
        if user is None:
            return None, None
        if user.entra_object_id and user.entra_tenant_id == self.tenant_id:
            return None, EMAIL_TAKEN
        if not adoptable(user, entra_user):
            return user, EMAIL_OWNED
        return user, None


def adoptable(user: PlatformUser, entra_user: EntraUser) -> bool:
    """Whether an account not linked to this Entra user may become theirs by email: the tenant provably owns the
    address, and the account is active, leads no team and is linked to no other tenant or object."""
    return entra_user.email_proven and user.active and not user.leads_team and user.entra_object_id is None


def status(entra_user: EntraUser, user: PlatformUser | None, conflict: str | None, team_id: int,
           include_guests: bool = True) -> str:
    """The Sync Users status of one group user given its matched platform user."""
    if user is not None and user.team_id == team_id:
        return DISABLED if not entra_user.enabled and conflict is None else IN_THIS_TEAM
    if user is not None and user.team_id is not None:
        return IN_OTHER_TEAM
    if not entra_user.enabled:
        return DISABLED
    if entra_user.is_guest and not include_guests:
        return GUEST_LEFT_OUT
    if conflict:
        return conflict
    if user is None and not entra_user.email:
        return NO_EMAIL
    if user is None and len(entra_user.email or "") > MAX_EMAIL:
        return EMAIL_TOO_LONG
    return WILL_BE_ADDED


def user_status(entra_user: EntraUser, side: TeamSide, team_id: int, include_guests: bool = True) -> str:
    """The Sync Users status of one group user: match it in `side`, then decide."""
    user, conflict = side.match(entra_user)
    return status(entra_user, user, conflict, team_id, include_guests)


def fingerprint_line(entra_user: EntraUser) -> str:
    """One user's line of the group's digest."""
    return f"{entra_user.object_id}:{int(entra_user.enabled)}\n"


def fingerprint(entra_users: Iterable[EntraUser]) -> str:
    """A digest of who is in the group and enabled: equal digests mean the same removals."""
    return digest_lines(fingerprint_line(user) for user in entra_users)


def digest_lines(lines: Iterable[str]) -> str:
    """The digest of a group's lines, in any order."""
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def guard_threshold(team_size: int, rules: SyncRules) -> float:
    """The most removals one run may make without a review: a share of the team, at least a minimum, and never
    more than an absolute maximum."""
    return min(max(team_size * rules.guard_percent / 100.0, rules.guard_minimum), rules.guard_maximum)


def entra_values(entra_user: EntraUser) -> dict[str, str]:
    """The synced fields as Entra has them, texts cut to the platform's limits (an email never is)."""
    return {
        "name": entra_user.display_name[:MAX_TEXT],
        "email": (entra_user.email or "").lower(),
        "job_title": (entra_user.job_title or "")[:MAX_TEXT],
        "department": (entra_user.department or "")[:MAX_TEXT],
    }


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def empty_read_reason(wanted: int) -> str:
    return (f"Microsoft listed no users in the Sync Group, so this sync removed nobody ({_plural(wanted, 'member')} "
            "would have been removed). If the group really is empty now, check the list and Confirm removals.")


def guard_reason(wanted: int, threshold: float) -> str:
    return (f"This sync would remove {_plural(wanted, 'member')}, more than the deletion guard allows in one run "
            f"({int(threshold):,}), so it removed nobody. Check the list, then Confirm removals.")


def _link_values(user: PlatformUser, entra_user: EntraUser, tenant_id: str) -> dict[str, str]:
    if user.entra_object_id == entra_user.object_id and user.entra_tenant_id == tenant_id:
        return {}
    return {"entra_tenant_id": tenant_id, "entra_object_id": entra_user.object_id}


def _outcome(action: str, reason: str, entra_user: EntraUser | None = None, user: PlatformUser | None = None,
             values: dict[str, str] | None = None) -> Outcome:
    if user is not None:
        email, name = user.email, user.name
    elif entra_user is not None:
        email, name = (entra_user.email or "").lower(), entra_user.display_name
    else:
        raise ValueError("an outcome is about a platform user, an Entra user or both")
    values = values or {}
    return Outcome(action, reason, entra_user.object_id if entra_user else None,
                   user.id if user else None, values.get("email") or email, values.get("name") or name)


class _Planner:
    """Builds one plan; keeps track of emails claimed so no two users end with one address."""

    def __init__(self, side: TeamSide, members: list[PlatformUser], leader_ids: frozenset[int], rules: SyncRules,
                 scope: RemovalScope | None) -> None:
        self.side = side
        self.scope = scope
        self.members = members
        self.leader_ids = leader_ids
        self.rules = rules
        self.plan = Plan()
        self.emails_in_use: dict[str, int | tuple[str, str]] = {user.email.lower(): user.id for user in members}
        self.emails_in_use.update((email, user.id) for email, user in side.by_email.items())

    def learn(self, others: Iterable[PlatformUser]) -> None:
        """Platform users outside the team that later group users can match; their emails are taken."""
        self.side.add(others)
        self.emails_in_use.update((user.email.lower(), user.id) for user in others)

    def claim(self, email: str, user_id: int | tuple[str, str]) -> bool:
        """Reserve an email for a user; False when another user has it."""
        owner = self.emails_in_use.get(email, user_id)
        if owner != user_id:
            return False
        self.emails_in_use[email] = user_id
        return True

    def follow(self, user: PlatformUser, entra_user: EntraUser, values: dict[str, str]) -> dict[str, str]:
        """The values to write so `user` follows Entra; an email another user has is kept as it is."""
        changes = {name: value for name, value in values.items() if getattr(user, name) != value}
        email = changes.get("email")
        if email is not None and (not email or len(email) > MAX_EMAIL or not self.claim(email, user.id)):
            if email:
                reason = REASON_EMAIL_TOO_LONG if len(email) > MAX_EMAIL else REASON_EMAIL_CHANGE_TAKEN
                self.plan.outcomes.append(_outcome("skipped", reason, entra_user, user))
            del changes["email"]
        return changes

    def member_in_group(self, user: PlatformUser, entra_user: EntraUser) -> None:
        values: dict[str, str] = {}
        if user.synced_by_team_id == self.rules.team_id:
            values = self.follow(user, entra_user, entra_values(entra_user))
        visible = bool(values)
        values.update(_link_values(user, entra_user, self.rules.tenant_id))
        if values:
            self.plan.updates.append(Change(user.id, entra_user.object_id, values, visible))
            if visible:
                self.plan.outcomes.append(_outcome("updated", ", ".join(sorted(
                    name for name in values if name in SYNCED_FIELDS)), entra_user, user, values))

    def candidate(self, entra_user: EntraUser, user: PlatformUser | None, conflict: str | None) -> None:
        state = status(entra_user, user, conflict, self.rules.team_id, self.rules.include_guests)
        if state == IN_OTHER_TEAM:
            self.plan.skipped_other_team += 1
            self.plan.outcomes.append(_outcome("skipped", REASON_OTHER_TEAM, entra_user, user))
        elif state == DISABLED:
            self.plan.skipped_disabled += 1
            self.plan.outcomes.append(_outcome("skipped", REASON_DISABLED, entra_user, user))
        elif state == EMAIL_TAKEN:
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_TAKEN, entra_user))
        elif state == EMAIL_OWNED:
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_OWNED, entra_user))
        elif state == EMAIL_TOO_LONG:
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_TOO_LONG, entra_user))
        elif state == NO_EMAIL:
            self.plan.outcomes.append(_outcome("skipped", REASON_NO_EMAIL, entra_user))
        elif state == GUEST_LEFT_OUT:
            self.plan.outcomes.append(_outcome("skipped", REASON_GUEST_LEFT_OUT, entra_user))
        elif user is None:
            self.create(entra_user)
        else:
            self.add(entra_user, user)

    def create(self, entra_user: EntraUser) -> None:
        values = entra_values(entra_user)
        if not self.claim(values["email"], ("new", entra_user.object_id)):
            self.plan.outcomes.append(_outcome("skipped", REASON_EMAIL_TAKEN, entra_user))
            return
        values.update(entra_tenant_id=self.rules.tenant_id, entra_object_id=entra_user.object_id)
        self.plan.creates.append(Join(None, entra_user.object_id, values))
        self.plan.outcomes.append(_outcome("created", "", entra_user, values=values))

    def add(self, entra_user: EntraUser, user: PlatformUser) -> None:
        values = self.follow(user, entra_user, entra_values(entra_user))
        values.update(_link_values(user, entra_user, self.rules.tenant_id))
        self.plan.adds.append(Join(user.id, entra_user.object_id, values))
        self.plan.outcomes.append(_outcome("added", "", entra_user, user, values))

    def removals(self, in_group: set[int], disabled_member_ids: set[int], group_size: int) -> None:
        """Members not in the group or disabled in Entra, leaders excepted, then the deletion guard: a full read
        with no users at all, or more removals than the threshold, waits for review."""
        candidates, team_size, reasons = self.members, len(self.members), dict[str, str]()
        if self.scope is not None:
            reasons = self.scope.reasons
            candidates = [user for user in self.members
                          if user.id in self.scope.member_ids or user.id in disabled_member_ids]
            team_size = self.scope.team_size
        wanted: list[tuple[PlatformUser, str]] = []
        for user in candidates:
            reason = REASON_DISABLED if user.id in disabled_member_ids else (
                reasons.get(user.entra_object_id or "", REASON_NOT_IN_GROUP) if user.id not in in_group else None)
            if reason is None:
                continue
            if user.id in self.leader_ids:
                self.plan.outcomes.append(_outcome("skipped", REASON_LEADER, user=user))
                continue
            wanted.append((user, reason))
        confirmed = self.rules.confirmed_removals
        threshold = guard_threshold(team_size, self.rules)
        if confirmed is not None:
            wanted = [(user, f"{reason}; {REASON_CONFIRMED}") for user, reason in wanted if user.id in confirmed]
        elif wanted and self.scope is None and group_size == 0:
            self.plan.review_reason = empty_read_reason(len(wanted))
        elif len(wanted) > threshold:
            self.plan.review_reason = guard_reason(len(wanted), threshold)
        if self.plan.review_reason:
            self.plan.needs_review = True
            self.plan.held_removals = [user.id for user, _ in wanted]
            self.plan.outcomes.extend(_outcome("would_remove", reason, user=user) for user, reason in wanted)
            return
        self.plan.removals = [user.id for user, _ in wanted]
        self.plan.outcomes.extend(_outcome("removed", reason, user=user) for user, reason in wanted)


class Reconciler:
    """The reconcile step fed in parts: the group's users a page at a time, each page with the platform users
    outside the team it can match, then the removals once the whole group is known. `take` hands over the plan
    so far, so each part can be applied before the next is read. Pure, like `reconcile`."""

    def __init__(self, members: list[PlatformUser], leader_ids: Iterable[int], rules: SyncRules,
                 scope: RemovalScope | None = None) -> None:
        self.rules = rules
        self.side = TeamSide(members, rules.tenant_id)
        self.planner = _Planner(self.side, members, frozenset(leader_ids), rules, scope)
        self.in_group: set[int] = set()
        self.disabled_member_ids: set[int] = set()
        self.seen: set[str] = set()

    def read(self, group_users: Iterable[EntraUser], others: Iterable[PlatformUser] = ()) -> None:
        """Plan for these group users (a user seen in an earlier part is not planned twice)."""
        planner, rules, side = self.planner, self.rules, self.side
        planner.learn(others)
        for entra_user in group_users:
            if entra_user.object_id in self.seen:
                continue
            self.seen.add(entra_user.object_id)
            if len(entra_user.object_id) > MAX_OBJECT_ID:
                planner.plan.outcomes.append(_outcome("skipped", REASON_BAD_ID, entra_user))
                continue
            user, conflict = side.match(entra_user)
            if user is not None and user.team_id == rules.team_id:
                self.in_group.add(user.id)  # a member whose email matches is never removed, even when not adopted
                if conflict is None:
                    if not entra_user.enabled:
                        self.disabled_member_ids.add(user.id)
                    planner.member_in_group(user, entra_user)
            elif rules.selected_ids is None or entra_user.object_id in rules.selected_ids:
                planner.candidate(entra_user, user, conflict)

    def removals(self, confirmed: frozenset[int] | None = None) -> None:
        """Plan the removals (with Allow Deletion): only once every group user has been read. `confirmed`, when
        given, is the set of user ids a leader confirmed after a review."""
        if confirmed is not None:
            self.planner.rules = replace(self.rules, confirmed_removals=confirmed)
        if self.rules.allow_deletion:
            self.planner.removals(self.in_group, self.disabled_member_ids, len(self.seen))

    def take(self) -> Plan:
        """The plan of the parts read since the last take; the next parts start a new one."""
        plan, self.planner.plan = self.planner.plan, Plan()
        return plan


def reconcile(group_users: Iterable[EntraUser], members: list[PlatformUser], others: Iterable[PlatformUser],
              leader_ids: Iterable[int], rules: SyncRules, scope: RemovalScope | None = None) -> Plan:
    """The plan that makes the team follow the group: creates, adds, updates, removals and skips.

    A full pass gives every group user and every member; an incremental one gives the users that changed
    and the members they can match, with a `scope` for removals."""
    reconciler = Reconciler(members, leader_ids, rules, scope)
    reconciler.read(group_users, others)
    reconciler.removals()
    return reconciler.take()
