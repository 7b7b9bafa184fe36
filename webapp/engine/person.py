"""One person of the tenant, evaluated by the same reconcile step as a run: what Microsoft says about them (a few
Graph requests, never the whole group) and the plan for them alone."""

from dataclasses import dataclass, field

from webapp.engine.reconcile import (REASON_NOT_FOUND, REASON_NOT_IN_GROUP, Plan, PlatformUser, RemovalScope, SyncRules,
                                     reconcile)
from webapp.engine.team_side import load_leader_ids, load_matching
from webapp.microsoft import EntraUser, GraphClient, to_entra_user


@dataclass(frozen=True)
class PersonFacts:
    """What Graph says about one person and the Sync Group."""

    entra_id: str
    entra_user: EntraUser | None  # None when the tenant has no such user
    # id -> name of the Sync Group or nested groups holding them directly
    holders: dict[str, str] = field(default_factory=dict)
    group_id: str = ""

    @property
    def in_group(self) -> bool:
        return self.entra_user is not None and bool(self.holders)

    @property
    def directly(self) -> bool:
        return self.group_id in self.holders

    @property
    def through(self) -> list[str]:
        """Names of the nested groups that hold the person, in name order."""
        return sorted(name for group_id, name in self.holders.items() if group_id != self.group_id)


def read_person(graph: GraphClient, group_id: str, entra_id: str) -> PersonFacts:
    """The person by id, the groups holding them directly, and (only when the Sync Group is not one of those but
    other groups are) the Sync Group's nested groups: two or three requests (four for a Microsoft 365 group)."""
    raw = graph.get_user(entra_id)
    if raw is None:
        return PersonFacts(entra_id, None, group_id=group_id)
    direct = graph.user_groups(entra_id)
    holders = {group_id: direct[group_id]} if group_id in direct else {}
    if not holders and direct:
        nested = set(graph.nested_group_ids(group_id))
        holders.update((held, name) for held, name in direct.items() if held in nested)
    return PersonFacts(entra_id, to_entra_user(raw), holders, group_id)


@dataclass
class PersonPlan:
    """The plan a run makes for one person, and the platform accounts it matched."""

    plan: Plan
    matching: list[PlatformUser]  # PlatformUser rows linked to the person or holding their email


def plan_person(facts: PersonFacts, team_id: int, tenant_id: str, rules: SyncRules, team_size: int) -> PersonPlan:
    """The reconcile step for this one person: in the group they are the only group user; out of it (or deleted)
    they may be removed, like a leaver of an incremental run."""
    user = facts.entra_user
    emails = {user.email.lower()} if user is not None and user.email else set()
    matching = load_matching(tenant_id, {facts.entra_id}, emails)
    members = [row for row in matching if row.team_id == team_id]
    others = [row for row in matching if row.team_id != team_id]
    leaving = frozenset() if facts.in_group else frozenset(
        row.id for row in members if row.entra_tenant_id == tenant_id and row.entra_object_id == facts.entra_id)
    reason = REASON_NOT_IN_GROUP if user is not None else REASON_NOT_FOUND
    scope = RemovalScope(leaving, team_size, {facts.entra_id: reason})
    group_users = [user] if user is not None and facts.in_group else []
    plan = reconcile(group_users, members, others, load_leader_ids(team_id), rules, scope)
    return PersonPlan(plan, matching)
