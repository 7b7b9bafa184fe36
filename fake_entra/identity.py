"""login.microsoftonline.com: discovery, keys and the token endpoint."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, UTC
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.wrappers import Request, Response

from fake_entra.directory import App, Directory, Tenant
from fake_entra.tokens import Grant, TokenService, b64url, pkce_matches

SPECIAL_TENANTS = ("common", "organizations", "consumers")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TENANT_NAME = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                         r"|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9])$", re.IGNORECASE)
ASSERTION_SKEW = 300
GRAPH_RESOURCE = "https://graph.microsoft.com/"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH_PERMISSIONS = {
    "User.Read", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "User.Export.All",
    "GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
    "Directory.ReadWrite.All", "Organization.Read.All", "Application.Read.All", "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
}


class TokenError(Exception):
    """An error answered with the token endpoint's body (Microsoft Entra error codes page)."""

    def __init__(self, status: int, error: str, code: int, text: str, suberror: str | None = None):
        super().__init__(text)
        self.status, self.error, self.code, self.text, self.suberror = status, error, code, text, suberror


@dataclass
class ClientCredential:
    """How a confidential client proves itself: a secret, or a JWT signed with a registered certificate."""

    secret: str | None
    assertion_type: str | None
    assertion: str | None
    audience: str


class ScopeError(ValueError):
    """A scope the emulator does not know."""


def token_error_response(authority: str, err: TokenError) -> Response:
    """Microsoft's token error body with trace and correlation ids."""
    stamp = datetime.now(UTC)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    shown = stamp.strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": err.error,
        "error_description": f"AADSTS{err.code}: {err.text}\r\nTrace ID: {trace}\r\n"
                             f"Correlation ID: {correlation}\r\nTimestamp: {shown}",
        "error_codes": [err.code], "timestamp": shown, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"{authority}/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    return Response(json.dumps(body), err.status, content_type="application/json; charset=utf-8")


def tenant_name_valid(name: str) -> bool:
    """A tenant segment Microsoft accepts: common/organizations/consumers, a GUID or a domain name."""
    return name.lower() in SPECIAL_TENANTS or bool(TENANT_NAME.match(name))


def instance_discovery(authority: str, request: Request) -> Response:
    """GET /common/discovery/instance: where an authorization endpoint's tenant discovery lives (MSAL asks)."""
    endpoint = urlsplit(request.args.get("authorization_endpoint", ""))
    parts = endpoint.path.strip("/").split("/")
    # The host is compared without its port: MSAL drops the port when it builds this URL.
    if endpoint.hostname != urlsplit(authority).hostname or not parts[0] or not tenant_name_valid(parts[0]):
        return token_error_response(authority, TokenError(400, "invalid_instance", 50049,
                                                          "Unknown or invalid instance."))
    host = urlsplit(authority).netloc
    body = {
        "tenant_discovery_endpoint": f"{authority}/{parts[0]}/v2.0/.well-known/openid-configuration",
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
    return Response(json.dumps(body), content_type="application/json; charset=utf-8")


def parse_scopes(raw: str) -> tuple[list[str], list[str], bool]:
    """Split a scope string into OIDC scopes, Graph permission names and whether .default was asked."""
    oidc, graph, default = [], [], False
    for scope in raw.split():
        if scope in OIDC_SCOPES:
            oidc.append(scope)
            continue
        name = scope[len(GRAPH_RESOURCE):] if scope.startswith(GRAPH_RESOURCE) else scope
        if name == ".default" and scope != name:
            default = True
        elif name in GRAPH_PERMISSIONS:
            graph.append(name)
        else:
            raise ScopeError(scope)
    return oidc, graph, default


def needs_admin(permission: str) -> bool:
    """Delegated *.All permissions need an administrator's consent."""
    return permission.endswith(".All")


def granted_delegated(tenant: Tenant, client_id: str, user_id: str) -> set[str]:
    """Delegated permissions an app holds for a user: org-wide plus the user's own consent."""
    consent = tenant.consents.get(client_id)
    if consent is None:
        return set()
    return consent.delegated | consent.user_delegated.get(user_id, set())


def discovery(authority: str, directory: Directory, tenant_name: str) -> dict | None:
    """The OpenID configuration of a tenant or of organizations/common."""
    if tenant_name.lower() in SPECIAL_TENANTS:
        issuer_tenant = "{tenantid}"
    else:
        tenant = directory.find_tenant(tenant_name)
        if tenant is None:
            return None
        issuer_tenant = tenant.id
    base = f"{authority}/{tenant_name}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{authority}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username",
                             "name", "tid", "ver", "oid", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }


@dataclass
class TokenEndpoint:
    """POST {authority}/{tenant}/oauth2/v2.0/token."""

    directory: Directory
    tokens: TokenService
    devices: object = None  # fake_entra.device.DeviceFlows: answers the device_code grant

    def handle(self, authority: str, tenant_name: str, request: Request) -> Response:
        """Answer one token request, successful or with Microsoft's error body."""
        try:
            with self.directory.lock:
                body = self.exchange(authority, tenant_name, request)
        except TokenError as err:
            return token_error_response(authority, err)
        return Response(json.dumps(body), 200, content_type="application/json; charset=utf-8",
                        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def exchange(self, authority: str, tenant_name: str, request: Request) -> dict:
        """Authenticate the client and run its grant."""
        form = request.form
        special = tenant_name.lower() in SPECIAL_TENANTS
        tenant = None if special else self.directory.find_tenant(tenant_name)
        if not special and tenant is None:
            raise TokenError(400, "invalid_tenant", 90002,
                             f"Tenant '{tenant_name}' not found. Check to make sure you have the correct tenant ID "
                             "and are signing into the correct cloud.")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id, secret = request.authorization.username, request.authorization.password
        grant_type = form.get("grant_type")
        for name, value in (("grant_type", grant_type), ("client_id", client_id)):
            if not value:
                raise TokenError(400, "invalid_request", 900144,
                                 f"The request body must contain the following parameter: '{name}'.")
        credential = ClientCredential(secret, form.get("client_assertion_type"), form.get("client_assertion"),
                                      f"{authority}/{tenant_name}/oauth2/v2.0/token")
        if grant_type == "client_credentials":
            return self.client_credentials(authority, tenant_name, tenant, client_id, credential, form.get("scope"))
        if grant_type == DEVICE_CODE_GRANT and self.devices is not None:
            app = self.directory.apps.get(client_id)
            if app is None or not app.public_client:
                app = self.authenticate(tenant_name, tenant, client_id, credential)
            return self.delegated_tokens(authority, app, self.devices.poll(tenant_name, form),
                                         form.get("client_info") == "1")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise TokenError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'.")
        app = self.authenticate(tenant_name, tenant, client_id, credential)
        if grant_type == "authorization_code":
            grant = self.redeem_code(app, form)
        else:
            grant = self.tokens.use_refresh_token(form.get("refresh_token", ""))
            if grant is None or grant.client_id != app.client_id:
                raise TokenError(400, "invalid_grant", 700082,
                                 "The refresh token has expired or has been revoked. Sign in again.")
        return self.delegated_tokens(authority, app, grant, form.get("client_info") == "1")

    def authenticate(self, tenant_name: str, tenant: Tenant | None, client_id: str, credential: ClientCredential,
                     app_only: bool = False) -> App:
        """The app registration behind a client id and its secret or assertion, or the matching AADSTS error."""
        app = self.directory.apps.get(client_id)
        visible = app is not None and (
            tenant is None or app.home_tenant_id == tenant.id
            or (app.multi_tenant and (not app_only or client_id in tenant.consents)))
        if not visible:
            where = tenant.id if tenant else tenant_name
            raise TokenError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory '{where}'. "
                             "This can happen if the application has not been installed by the administrator of "
                             "the tenant or consented to by any user in the tenant. You may have sent your "
                             "authentication request to the wrong tenant.")
        if credential.assertion and credential.assertion_type == ASSERTION_TYPE:
            check_assertion(app, credential)
            return app
        secret = credential.secret
        if not secret:
            raise TokenError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: 'client_assertion' or "
                             "'client_secret'.")
        match = next((s for s in app.secrets if s.value == secret), None)
        if match is None:
            raise TokenError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.")
        if match.expires < time.time():
            raise TokenError(401, "invalid_client", 7000222,
                             f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
                             "portal to create new keys for your app: https://aka.ms/NewClientSecret.")
        return app

    def client_credentials(self, authority: str, tenant_name: str, tenant: Tenant | None, client_id: str,
                           credential: ClientCredential, scope: str | None) -> dict:
        """App-only token; roles come from the permissions granted in this tenant."""
        if tenant is None:
            raise TokenError(400, "invalid_request", 50059,
                             "No tenant-identifying information found in either the request or implied by any "
                             "provided credentials.")
        self.authenticate(tenant_name, tenant, client_id, credential, app_only=True)
        registered_here = any(a["appId"] == client_id for a in tenant.applications.values())
        if registered_here and not any(sp["appId"] == client_id for sp in tenant.service_principals.values()):
            raise TokenError(400, "invalid_client", 7000229,
                             f"The client application {client_id} is missing service principal in the tenant "
                             f"{tenant.id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119")
        if not scope:
            raise TokenError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        for asked in scope.split():
            if not asked.endswith("/.default"):
                raise TokenError(400, "invalid_scope", 1002012,
                                 f"The provided value for scope {asked} is not valid. Client credential flows must "
                                 "have a scope value with /.default suffixed to the resource identifier "
                                 "(application ID URI).")
        if scope.strip() not in (GRAPH_RESOURCE + ".default", "00000003-0000-0000-c000-000000000000/.default"):
            raise TokenError(400, "invalid_scope", 70011,
                             f"The provided request must include a 'scope' input parameter. The provided value for "
                             f"the input parameter 'scope' is not valid. The scope {scope} is not valid.")
        consent = tenant.consents.get(client_id)
        roles = sorted(consent.application) if consent else []
        access = self.tokens.access_token(authority, tenant.id, client_id, roles=roles)
        lifetime = int(self.tokens.lifetimes.access)
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}

    def redeem_code(self, app: App, form) -> Grant:
        """The grant behind a single-use code after checking redirect URI and PKCE."""
        grant = self.tokens.redeem_code(form.get("code", ""))
        if grant is None or grant.client_id != app.client_id:
            raise TokenError(400, "invalid_grant", 70008,
                             "The provided authorization code or refresh token has expired due to inactivity or "
                             "was already redeemed. Send a new interactive authorization request for this user "
                             "and resource.")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise TokenError(400, "invalid_grant", 500112,
                             "The reply address does not match the reply address provided when requesting the "
                             "authorization code.")
        if grant.code_challenge and not pkce_matches(form.get("code_verifier", ""), grant.code_challenge,
                                                     grant.code_challenge_method):
            raise TokenError(400, "invalid_grant", 501481,
                             "The Code_Verifier does not match the code_challenge supplied in the authorization "
                             "request.")
        return grant

    def delegated_tokens(self, authority: str, app: App, grant: Grant, client_info: bool) -> dict:
        """Access, refresh and id tokens for a signed-in user, if consent and account still allow it."""
        tenant = self.directory.tenants.get(grant.tenant_id)
        user = tenant.users.get(grant.user_id) if tenant else None
        if user is None or not user["accountEnabled"]:
            raise TokenError(400, "invalid_grant", 50057, "The user account is disabled or was deleted.")
        permissions = [s for s in grant.scopes if s not in OIDC_SCOPES]
        if not set(permissions) <= granted_delegated(tenant, app.client_id, user["id"]):
            raise TokenError(400, "invalid_grant", 65001,
                             f"The user or administrator has not consented to use the application with ID "
                             f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization "
                             "request for this user and resource.", suberror="consent_required")
        oidc = [s for s in grant.scopes if s in OIDC_SCOPES]
        lifetime = int(self.tokens.lifetimes.access)
        body = {
            "token_type": "Bearer",
            "scope": " ".join([GRAPH_RESOURCE + p for p in permissions] + [s for s in oidc if s != "offline_access"]),
            "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": self.tokens.access_token(authority, tenant.id, app.client_id, user=user,
                                                     scopes=permissions + [s for s in oidc if s != "offline_access"]),
        }
        if "offline_access" in oidc:
            body["refresh_token"] = self.tokens.issue_refresh_token(grant)
        if "openid" in oidc:
            body["id_token"] = self.tokens.id_token(authority, tenant.id, app.client_id, user, grant.nonce)
        if client_info:
            # MSAL asks with client_info=1 and keys its account cache by these ids.
            body["client_info"] = b64url(json.dumps({"uid": user["id"], "utid": tenant.id}).encode())
        return body


def assertion_failure(code: int, text: str) -> TokenError:
    """invalid_client, as Microsoft answers a client assertion it does not accept."""
    return TokenError(401, "invalid_client", code, text)


def check_assertion(app: App, credential: ClientCredential) -> None:
    """Validate a private_key_jwt client assertion: registered key, signature, aud, iss/sub and time range."""
    try:
        header = json.loads(base64.urlsafe_b64decode(credential.assertion.split(".")[0] + "=="))
    except (ValueError, UnicodeDecodeError):
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
    if not isinstance(header, dict):
        raise TokenError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
    thumbprint = str(header.get("x5t#S256") or header.get("x5t") or "").rstrip("=")
    found = next((c for c in app.certificates if thumbprint in (c.x5t, c.x5t_s256)), None)
    if found is None:
        raise assertion_failure(700027, "The certificate with identifier used to sign the client assertion is not "
                                        f"registered on application. [Reason - The key was not found., Thumbprint of "
                                        f"key used by client: '{thumbprint}', Please visit the Azure Portal, Graph "
                                        f"Explorer or directly use MS Graph to see configured keys for app Id "
                                        f"'{app.client_id}'.]")
    if found.expires < time.time():
        raise assertion_failure(700027, "Client assertion failed signature validation. [Reason - The key used is "
                                        f"expired., Thumbprint of key used by client: '{thumbprint}']")
    try:
        claims = jwt.decode(credential.assertion, found.key, algorithms=["RS256", "PS256"]).claims
    except (JoseError, ValueError, TypeError):
        raise assertion_failure(700027, "Client assertion contains an invalid signature.") from None
    if claims.get("aud") != credential.audience:
        raise assertion_failure(50013, "Assertion audience claim does not match the required value. The audience in "
                                       f"the assertion was '{claims.get('aud')}' and the expected audience is "
                                       f"'{credential.audience}'.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise assertion_failure(700021, "Client assertion application identifier doesn't match 'client_id' "
                                        "parameter.")
    now, expires, starts = time.time(), claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(expires, (int, float)) or not isinstance(starts, (int, float)) \
            or expires + ASSERTION_SKEW < now or starts - ASSERTION_SKEW > now:
        raise assertion_failure(700024, f"Client assertion is not within its valid time range. Current time: "
                                        f"{iso(now)}, assertion valid from {iso(starts)}, expiry time of assertion "
                                        f"{iso(expires)}.")


def iso(stamp) -> str:
    """A timestamp as Microsoft writes it in AADSTS messages."""
    if not isinstance(stamp, (int, float)):
        return str(stamp)
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
