"""In-memory directory: tenants, users, groups, app registrations and consent."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, UTC

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"

USER_PROPERTIES = (
    "id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "jobTitle",
    "department", "officeLocation", "mobilePhone", "businessPhones", "preferredLanguage",
    "accountEnabled", "userType", "createdDateTime",
)
GROUP_PROPERTIES = (
    "id", "displayName", "description", "mail", "mailEnabled", "mailNickname", "groupTypes",
    "securityEnabled", "visibility", "createdDateTime",
)
# Microsoft's default property set for users when no $select is given ("Get user": properties returned by default).
USER_DEFAULT_SELECT = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)
OTHER_TYPES = ("#microsoft.graph.orgContact", "#microsoft.graph.device", "#microsoft.graph.servicePrincipal")
UNIFIED = "Unified"
HISTORY_SECONDS = 3600.0  # membership changes kept for the lagging index of advanced queries


class DirectoryError(Exception):
    """A control-API request that does not fit the directory."""


def now_iso() -> str:
    """Current UTC time the way Graph writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_user(object_id: str, display_name: str, upn: str, **props) -> dict:
    """A user record holding exactly the Graph properties."""
    given, _, surname = display_name.partition(" ")
    user = {
        "id": object_id, "displayName": display_name, "givenName": given or None,
        "surname": surname or None, "mail": upn, "userPrincipalName": upn, "jobTitle": None,
        "department": None, "officeLocation": None, "mobilePhone": None, "businessPhones": [],
        "preferredLanguage": "en-US", "accountEnabled": True, "userType": "Member",
        "createdDateTime": "2024-01-15T09:00:00Z",
    }
    user.update(props)
    return user


def is_unified(group: dict) -> bool:
    """Whether a group is a Microsoft 365 group, which holds users only and sits in no group."""
    return UNIFIED in (group.get("groupTypes") or [])


def make_group(object_id: str, display_name: str, **props) -> dict:
    """A group record holding exactly the Graph properties."""
    nickname = "".join(ch for ch in display_name if ch.isalnum()) or "group"
    group = {
        "id": object_id, "displayName": display_name, "description": None, "mail": None,
        "mailEnabled": False, "mailNickname": nickname, "groupTypes": [], "securityEnabled": True,
        "visibility": None, "createdDateTime": "2024-01-15T09:00:00Z",
    }
    group.update(props)
    return group


@dataclass
class Secret:
    """A client secret: its Secret ID is not its Value."""

    secret_id: str
    value: str
    expires: float


@dataclass
class App:
    """An app registration, known by client id in its home tenant."""

    client_id: str
    display_name: str
    home_tenant_id: str
    multi_tenant: bool = False
    redirect_uris: list[str] = field(default_factory=list)
    secrets: list[Secret] = field(default_factory=list)
    certificates: list = field(default_factory=list)
    delegated_permissions: set[str] = field(default_factory=set)
    application_permissions: set[str] = field(default_factory=set)
    public_client: bool = False  # a native app (device code flow) proves nothing: it has no credential


@dataclass
class Consent:
    """What a tenant granted one app: app roles, org-wide and per-user delegated scopes."""

    application: set[str] = field(default_factory=set)
    delegated: set[str] = field(default_factory=set)
    user_delegated: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Tenant:
    """One directory with its objects, consent grants and change log for delta."""

    id: str
    domain: str
    display_name: str
    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    others: dict[str, dict] = field(default_factory=dict)
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    admins: set[str] = field(default_factory=set)
    consents: dict[str, Consent] = field(default_factory=dict)
    log: list[tuple] = field(default_factory=list)
    delta_floor: int = 0
    by_login: dict[str, str] = field(default_factory=dict)
    assigned: dict[str, set[str]] = field(default_factory=dict)
    history: deque = field(default_factory=deque)
    index_lag: float = 0.0
    applications: dict[str, dict] = field(default_factory=dict)  # Graph's application objects by object id
    service_principals: dict[str, dict] = field(default_factory=dict)

    def add_user(self, user: dict, password: str | None = None, admin: bool = False) -> dict:
        """Store a user and index its sign-in names; its null properties count as never set."""
        self.users[user["id"]] = user
        self.assigned[user["id"]] = {name for name, value in user.items() if value is not None}
        self.index_login(user)
        if password is not None:
            self.passwords[user["id"]] = password
        if admin:
            self.admins.add(user["id"])
        self.log.append(("user", user["id"], None))
        return user

    def add_other(self, obj: dict) -> dict:
        """Store a directory object that is neither a user nor a group (contact, device, service principal)."""
        if obj.get("@odata.type") not in OTHER_TYPES:
            raise DirectoryError(f"@odata.type must be one of {', '.join(OTHER_TYPES)}")
        if obj["id"] in self.users or obj["id"] in self.groups:
            raise DirectoryError(f"object {obj['id']} already exists")
        self.others[obj["id"]] = obj
        return obj

    def index_login(self, user: dict) -> None:
        """Make the user findable by UPN and mail on the sign-in page."""
        for name in (user.get("userPrincipalName"), user.get("mail")):
            if name:
                self.by_login[name.lower()] = user["id"]

    def find_login(self, name: str) -> dict | None:
        """The user signing in with this UPN or mail, if any."""
        user = self.users.get(self.by_login.get(name.strip().lower(), ""))
        if user and name.strip().lower() in (
            (user.get("userPrincipalName") or "").lower(), (user.get("mail") or "").lower()
        ):
            return user
        return None

    def add_group(self, group: dict) -> dict:
        """Store a group with no members yet."""
        self.groups[group["id"]] = group
        self.members.setdefault(group["id"], {})
        self.log.append(("group", group["id"]))
        return group

    def member_kind(self, object_id: str) -> str | None:
        """The @odata.type of a directory object in this tenant."""
        if object_id in self.users:
            return USER_TYPE
        if object_id in self.groups:
            return GROUP_TYPE
        if object_id in self.others:
            return self.others[object_id]["@odata.type"]
        return None

    def add_member(self, group_id: str, member_id: str) -> None:
        """Add a direct member (user, group or other object) to a group."""
        if group_id not in self.groups:
            raise DirectoryError(f"group {group_id} not found")
        kind = self.member_kind(member_id)
        if kind is None:
            raise DirectoryError(f"object {member_id} not found")
        if member_id == group_id:
            raise DirectoryError("a group cannot contain itself")
        # Entra's membership rules: a Microsoft 365 group holds users only, and no group holds one.
        if kind != USER_TYPE and is_unified(self.groups[group_id]):
            raise DirectoryError("a Microsoft 365 group can only have users as members")
        if kind == GROUP_TYPE and is_unified(self.groups[member_id]):
            raise DirectoryError("a Microsoft 365 group cannot be a member of a group")
        if member_id not in self.members[group_id]:
            self.members[group_id][member_id] = kind
            self.log.append(("member+", group_id, member_id, kind))
            self.remember(group_id, member_id, kind, True)

    def remember(self, group_id: str, member_id: str, kind: str, added: bool) -> None:
        """Keep a timed membership change for the lagging view, forgetting those older than an hour."""
        now = time.monotonic()
        self.history.append((now, group_id, member_id, kind, added))
        while self.history and self.history[0][0] < now - HISTORY_SECONDS:
            self.history.popleft()

    def indexed_members(self) -> dict[str, dict[str, str]]:
        """Direct members of every group as the lagging index of advanced queries sees them (index_lag ago)."""
        if self.index_lag <= 0:
            return self.members
        cutoff = time.monotonic() - self.index_lag
        view = dict(self.members)
        copied: set[str] = set()
        for when, group_id, member_id, kind, added in reversed(self.history):
            if when <= cutoff:
                break
            if group_id not in copied:
                view[group_id] = dict(view.get(group_id, {}))
                copied.add(group_id)
            if added:
                view[group_id].pop(member_id, None)
            else:
                view[group_id][member_id] = kind
        return view

    def remove_member(self, group_id: str, member_id: str) -> None:
        """Remove a direct member from a group."""
        if group_id not in self.groups:
            raise DirectoryError(f"group {group_id} not found")
        kind = self.members[group_id].pop(member_id, None)
        if kind is None:
            raise DirectoryError(f"object {member_id} is not a member of {group_id}")
        self.log.append(("member-", group_id, member_id, kind))
        self.remember(group_id, member_id, kind, False)

    def update_user(self, user_id: str, changes: dict) -> dict:
        """Change Graph properties of a user (rename, mail, UPN, enable/disable...)."""
        user = self.users.get(user_id)
        if user is None:
            raise DirectoryError(f"user {user_id} not found")
        unknown = set(changes) - set(USER_PROPERTIES) - {"password", "admin"}
        if unknown or "id" in changes:
            raise DirectoryError(f"cannot change {sorted(unknown | ({'id'} & set(changes)))}")
        if "password" in changes:
            self.passwords[user_id] = changes["password"]
        if "admin" in changes:
            (self.admins.add if changes["admin"] else self.admins.discard)(user_id)
        properties = {k: v for k, v in changes.items() if k in USER_PROPERTIES}
        user.update(properties)
        self.assigned[user_id] |= set(properties)
        self.index_login(user)
        self.log.append(("user", user_id, frozenset(properties)))
        return user

    def update_group(self, group_id: str, changes: dict) -> dict:
        """Change Graph properties of a group."""
        group = self.groups.get(group_id)
        if group is None:
            raise DirectoryError(f"group {group_id} not found")
        if set(changes) - set(GROUP_PROPERTIES) or "id" in changes:
            raise DirectoryError("unknown group property")
        if is_unified(changes) and not is_unified(group) and (
                any(kind != USER_TYPE for kind in self.members[group_id].values())
                or any(group_id in members for members in self.members.values())):
            raise DirectoryError("only a group holding users only, and in no group, can become a Microsoft 365 group")
        group.update(changes)
        self.log.append(("group", group_id))
        return group

    def remove_object(self, object_id: str, reason: str = "changed") -> None:
        """Delete a user or group, dropping it from every group it was in."""
        for group_id, members in self.members.items():
            if object_id in members:
                self.remove_member(group_id, object_id)
        if object_id in self.users:
            del self.users[object_id]
            self.assigned.pop(object_id, None)
            self.passwords.pop(object_id, None)
            self.admins.discard(object_id)
            self.log.append(("user-", object_id, reason))
        elif object_id in self.groups:
            for member_id in list(self.members[object_id]):
                self.remove_member(object_id, member_id)
            del self.groups[object_id]
            del self.members[object_id]
            self.log.append(("group-", object_id, reason))
        else:
            raise DirectoryError(f"object {object_id} not found")

    def transitive_members(self, group_id: str, members: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
        """Every object below a group, nested groups included, each once, in walk order (of `members`, by default
        the current direct members)."""
        members = self.members if members is None else members
        found: dict[str, str] = {}
        pending = deque([group_id])
        seen = {group_id}
        while pending:
            current = pending.popleft()
            for member_id, kind in members.get(current, {}).items():
                if member_id not in found:
                    found[member_id] = kind
                if kind == GROUP_TYPE and member_id not in seen:
                    seen.add(member_id)
                    pending.append(member_id)
        return found

    def consent_for(self, client_id: str) -> Consent:
        """The consent record of an app in this tenant, created empty when missing."""
        return self.consents.setdefault(client_id, Consent())


@dataclass
class Directory:
    """All tenants and app registrations of the emulator, guarded by one lock."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    apps: dict[str, App] = field(default_factory=dict)
    generation: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    lock: threading.RLock = field(default_factory=threading.RLock)
    index_lag: float = 0.0

    def add_tenant(self, tenant: Tenant) -> Tenant:
        """Register a tenant by GUID; it takes the directory's index lag."""
        tenant.index_lag = self.index_lag
        self.tenants[tenant.id] = tenant
        return tenant

    def settle(self) -> None:
        """The initial data set is in the index already: forget its membership history."""
        for tenant in self.tenants.values():
            tenant.history.clear()

    def set_index_lag(self, seconds: float) -> None:
        """How far behind the directory the index of advanced queries is, in every tenant."""
        if not 0 <= seconds <= HISTORY_SECONDS:
            raise DirectoryError(f"index lag must be between 0 and {HISTORY_SECONDS:.0f} seconds")
        self.index_lag = seconds
        for tenant in self.tenants.values():
            tenant.index_lag = seconds

    def add_app(self, app: App) -> App:
        """Register an app; its home tenant holds its consent record."""
        self.apps[app.client_id] = app
        self.tenants[app.home_tenant_id].consent_for(app.client_id)
        return app

    def find_tenant(self, name: str) -> Tenant | None:
        """A tenant by GUID or by domain name."""
        tenant = self.tenants.get(name.lower())
        if tenant:
            return tenant
        lowered = name.lower()
        for candidate in self.tenants.values():
            if candidate.domain.lower() == lowered:
                return candidate
        return None

    def require_tenant(self, name: str) -> Tenant:
        """A tenant by GUID or domain, or a DirectoryError."""
        tenant = self.find_tenant(name)
        if tenant is None:
            raise DirectoryError(f"tenant {name} not found")
        return tenant
