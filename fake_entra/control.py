"""The /_fake/ control API used by tests: not part of Microsoft's surface."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from fake_entra.directory import DirectoryError, make_group, make_user
from fake_entra.faults import Fault
from fake_entra.tokens import Certificate

if TYPE_CHECKING:
    from fake_entra.server import Emulator

RULES = Map([
    Rule("/_fake/health", endpoint="health", methods=["GET"]),
    Rule("/_fake/reset", endpoint="reset", methods=["POST"]),
    Rule("/_fake/counts", endpoint="counts", methods=["GET"]),
    Rule("/_fake/counts/reset", endpoint="reset_counts", methods=["POST"]),
    Rule("/_fake/faults", endpoint="add_fault", methods=["POST"]),
    Rule("/_fake/faults", endpoint="list_faults", methods=["GET"]),
    Rule("/_fake/faults/clear", endpoint="clear_faults", methods=["POST"]),
    Rule("/_fake/token-lifetime", endpoint="token_lifetime", methods=["POST"]),
    Rule("/_fake/throttling", endpoint="throttling", methods=["POST"]),
    Rule("/_fake/index-lag", endpoint="index_lag", methods=["POST"]),
    Rule("/_fake/latency", endpoint="latency", methods=["POST"]),
    Rule("/_fake/refresh-tokens/revoke", endpoint="revoke_refresh_tokens", methods=["POST"]),
    Rule("/_fake/tenants", endpoint="list_tenants", methods=["GET"]),
    Rule("/_fake/tenants", endpoint="create_tenant", methods=["POST"]),
    Rule("/_fake/generated", endpoint="generated", methods=["GET"]),
    Rule("/_fake/tenants/<tenant>/users", endpoint="add_user", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/users/<object_id>", endpoint="update_user", methods=["PATCH"]),
    Rule("/_fake/tenants/<tenant>/users/<object_id>", endpoint="remove_object", methods=["DELETE"]),
    Rule("/_fake/tenants/<tenant>/groups", endpoint="add_group", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/objects", endpoint="add_object", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/groups/<object_id>", endpoint="update_group", methods=["PATCH"]),
    Rule("/_fake/tenants/<tenant>/groups/<object_id>", endpoint="remove_object", methods=["DELETE"]),
    Rule("/_fake/tenants/<tenant>/groups/<group_id>/members", endpoint="add_member", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/groups/<group_id>/members/<member_id>", endpoint="remove_member",
         methods=["DELETE"]),
    Rule("/_fake/tenants/<tenant>/consent", endpoint="grant_consent", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/consent/revoke", endpoint="revoke_consent", methods=["POST"]),
    Rule("/_fake/tenants/<tenant>/delta/expire", endpoint="expire_delta", methods=["POST"]),
    Rule("/_fake/apps/<client_id>/certificates", endpoint="add_certificate", methods=["POST"]),
    Rule("/_fake/device-code", endpoint="device_code", methods=["POST"]),
])


def reply(body, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(json.dumps(body), status, content_type="application/json")


class Control:
    """Handlers of the control API, working on one emulator."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def __call__(self, request: Request) -> Response:
        """Route and run one control request; directory errors become 400/404."""
        adapter = RULES.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except HTTPException as exc:
            return reply({"error": exc.description}, exc.code)
        data = request.get_json(silent=True) or {}
        try:
            with self.emulator.directory.lock:
                return reply(getattr(self, endpoint)(data, **values))
        except DirectoryError as exc:
            return reply({"error": str(exc)}, 404 if "not found" in str(exc) else 400)
        except (KeyError, TypeError, ValueError) as exc:
            return reply({"error": f"bad request: {exc}"}, 400)

    def tenant(self, name: str):
        """A tenant by GUID or domain; marks the directory as changed."""
        self.emulator.dirty = True
        return self.emulator.directory.require_tenant(name)

    def health(self, data):
        """Readiness probe."""
        return {"status": "ok"}

    def reset(self, data):
        """Back to the initial data set; forget tokens, faults and counts."""
        self.emulator.reset()
        return {"status": "reset"}

    def counts(self, data):
        """Requests per endpoint since the last reset."""
        return self.emulator.faults.snapshot()["counts"]

    def reset_counts(self, data):
        """Zero the request counts."""
        self.emulator.faults.clear_counts()
        return {"status": "reset"}

    def add_fault(self, data):
        """Arm a fault: {status, retry_after, delay, count, path, method, page, truncate, count_offset}."""
        fault = Fault(status=data.get("status"), retry_after=data.get("retry_after"),
                      delay=float(data.get("delay") or 0), count=data.get("count", 1), path=data.get("path"),
                      method=data.get("method"), page=data.get("page"), truncate=bool(data.get("truncate")),
                      count_offset=int(data.get("count_offset") or 0))
        self.emulator.faults.add(fault)
        return fault.as_dict()

    def list_faults(self, data):
        """The armed fault rules with how often each fired."""
        return self.emulator.faults.snapshot()["faults"]

    def clear_faults(self, data):
        """Disarm every fault."""
        self.emulator.faults.clear_faults()
        return {"status": "cleared"}

    def token_lifetime(self, data):
        """Set lifetimes in seconds: {access, refresh, code} (any subset)."""
        lifetimes = self.emulator.tokens.lifetimes
        for name in ("access", "refresh", "code"):
            if name in data:
                setattr(lifetimes, name, float(data[name]))
        return {"access": lifetimes.access, "refresh": lifetimes.refresh, "code": lifetimes.code}

    def throttling(self, data):
        """Turn Graph's resource-unit budgets on or off: {enabled, limit, window, app_limit}."""
        return self.emulator.throttle.configure(bool(data.get("enabled", True)), data.get("limit"),
                                                float(data.get("window", 10.0)), data.get("app_limit"))

    def latency(self, data):
        """Set how long Graph answers take: {request, per_object} seconds (zeros: at once) until the next reset."""
        return self.emulator.latency.configure(float(data.get("request", 0)), float(data.get("per_object", 0)))

    def index_lag(self, data):
        """Make advanced queries see membership {seconds} ago (0: current) until the next reset."""
        self.emulator.directory.set_index_lag(float(data["seconds"]))
        return {"seconds": self.emulator.directory.index_lag}

    def revoke_refresh_tokens(self, data):
        """Invalidate refresh tokens, filtered by tenant_id, user_id and client_id."""
        tenant_id = data.get("tenant_id")
        if tenant_id:
            tenant_id = self.emulator.directory.require_tenant(tenant_id).id
        revoked = self.emulator.tokens.revoke_refresh_tokens(tenant_id, data.get("user_id"), data.get("client_id"))
        return {"revoked": revoked}

    def list_tenants(self, data):
        """Every tenant with its size."""
        return [{"tenant_id": t.id, "domain": t.domain, "name": t.display_name, "users": len(t.users),
                 "groups": len(t.groups)} for t in self.emulator.directory.tenants.values()]

    def generated(self, data):
        """Ids and credentials of the tenant generated at start-up (--seed), if any."""
        return self.emulator.generated

    def create_tenant(self, data):
        """Generate a tenant: {seed, users, groups, big_group_size, name, domain}."""
        self.emulator.dirty = True
        return self.emulator.generate(data)

    def add_user(self, data, tenant):
        """Create a user: {displayName, userPrincipalName, mail?, password?, admin?, ...}."""
        target = self.tenant(tenant)
        props = {k: v for k, v in data.items() if k not in ("id", "displayName", "userPrincipalName",
                                                            "password", "admin")}
        upn = data["userPrincipalName"]
        user = make_user(data.get("id") or str(uuid.uuid4()), data["displayName"], upn, **props)
        target.add_user(user, data.get("password"), bool(data.get("admin")))
        return user

    def update_user(self, data, tenant, object_id):
        """Rename, change mail/UPN, disable or enable a user."""
        return self.tenant(tenant).update_user(object_id, data)

    def remove_object(self, data, tenant, object_id):
        """Delete a user or group ({reason: changed|deleted} as delta reports it)."""
        self.tenant(tenant).remove_object(object_id, data.get("reason", "changed"))
        return {"removed": object_id}

    def add_group(self, data, tenant):
        """Create a group: {displayName, members?: [ids], ...}."""
        target = self.tenant(tenant)
        props = {k: v for k, v in data.items() if k not in ("id", "displayName", "members")}
        group = target.add_group(make_group(data.get("id") or str(uuid.uuid4()), data["displayName"], **props))
        for member_id in data.get("members", []):
            target.add_member(group["id"], member_id)
        return group

    def add_object(self, data, tenant):
        """Create a contact, device or service principal: {@odata.type, displayName, id?, ...}."""
        target = self.tenant(tenant)
        return target.add_other({**data, "id": data.get("id") or str(uuid.uuid4())})

    def update_group(self, data, tenant, object_id):
        """Rename or otherwise change a group."""
        return self.tenant(tenant).update_group(object_id, data)

    def add_member(self, data, tenant, group_id):
        """Add a direct member: {id}."""
        self.tenant(tenant).add_member(group_id, data["id"])
        return {"group_id": group_id, "member_id": data["id"]}

    def remove_member(self, data, tenant, group_id, member_id):
        """Remove a direct member."""
        self.tenant(tenant).remove_member(group_id, member_id)
        return {"group_id": group_id, "member_id": member_id}

    def grant_consent(self, data, tenant):
        """Grant an app {client_id, application: [...], delegated: [...]} in a tenant (org-wide)."""
        consent = self.tenant(tenant).consent_for(data["client_id"])
        consent.application |= set(data.get("application", []))
        consent.delegated |= set(data.get("delegated", []))
        return {"application": sorted(consent.application), "delegated": sorted(consent.delegated)}

    def add_certificate(self, data, client_id):
        """Register a PEM certificate {certificate} on an app, for private_key_jwt client assertions."""
        app = self.emulator.directory.apps.get(client_id)
        if app is None:
            raise DirectoryError(f"app {client_id} not found")
        certificate = Certificate.from_pem(data["certificate"])
        self.emulator.dirty = True
        app.certificates.append(certificate)
        return {"thumbprint": certificate.thumbprint}

    def device_code(self, data):
        """Lifetime and polling interval, in seconds, of device codes issued from now on: {lifetime, interval}."""
        devices = self.emulator.devices
        devices.lifetime = float(data.get("lifetime", devices.lifetime))
        devices.interval = int(data.get("interval", devices.interval))
        return {"lifetime": devices.lifetime, "interval": devices.interval}

    def revoke_consent(self, data, tenant):
        """Remove an app's consent in a tenant: {client_id, kind: all|delegated|application}."""
        target = self.tenant(tenant)
        kind = data.get("kind", "all")
        consent = target.consents.get(data["client_id"])
        if consent is not None:
            if kind in ("all", "application"):
                consent.application.clear()
            if kind in ("all", "delegated"):
                consent.delegated.clear()
                consent.user_delegated.clear()
        return {"revoked": kind}

    def expire_delta(self, data, tenant):
        """Make every delta token issued so far answer 400 syncStateNotFound."""
        target = self.tenant(tenant)
        target.log.append(("expire",))
        target.delta_floor = len(target.log)
        return {"delta_floor": target.delta_floor}
