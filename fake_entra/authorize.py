"""Interactive endpoints: authorize (sign-in + consent pages) and admin consent."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from fake_entra.directory import App, Tenant
from fake_entra.identity import SPECIAL_TENANTS, ScopeError, granted_delegated, needs_admin, parse_scopes
from fake_entra.pages import consent_page, error_page, sign_in_page
from fake_entra.tokens import Grant

if TYPE_CHECKING:
    from fake_entra.server import Emulator

DECLINED = "AADSTS65004: User declined to consent to access the app."
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


@dataclass
class Flow:
    """One sign-in in progress, between the pages."""

    kind: str
    tenant_name: str
    app: App
    redirect_uri: str
    state: str | None
    scope: str = ""
    oidc: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: str | None = None
    user: dict | None = None
    tenant: Tenant | None = None
    device_code: str | None = None


def redirect_allowed(app: App, uri: str) -> bool:
    """Exact match, except that loopback redirect URIs match on any port (like Microsoft)."""
    if uri in app.redirect_uris:
        return True
    asked = urlsplit(uri)
    if asked.scheme != "http" or asked.hostname not in LOOPBACK_HOSTS:
        return False
    for registered in map(urlsplit, app.redirect_uris):
        if (registered.scheme, registered.hostname, registered.path, registered.query) == (
                "http", asked.hostname, asked.path, asked.query):
            return True
    return False


def redirect(uri: str, params: dict) -> Response:
    """302 to the app's redirect URI with query parameters."""
    clean = {k: v for k, v in params.items() if v is not None}
    separator = "&" if "?" in uri else "?"
    return Response("", 302, headers={"Location": f"{uri}{separator}{urlencode(clean)}"})


class Authorizer:
    """The sign-in pages of the emulator and the flows behind them."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.flows: OrderedDict[str, Flow] = OrderedDict()
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Forget every sign-in in progress."""
        with self.lock:
            self.flows.clear()

    def handle(self, request: Request, endpoint: str, tenant_name: str, authority: str) -> Response:
        """GET starts a flow; POST carries the sign-in or consent form."""
        with self.emulator.directory.lock:
            if request.method == "GET":
                return self.start(request, endpoint, tenant_name)
            with self.lock:
                flow = self.flows.get(request.form.get("flow", ""))
            if flow is None:
                return error_page(90009, "The sign-in session has expired. Go back to the application and start again.")
            if request.form.get("step") == "consent" and flow.user is not None:
                return self.consent(request, flow)
            return self.login(request, flow)

    def start(self, request: Request, endpoint: str, tenant_name: str) -> Response:
        """Validate the app and redirect URI, then show the sign-in page."""
        args = request.args
        directory = self.emulator.directory
        if tenant_name.lower() not in SPECIAL_TENANTS and directory.find_tenant(tenant_name) is None:
            return error_page(90002, f"Tenant '{tenant_name}' not found. Check to make sure you have the correct "
                                     "tenant ID and are signing into the correct cloud.")
        client_id = args.get("client_id", "")
        app = directory.apps.get(client_id)
        if app is None:
            return error_page(700016, f"Application with identifier '{client_id}' was not found in the directory "
                                      f"'{tenant_name}'.")
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_allowed(app, redirect_uri):
            return error_page(50011, f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                                     f"redirect URIs configured for the application '{client_id}'.")
        state = args.get("state")
        if endpoint == "/adminconsent":
            if tenant_name.lower() == "common":
                return error_page(900023, "Specified tenant identifier 'common' is not valid for admin consent. "
                                          "Use 'organizations' or a tenant ID.")
            flow = Flow("adminconsent", tenant_name, app, redirect_uri, state,
                        scope=args.get("scope", "https://graph.microsoft.com/.default"))
            return self.remember(request, flow)
        fail = {"state": state}
        if args.get("response_type") != "code":
            return redirect(redirect_uri, {"error": "unsupported_response_type", **fail, "error_description":
                            f"AADSTS70005: response_type '{args.get('response_type')}' is not enabled for the app."})
        if args.get("code_challenge_method", "plain") not in ("S256", "plain"):
            return redirect(redirect_uri, {"error": "invalid_request", **fail,
                                           "error_description": "AADSTS501491: Invalid code_challenge_method."})
        try:
            oidc, permissions, default = parse_scopes(args.get("scope", ""))
        except ScopeError as exc:
            return redirect(redirect_uri, {"error": "invalid_scope", **fail, "error_description":
                            f"AADSTS70011: The provided value for the input parameter 'scope' is not valid. "
                            f"The scope {exc} is not valid."})
        if default:
            permissions = sorted(set(permissions) | app.delegated_permissions)
        if args.get("prompt") == "none":
            return redirect(redirect_uri, {"error": "interaction_required", **fail, "error_description":
                            "AADSTS50058: A silent sign-in request was sent but no user is signed in."})
        flow = Flow("authorize", tenant_name, app, redirect_uri, state, oidc=oidc, permissions=permissions,
                    nonce=args.get("nonce"), code_challenge=args.get("code_challenge"),
                    code_challenge_method=args.get("code_challenge_method"), prompt=args.get("prompt"))
        return self.remember(request, flow)

    def remember(self, request: Request, flow: Flow) -> Response:
        """Store a new flow and show its sign-in page."""
        flow_id = secrets.token_urlsafe(24)
        with self.lock:
            self.flows[flow_id] = flow
            while len(self.flows) > 10000:
                self.flows.popitem(last=False)
        return sign_in_page(request.path, flow_id, flow.app.display_name, self.suggestions(flow))

    def suggestions(self, flow: Flow) -> list[str]:
        """A few accounts to pick from: each tenant's administrators first, then some members."""
        directory = self.emulator.directory
        tenants = list(directory.tenants.values())
        if flow.tenant_name.lower() not in SPECIAL_TENANTS:
            tenants = [directory.find_tenant(flow.tenant_name)]
        names = [t.users[a]["userPrincipalName"] for t in tenants for a in sorted(t.admins) if a in t.users]
        for tenant in tenants:
            names.extend(u["userPrincipalName"] for u in islice(tenant.users.values(), 3))
        return list(dict.fromkeys(names))[:10]

    def login(self, request: Request, flow: Flow) -> Response:
        """Check account and password, then decide between consent page, code or error."""
        login, password = request.form.get("login", ""), request.form.get("passwd", "")
        flow_id = request.form["flow"]
        directory = self.emulator.directory
        tenants = list(directory.tenants.values())
        if flow.tenant_name.lower() not in SPECIAL_TENANTS:
            tenants = [directory.find_tenant(flow.tenant_name)]
        found = [(t, u) for t in tenants if (u := t.find_login(login)) is not None]
        match = next(((t, u) for t, u in found if secrets.compare_digest(t.passwords.get(u["id"], "\0"),
                                                                         password)), None)
        if match is None:
            return sign_in_page(request.path, flow_id, flow.app.display_name, self.suggestions(flow), login,
                                "Your account or password is incorrect. (AADSTS50126)")
        tenant, user = match
        if not user["accountEnabled"]:
            return error_page(50057, "The user account is disabled.")
        app = flow.app
        if not app.multi_tenant and app.home_tenant_id != tenant.id:
            return error_page(700016, f"Application with identifier '{app.client_id}' was not found in the "
                                      f"directory '{tenant.display_name}'.")
        flow.user, flow.tenant = user, tenant
        admin = user["id"] in tenant.admins
        if flow.kind == "adminconsent":
            if not admin:
                return error_page(90094, "Admin consent is required. Sign in with an administrator account of "
                                         "this organization.")
            permissions = sorted(app.delegated_permissions | app.application_permissions)
            return consent_page(request.path, flow_id, app.display_name, user["userPrincipalName"],
                                permissions, False, True)
        missing = [p for p in flow.permissions if p not in granted_delegated(tenant, app.client_id, user["id"])]
        if not missing and flow.prompt != "consent":
            return self.issue_code(flow)
        if any(needs_admin(p) for p in missing) and not admin:
            return error_page(90094, f"Need admin approval: {app.display_name} needs permission to access "
                                     "resources in your organization that only an admin can grant. Ask an admin "
                                     "to grant permission to this app before you can use it.")
        return consent_page(request.path, flow_id, app.display_name, user["userPrincipalName"],
                            flow.permissions, admin, False)

    def consent(self, request: Request, flow: Flow) -> Response:
        """Accept or Cancel on the consent page."""
        with self.lock:
            self.flows.pop(request.form["flow"], None)
        accepted = request.form.get("action") == "accept"
        consent = flow.tenant.consent_for(flow.app.client_id)
        self.emulator.dirty = True
        if flow.kind == "adminconsent":
            if not accepted:
                return redirect(flow.redirect_uri, {"error": "access_denied", "error_description": DECLINED,
                                                    "admin_consent": "True", "state": flow.state})
            consent.delegated |= flow.app.delegated_permissions
            consent.application |= flow.app.application_permissions
            return redirect(flow.redirect_uri, {"admin_consent": "True", "tenant": flow.tenant.id,
                                                "scope": flow.scope, "state": flow.state})
        if not accepted:
            if flow.kind == "device":
                return self.emulator.devices.finish(flow, False)
            return redirect(flow.redirect_uri, {"error": "access_denied", "error_description": DECLINED,
                                                "state": flow.state})
        if request.form.get("consent_on_behalf") == "true" and flow.user["id"] in flow.tenant.admins:
            consent.delegated |= set(flow.permissions)
        else:
            consent.user_delegated.setdefault(flow.user["id"], set()).update(flow.permissions)
        return self.issue_code(flow)

    def issue_code(self, flow: Flow) -> Response:
        """Redirect back with a fresh authorization code and the state (a device sign-in: tell the device)."""
        if flow.kind == "device":
            return self.emulator.devices.finish(flow, True)
        grant = Grant(flow.tenant.id, flow.user["id"], flow.app.client_id, flow.oidc + flow.permissions,
                      time.time(), redirect_uri=flow.redirect_uri, nonce=flow.nonce,
                      code_challenge=flow.code_challenge, code_challenge_method=flow.code_challenge_method)
        code = self.emulator.tokens.issue_code(grant)
        return redirect(flow.redirect_uri, {"code": code, "state": flow.state, "session_state": str(uuid.uuid4())})
