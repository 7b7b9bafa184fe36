"""One sync of a team, from Microsoft to the applied plan; the job around it owns locks and status.

A run is incremental when the team's tracking state allows it (only what changed since the last run is
read, through delta queries) and a full pass otherwise: the first run, once per full-pass interval, after
the settings or the team changed by another path, when a delta link expired, when the nesting of groups
changed, and when an incremental plan would need a review.
"""

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webapp import membership
from webapp.engine import delta, person
from webapp.engine.apply import PlanWriter
from webapp.engine.lifecycle import HeldRun
from webapp.engine.read_ahead import ReadAhead
from webapp.engine.reconcile import (REASON_EMAIL_CHANGE_TAKEN, REASON_EMAIL_TAKEN, REASON_OTHER_TEAM, Plan,
                                     PlatformUser, Reconciler, RemovalScope, SyncRules, digest_lines, fingerprint_line,
                                     reconcile)
from webapp.engine.team_side import load_leader_ids, load_matching, load_members, load_others, load_outside
from webapp.engine.tracking import GroupTracker, TrackingState
from webapp.microsoft import DeltaExpired, EntraUser, GraphClient, MembershipMismatch, PermissionDenied, to_entra_user
from webapp.models import EntraConnection, SyncOutcome, SyncRun, SyncSettings

MAX_TRACKED_GROUPS = 50  # groups/delta takes at most this many `id eq` filters
MAX_NESTING_ROUNDS = 5  # first groups/delta rounds to follow nesting the index had not seen yet
MAX_LOOKUPS = 300  # joiners read by id (15 a request) before a full pass is cheaper
# Properties every Entra user has: a users/delta entry without one is read again (others may never have been set).
ALWAYS_SET = ("displayName", "userPrincipalName", "accountEnabled")
# Listed users the directory no longer holds in the group: more than this share means a bad read, not a lag.
SETTLE_TOLERANCE = (25, 0.01)
# Skips that depend on the platform, not on Entra: these users are looked at again on every run.
RECHECKED = frozenset({REASON_OTHER_TEAM, REASON_EMAIL_TAKEN, REASON_EMAIL_CHANGE_TAKEN})

log = logging.getLogger(__name__)


class SyncNotReady(Exception):
    """The team cannot be synced as it is set up; `message` says what the leader must do."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def selected_ids(settings: SyncSettings) -> frozenset[str] | None:
    """The saved Sync Users selection as a set of Entra ids, or None for All Users."""
    if settings.selected_user_ids is None:
        return None
    return frozenset(json.loads(settings.selected_user_ids))


def confirmed_removals(team_id: int, reviewed_run_id: int | None, group_fingerprint: str) -> frozenset[int] | None:
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


def team_rules(team_id: int, tenant_id: str, settings: SyncSettings, guard: tuple[float, int, int],
               confirmed: frozenset[int] | None = None) -> SyncRules:
    """The rules a run of the team follows: its saved settings and the deletion guard (percent, minimum, maximum)."""
    return SyncRules(team_id=team_id, tenant_id=tenant_id, selected_ids=selected_ids(settings),
                     allow_deletion=settings.allow_deletion, guard_percent=guard[0], guard_minimum=guard[1],
                     guard_maximum=guard[2], confirmed_removals=confirmed, include_guests=settings.include_guests)


def tracking_key(connection: EntraConnection, settings: SyncSettings, guard: tuple[float, int, int]) -> str:
    """A digest of everything a saved tracking state depends on besides the team's members."""
    parts = [connection.method, connection.tenant_id, connection.client_id, str(connection.connected_at),
             settings.group_id, settings.selected_user_ids, settings.allow_deletion, settings.include_guests,
             list(guard)]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def rechecked(plan: Plan, users_by_id: Mapping[str, EntraUser]) -> list[EntraUser]:
    """The group users of a plan skipped for reasons on the platform's side."""
    skipped = (outcome.entra_id for outcome in plan.outcomes
               if outcome.action == "skipped" and outcome.reason in RECHECKED)
    return [users_by_id[entra_id] for entra_id in skipped if entra_id is not None and entra_id in users_by_id]


@dataclass
class Tracking:
    """What a full pass starts following: delta links taken before the group is read, the nested groups and the
    direct users of the Sync Group and of each nested group, as the directory has them."""

    users_link: str
    groups_link: str
    nested: list
    membership: delta.Membership


@dataclass
class Changes:
    """What one incremental round found."""

    users_link: str
    groups_link: str
    moved: delta.Movement
    left: set  # ids of the users who left the group
    reasons: dict  # id of a user who left -> why, in the leader's words
    pending: dict  # id -> EntraUser skipped earlier for reasons on the platform's side
    evaluated: dict  # id -> EntraUser to compare with the team: the changed users in the group and the pending


class GroupRead:
    """What a full pass keeps of the group while its pages go by: the ids listed, the digest's lines and the users
    to look at again. The listing comes from an index that may lag by seconds: with tracking, a listed user the
    directory no longer holds in the group is left out, and `settle` names those who joined meanwhile."""

    def __init__(self, tracking: Tracking | None, group_id: str) -> None:
        self.in_group = tracking.membership.users_in([group_id, *tracking.nested]) if tracking else None
        self.ids: set[str] = set()
        self.lines: list[str] = []
        self.rechecked: list[EntraUser] = []
        self.listed = self.gone = 0

    def keep(self, users: Iterable[EntraUser], joined: bool = False) -> list[EntraUser]:
        """The users of a page that are in the group; counted."""
        kept = []
        for user in users:
            if not joined:
                self.listed += 1
                if self.in_group is not None and user.object_id not in self.in_group:
                    self.gone += 1
                    continue
            kept.append(user)
            if user.object_id not in self.ids:
                self.ids.add(user.object_id)
                self.lines.append(fingerprint_line(user))
        return kept

    def settle(self) -> list[str]:
        """The ids of users in the group the listing missed; raises when it listed too many who are not."""
        if self.in_group is None:
            return []
        allowed, share = SETTLE_TOLERANCE
        if self.gone > max(allowed, self.listed * share):
            raise MembershipMismatch(self.listed, self.gone)
        return sorted(self.in_group - self.ids)

    def fingerprint(self) -> str:
        """The digest of the group's users, as `fingerprint` gives it."""
        return digest_lines(self.lines)


@dataclass(frozen=True)
class SyncOptions:
    """The platform's settings a run follows: the deletion guard and how often a full pass is made."""

    guard: tuple[float, int, int]  # percent, minimum, maximum
    full_pass_seconds: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SyncOptions":
        return cls((config["DELETION_GUARD_PERCENT"], config["DELETION_GUARD_MINIMUM"],
                    config["DELETION_GUARD_MAXIMUM"]), config["SYNC_FULL_PASS_HOURS"] * 3600)


class TeamSync:
    """One run of one team, held by the job around it: an incremental pass when it can, else a full one."""

    def __init__(self, held: HeldRun, connection: EntraConnection, graph: GraphClient, options: SyncOptions) -> None:
        self.team_id, self.run_id, self.redis = held.team_id, held.run_id, held.redis
        self.progress, self.fence = held.progress, held.fence
        self.connection, self.graph, self.guard = connection, graph, options.guard
        self.tracker = GroupTracker(held.redis, held.team_id, options.full_pass_seconds)
        self.settings = SyncSettings.get_or_none(SyncSettings.team == self.team_id)
        if self.settings is None or not self.settings.group_id:
            raise SyncNotReady("No Sync Group is chosen: choose one on the Azure Entra Sync page and Save.")
        self.key = tracking_key(connection, self.settings, self.guard)
        self.members_version = membership.version(self.redis, self.team_id)

    def run(self, reviewed_run_id: int | None = None) -> tuple[Plan, dict[str, int], str]:
        """Sync the team; returns (plan, counts, mode) with mode "incremental" or "full"."""
        if reviewed_run_id is None:
            result = self.incremental()
            if result is not None:
                return (*result, "incremental")
        return (*self.full(reviewed_run_id), "full")

    def one_person(self, entra_id: str) -> tuple[Plan, dict[str, int], str]:
        """Apply the plan for one person of the tenant at once: the same rules and history as a run."""
        self.progress("Reading the person from Microsoft")
        facts = person.read_person(self.graph, self.settings.group_id, entra_id)
        SyncRun.update(group_id=self.settings.group_id, graph_requests=self.graph.request_count).where(
            SyncRun.id == self.run_id).execute()
        team_size = membership.team_size(self.redis, self.team_id)
        planned = person.plan_person(facts, self.team_id, self.connection.tenant_id, self.rules(), team_size)
        return planned.plan, self.apply(planned.plan), "person"

    def rules(self, confirmed: frozenset[int] | None = None) -> SyncRules:
        return team_rules(self.team_id, self.connection.tenant_id, self.settings, self.guard, confirmed)

    def writer(self) -> PlanWriter:
        return PlanWriter(self.team_id, self.run_id, self.progress, self.fence)

    def apply(self, plan: Plan, writer: PlanWriter | None = None) -> dict[str, int]:
        """Write the plan (the last part of one, when `writer` wrote the others) and move the team's membership
        version on (saved states expect that one step)."""
        if plan.outcomes or plan.updates:
            self.progress("Applying the changes")
        if plan.review_reason:
            SyncRun.update(notice=plan.review_reason).where(SyncRun.id == self.run_id).execute()
        writer = writer or self.writer()
        writer.write(plan)
        counts = writer.finish()
        membership.changed(self.redis, self.team_id)
        return counts

    def full(self, reviewed_run_id: int | None) -> tuple[Plan, dict[str, int]]:
        """Every user of the group against the whole team. Each page is planned and written while the next one
        is read; removals are planned only once the read is complete, counted and settled."""
        group_id = self.settings.group_id
        self.progress("Reading the Sync Group from Microsoft")
        tracking = self.start_tracking(group_id)
        members = load_members(self.team_id)
        reconciler = Reconciler(members, load_leader_ids(self.team_id), self.rules())
        writer, read, outside = self.writer(), GroupRead(tracking, group_id), load_outside(self.team_id)
        for page in ReadAhead(self.graph.iter_group_user_pages(group_id)):
            users = read.keep(to_entra_user(user) for user in page)
            self.progress(f"Read {read.listed:,} users of the Sync Group")
            self.write_part(reconciler, writer, users, read, outside)
        joined = read.settle()
        if joined:
            self.progress("Reading the users who joined while the group was read")
            fresh = [to_entra_user(user) for user in self.graph.get_users(joined)]
            self.write_part(reconciler, writer, read.keep(fresh, joined=True), read, outside)
        group_fingerprint = read.fingerprint()
        SyncRun.update(group_id=group_id, group_fingerprint=group_fingerprint,
                       graph_requests=self.graph.request_count).where(SyncRun.id == self.run_id).execute()
        reconciler.removals(confirmed_removals(self.team_id, reviewed_run_id, group_fingerprint))
        plan = reconciler.take()
        counts = self.apply(plan, writer)
        self.fence()
        if tracking is None or plan.needs_review:
            self.tracker.clear()
        else:
            holders = {holder: tracking.membership.users.get(holder, set()) for holder in (group_id, *tracking.nested)}
            self.tracker.save_full(self.key, self.members_version + 1, tracking.users_link, tracking.groups_link,
                                   sorted(read.ids), holders, read.rechecked)
        return plan, counts

    def write_part(self, reconciler: Reconciler, writer: PlanWriter, users: list[EntraUser], read: GroupRead,
                   outside: list[PlatformUser] | None) -> None:
        """Plan and write one part of the group: creates, adds, updates and skips; never a removal."""
        others = load_others(self.team_id, self.connection.tenant_id, users, side=reconciler.side, outside=outside)
        reconciler.read(users, others)
        part = reconciler.take()
        read.rechecked.extend(rechecked(part, {user.object_id: user for user in users}))
        writer.write(part)

    def start_tracking(self, group_id: str) -> Tracking | None:
        """Delta links that start now, taken before the group is read so nothing in between is missed, and the
        membership a first groups/delta round lists; None when the group cannot be tracked (too many nested
        groups, or no permission)."""
        try:
            nested = set(self.graph.nested_group_ids(group_id))
            users_link = self.graph.users_delta(latest=True).delta_link
            for _ in range(MAX_NESTING_ROUNDS):
                if len(nested) + 1 > MAX_TRACKED_GROUPS:
                    return None
                groups_round = self.graph.groups_delta(group_ids=[group_id, *sorted(nested)])
                membership = delta.read_membership(groups_round.items)
                reached = membership.nested_in(group_id)
                if reached <= nested:
                    return Tracking(users_link, groups_round.delta_link, sorted(reached), membership)
                nested = reached
        except PermissionDenied as exc:
            log.info("Team %s syncs without delta queries: %s", self.team_id, exc.message)
        return None

    def incremental(self) -> tuple[Plan, dict[str, int]] | None:
        """Apply what changed since the last run; None when a full pass is needed instead."""
        state = self.tracker.load(self.key, self.members_version)
        # A state without the Sync Group's own direct users (saved by an older version) cannot place leavers.
        if state is None or self.settings.group_id not in state.sizes:
            return None
        changes = self.read_changes(state)
        if changes is None:
            return None
        SyncRun.update(group_id=self.settings.group_id, graph_requests=self.graph.request_count).where(
            SyncRun.id == self.run_id).execute()
        plan = self.plan_changes(changes.evaluated, changes.left, changes.reasons)
        if plan.needs_review:
            return None
        counts = self.apply(plan)
        recheck = rechecked(plan, changes.evaluated)
        self.fence()
        settled = (set(changes.pending) | set(changes.evaluated) | changes.left) - {user.object_id for user in recheck}
        self.tracker.save_round(state, self.members_version + 1, changes.users_link, changes.groups_link,
                                changes.moved, recheck, sorted(settled))
        return plan, counts

    def read_changes(self, state: TrackingState) -> Changes | None:
        """One delta round of users and of the tracked groups, read into who moved and whom to compare;
        None when only a full pass can tell (expired links, nesting changed, too much to look up)."""
        self.progress("Reading the changes from Microsoft")
        try:
            users_round = self.graph.users_delta(state.users_link)
            groups_round = self.graph.groups_delta(state.groups_link)
        except (DeltaExpired, PermissionDenied) as exc:
            log.info("Team %s: full pass instead of delta (%s)", self.team_id, exc.message)
            return None
        group_changes = delta.read_groups_round(groups_round.items, set(state.holders))
        if group_changes.nesting_changed:
            return None
        user_changes = delta.read_users_round(users_round.items, ALWAYS_SET)
        touched = ({user_id for _, user_id in group_changes.memberships} | user_changes.removed
                   | set(user_changes.changed) | user_changes.incomplete)
        before = self.tracker.standing(state, touched)
        moved = delta.movement(before, group_changes, user_changes.removed)
        in_now = {user_id for user_id, now in moved.in_group.items() if now}
        lookups = sorted((moved.joined(before) - set(user_changes.changed)) | (user_changes.incomplete & in_now))
        if len(lookups) > MAX_LOOKUPS:
            return None
        fresh = {user_id: to_entra_user(user) for user_id, user in user_changes.changed.items() if user_id in in_now}
        fresh.update((user["id"], to_entra_user(user)) for user in self.graph.get_users(lookups)
                     if user["id"] in in_now)
        left = moved.left(before)
        reasons = delta.leaving_reasons(left, before, moved, user_changes.deleted_how, group_changes.names,
                                        self.settings.group_id, self.settings.group_name)
        pending = self.tracker.pending(state)
        evaluated = {user_id: user for user_id, user in pending.items() if user_id not in left}
        evaluated.update(fresh)
        return Changes(users_round.delta_link, groups_round.delta_link, moved, left, reasons, pending, evaluated)

    def plan_changes(self, evaluated: dict[str, EntraUser], left: set[str], reasons: dict[str, str]) -> Plan:
        """Plan for the changed users only: the members they can match, and removals limited to those who left."""
        if not evaluated and not left:
            return Plan()
        self.progress("Comparing the changes with the team")
        tenant_id = self.connection.tenant_id
        emails = {user.email.lower() for user in evaluated.values() if user.email}
        matching = load_matching(tenant_id, set(evaluated) | left, emails)
        members = [user for user in matching if user.team_id == self.team_id]
        others = [user for user in matching if user.team_id != self.team_id]
        leaving = frozenset(user.id for user in members
                            if user.entra_tenant_id == tenant_id and user.entra_object_id in left)
        scope = RemovalScope(leaving, membership.team_size(self.redis, self.team_id), reasons)
        return reconcile(list(evaluated.values()), members, others, load_leader_ids(self.team_id), self.rules(),
                         scope)

