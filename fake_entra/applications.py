"""Graph's app registrations: /applications, /servicePrincipals, addPassword, addKey and appRoleAssignments.

What a tenant administrator's set-up command does through Graph. An application created here is also an app
registration of the token endpoint: its secrets and certificates sign in, its app role assignments are its roles."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from joserfc import jwt
from joserfc.errors import JoseError
from werkzeug.wrappers import Request, Response

from fake_entra.directory import App, Directory, Secret, Tenant, now_iso
from fake_entra.identity import GRAPH_APP_ID
from fake_entra.odata import GraphError, matches, parse_query
from fake_entra.tokens import Certificate

# Microsoft Graph's application permissions (app roles) by value, with the ids Graph's service principal has.
GRAPH_APP_ROLES = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.Export.All": "405a51b5-8d8d-430b-9842-8be4b0e9f324",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}
READ = {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
WRITE = {"Application.ReadWrite.All", "Directory.ReadWrite.All"}
ASSIGN = {"AppRoleAssignment.ReadWrite.All"}
DENIED = "Insufficient privileges to complete the operation."
AUDIENCES = ("AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount")
APPLICATION_PROPERTIES = ("id", "appId", "displayName", "signInAudience", "createdDateTime", "identifierUris", "api",
                          "keyCredentials", "passwordCredentials", "requiredResourceAccess", "publisherDomain")
SP_PROPERTIES = ("id", "appId", "displayName", "servicePrincipalType", "appRoles", "accountEnabled",
                 "appOwnerOrganizationId")
BY_APP_ID = re.compile(r"^\(appId='([0-9a-fA-F-]{36})'\)$")
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_LIFETIME = 600


@dataclass
class WriteCall:
    """One authenticated request to these routes."""

    request: Request
    directory: Directory
    tenant: Tenant
    claims: dict
    permissions: set[str]
    base_url: str

    def require(self, allowed: set[str]) -> None:
        if not self.permissions & allowed:
            raise GraphError(403, "Authorization_RequestDenied", DENIED)

    def require_admin(self) -> None:
        """Granting app roles needs an administrator role of the tenant, whatever the token's scopes."""
        if "oid" in self.claims and self.claims["oid"] not in self.tenant.admins:
            raise GraphError(403, "Authorization_RequestDenied", DENIED)

    def body(self) -> dict:
        try:
            data = json.loads(self.request.get_data(as_text=True) or "{}")
        except ValueError:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                                "header is set and payload is of valid JSON format.") from None
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
        return data


def invalid(prop: str, resource: str = "Application") -> GraphError:
    return GraphError(400, "Request_BadRequest", f"Invalid value specified for property '{prop}' of resource "
                                                 f"'{resource}'.")


def not_found(object_id: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist or one of its "
                                                       "queried reference-property objects are not present.")


def reply(body: dict | None, status: int = 200) -> Response:
    if body is None:
        return Response("", 204)
    return Response(json.dumps(body), status, content_type="application/json;odata.metadata=minimal")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value, prop: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise invalid(prop) from None


def graph_service_principal(tenant: Tenant) -> dict:
    """Microsoft Graph's own service principal, which every tenant has; it defines the app roles."""
    object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-entra/{tenant.id}/graph-service-principal"))
    return tenant.service_principals.setdefault(object_id, {
        "id": object_id, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph", "servicePrincipalType": "Application",
        "accountEnabled": True, "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "appRoles": [{"id": role_id, "value": value, "displayName": value, "allowedMemberTypes": ["Application"],
                      "isEnabled": True, "origin": "Application", "description": value}
                     for value, role_id in GRAPH_APP_ROLES.items()]})


def owns(path: str) -> bool:
    """Whether a /v1.0 path is one of these routes."""
    return path[len("/v1.0/"):].split("/")[0].lower().startswith(("applications", "serviceprincipals"))


def route_name(segments: list[str]) -> str:
    """The canonical route of a path, for the request counts: ids become {id}."""
    head = "/servicePrincipals" if segments[0].lower().startswith("serviceprincipals") else "/applications"
    rest = ["{id}"] if len(segments) > 1 or BY_APP_ID.match(segments[0][len("applications"):]) else []
    tail = segments[2:] if len(segments) > 1 else segments[1:]
    return "/".join([head] + rest + tail)


def handle(call: WriteCall, segments: list[str]) -> Response:
    """Route /applications/… and /servicePrincipals/… by method."""
    method = call.request.method
    head, rest = segments[0].lower(), segments[1:]
    if head.startswith("applications") and BY_APP_ID.match(segments[0][len("applications"):]):
        app_id = BY_APP_ID.match(segments[0][len("applications"):]).group(1).lower()
        found = next((a for a in call.tenant.applications.values() if a["appId"] == app_id), None)
        if found is None:
            raise not_found(app_id)
        head, rest = "applications", [found["id"]] + rest
    if head == "applications":
        if not rest:
            return list_applications(call) if method == "GET" else create_application(call)
        application = call.tenant.applications.get(rest[0].lower())
        if application is None:
            raise not_found(rest[0])
        action = rest[1].lower().removeprefix("microsoft.graph.") if len(rest) == 2 else None
        single = {"GET": get_application, "PATCH": update_application, "DELETE": delete_application}
        if len(rest) == 1 and method in single:
            return single[method](call, application)
        if action == "addpassword" and method == "POST":
            return add_password(call, application)
        if action == "addkey" and method == "POST":
            return add_key(call, application)
    if head == "serviceprincipals":
        if not rest:
            return list_service_principals(call) if method == "GET" else create_service_principal(call)
        graph_service_principal(call.tenant)
        principal = call.tenant.service_principals.get(rest[0].lower())
        if principal is None:
            raise not_found(rest[0])
        if len(rest) == 1 and method in ("GET", "DELETE"):
            return get_service_principal(call, principal) if method == "GET" else delete_service_principal(
                call, principal)
        if len(rest) == 2 and rest[1].lower() == "approleassignments":
            return list_assignments(call, principal) if method == "GET" else assign_role(call, principal)
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segments[-1]}'.")


def shown(application: dict, with_keys: bool = False) -> dict:
    """An application as Graph returns it: secret texts never, certificate bytes only on a single $select."""
    body = {name: application[name] for name in APPLICATION_PROPERTIES}
    body["passwordCredentials"] = [{k: v for k, v in p.items() if k != "secretText"} | {"secretText": None}
                                   for p in application["passwordCredentials"]]
    body["keyCredentials"] = [dict(k, key=k["key"] if with_keys else None) for k in application["keyCredentials"]]
    return body


def list_applications(call: WriteCall) -> Response:
    call.require(READ)
    query = parse_query(call.request, APPLICATION_PROPERTIES)
    found = [shown(a) for a in call.tenant.applications.values() if matches(a, query)]
    if query.select:
        found = [{k: a[k] for k in query.select} for a in found]
    return reply({"@odata.context": f"{call.base_url}/$metadata#applications", "value": found})


def get_application(call: WriteCall, application: dict) -> Response:
    call.require(READ)
    select = parse_query(call.request, APPLICATION_PROPERTIES).select
    body = shown(application, with_keys=bool(select and "keyCredentials" in select))
    if select:
        body = {k: body[k] for k in select}
    return reply({"@odata.context": f"{call.base_url}/$metadata#applications/$entity", **body})


def create_application(call: WriteCall) -> Response:
    """POST /applications: a new app registration homed in the caller's tenant."""
    call.require(WRITE)
    data = call.body()
    name = data.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise invalid("displayName")
    audience = data.get("signInAudience", "AzureADMyOrg")
    if audience not in AUDIENCES:
        raise invalid("signInAudience")
    object_id, app_id = str(uuid.uuid4()), str(uuid.uuid4())
    application = {"id": object_id, "appId": app_id, "displayName": name, "signInAudience": audience,
                   "createdDateTime": now_iso(), "identifierUris": [], "publisherDomain": call.tenant.domain,
                   "api": {"oauth2PermissionScopes": [], "preAuthorizedApplications": [],
                           "requestedAccessTokenVersion": None},
                   "keyCredentials": [], "passwordCredentials": [], "requiredResourceAccess": []}
    call.tenant.applications[object_id] = application
    call.directory.add_app(App(app_id, name, call.tenant.id, multi_tenant=audience != "AzureADMyOrg"))
    apply_changes(call, application, {k: v for k, v in data.items() if k not in ("displayName", "signInAudience")})
    return reply({"@odata.context": f"{call.base_url}/$metadata#applications/$entity", **shown(application)},
                 201)


def update_application(call: WriteCall, application: dict) -> Response:
    """PATCH /applications/{id}: 204 No Content."""
    call.require(WRITE)
    apply_changes(call, application, call.body())
    return reply(None)


def delete_application(call: WriteCall, application: dict) -> Response:
    """DELETE /applications/{id}: the app, its service principal and its sign-ins go."""
    call.require(WRITE)
    del call.tenant.applications[application["id"]]
    call.directory.apps.pop(application["appId"], None)
    call.tenant.consents.pop(application["appId"], None)
    for object_id in [k for k, sp in call.tenant.service_principals.items() if sp["appId"] == application["appId"]]:
        del call.tenant.service_principals[object_id]
    return reply(None)


def apply_changes(call: WriteCall, application: dict, data: dict) -> None:
    """The writable properties of an application, checked the way Graph checks them."""
    changes = dict(application)
    for name, value in data.items():
        if name == "displayName":
            if not isinstance(value, str) or not value.strip():
                raise invalid(name)
            changes[name] = value
        elif name == "identifierUris":
            if not isinstance(value, list) or not all(identifier_allowed(call.tenant, application, v) for v in value):
                raise GraphError(400, "HostNameNotOnVerifiedDomain",
                                 "Values of identifierUris property must use a verified domain of the organization "
                                 "or its subdomain")
            changes[name] = list(value)
        elif name == "api":
            changes[name] = checked_api(application, value)
        elif name == "requiredResourceAccess":
            if not isinstance(value, list):
                raise invalid(name)
            changes[name] = value
        elif name == "keyCredentials":
            changes[name] = [checked_key(k) for k in value] if isinstance(value, list) else None
            if changes[name] is None:
                raise invalid(name)
        elif name in ("passwordCredentials",):
            raise GraphError(400, "Request_BadRequest", "Property 'passwordCredentials' is read-only: use addPassword.")
        else:
            raise GraphError(400, "Request_BadRequest", f"Property '{name}' does not exist on type "
                                                        "'microsoft.graph.application'.")
    application.update(changes)
    sync_registration(call.directory, application)


def identifier_allowed(tenant: Tenant, application: dict, uri) -> bool:
    """api://{appId} or api://{tenantId}/…, or a URI on the tenant's verified domain (the default policy)."""
    if not isinstance(uri, str):
        return False
    lowered = uri.lower()
    return (lowered in (f"api://{application['appId']}", f"api://{tenant.id}/{application['appId']}")
            or lowered.startswith((f"https://{tenant.domain.lower()}/", f"api://{tenant.domain.lower()}/")))


def checked_api(application: dict, value) -> dict:
    """oauth2PermissionScopes need ids, values and admin texts; a pre-authorised client names existing scopes."""
    if not isinstance(value, dict):
        raise invalid("api")
    api = dict(application["api"])
    if "oauth2PermissionScopes" in value:
        scopes = value["oauth2PermissionScopes"]
        if not isinstance(scopes, list):
            raise invalid("api")
        for scope in scopes:
            if not isinstance(scope, dict) or not all(isinstance(scope.get(k), str) and scope.get(k) for k in (
                    "id", "value", "adminConsentDisplayName", "adminConsentDescription")):
                raise invalid("api")
            if scope.get("type", "User") not in ("User", "Admin"):
                raise invalid("api")
        removed = {s["id"] for s in api["oauth2PermissionScopes"] if s.get("isEnabled", True)} - {
            s["id"] for s in scopes}
        if removed:
            raise GraphError(400, "CannotDeleteOrUpdateEnabledEntitlement",
                             "Permission (scope or role) cannot be deleted or updated unless disabled first.")
        api["oauth2PermissionScopes"] = [dict(s, type=s.get("type", "User"), isEnabled=s.get("isEnabled", True))
                                         for s in scopes]
    if "preAuthorizedApplications" in value:
        clients = value["preAuthorizedApplications"]
        known = {s["id"] for s in api["oauth2PermissionScopes"]}
        if not isinstance(clients, list) or not all(
                isinstance(c, dict) and isinstance(c.get("appId"), str) and isinstance(c.get("delegatedPermissionIds"),
                                                                                     list) for c in clients):
            raise invalid("api")
        if any(p not in known for c in clients for p in c["delegatedPermissionIds"]):
            raise GraphError(400, "InvalidPreAuthorizedAppPermission",
                             "Property PreAuthorizedApplication references applications or permissions that do not "
                             "exist on the application.")
        api["preAuthorizedApplications"] = clients
    return api


def checked_key(value) -> dict:
    """A certificate's public key (base64 DER or PEM): its dates and thumbprint come from the certificate."""
    if not isinstance(value, dict) or value.get("type") != "AsymmetricX509Cert" or value.get("usage") != "Verify":
        raise invalid("keyCredentials")
    certificate = load_certificate(value.get("key"))
    return {"keyId": value.get("keyId") or str(uuid.uuid4()), "type": "AsymmetricX509Cert", "usage": "Verify",
            "displayName": value.get("displayName") or certificate.subject.rfc4514_string(),
            "customKeyIdentifier": certificate_thumbprint(certificate),
            "startDateTime": iso(certificate.not_valid_before_utc), "endDateTime": iso(certificate.not_valid_after_utc),
            "key": value["key"]}


def load_certificate(raw) -> x509.Certificate:
    if not isinstance(raw, str) or not raw:
        raise invalid("keyCredentials")
    try:
        data = base64.b64decode(raw, validate=True)
        return (x509.load_pem_x509_certificate(data) if data.startswith(b"-----BEGIN")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise GraphError(400, "KeyCredentialsInvalidKey", "Key credential key is invalid.") from None


def certificate_thumbprint(certificate: x509.Certificate) -> str:
    """The hexadecimal SHA-1 thumbprint, as customKeyIdentifier carries it."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()


def sync_registration(directory: Directory, application: dict) -> None:
    """The token endpoint's view of the application: its secrets and its certificates, with their dates."""
    app = directory.apps[application["appId"]]
    app.display_name = application["displayName"]
    app.multi_tenant = application["signInAudience"] != "AzureADMyOrg"
    app.secrets = [Secret(p["keyId"], p["secretText"], parse_time(p["endDateTime"], "endDateTime").timestamp())
                   for p in application["passwordCredentials"]]
    app.certificates = []
    for key in application["keyCredentials"]:
        certificate = load_certificate(key["key"])
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        app.certificates.append(Certificate.from_pem(pem))


def add_password(call: WriteCall, application: dict) -> Response:
    """POST /applications/{id}/addPassword: the secret's text is in this answer only."""
    call.require(WRITE)
    data = call.body().get("passwordCredential") or {}
    if not isinstance(data, dict):
        raise invalid("passwordCredential")
    start = datetime.now(UTC)
    end = parse_time(data["endDateTime"], "endDateTime") if data.get("endDateTime") else start + timedelta(days=730)
    if end <= start:
        raise invalid("endDateTime", "PasswordCredential")
    text = secrets.token_urlsafe(30)[:37]
    credential = {"customKeyIdentifier": None, "displayName": data.get("displayName"), "endDateTime": iso(end),
                  "hint": text[:3], "keyId": str(uuid.uuid4()), "secretText": text[:3] + "8Q~" + text[3:],
                  "startDateTime": iso(start)}
    credential["hint"] = credential["secretText"][:3]
    application["passwordCredentials"].append(credential)
    sync_registration(call.directory, application)
    return reply({"@odata.context": f"{call.base_url}/$metadata#microsoft.graph.passwordCredential", **credential})


def add_key(call: WriteCall, application: dict) -> Response:
    """POST /applications/{id}/addKey: needs a proof signed with a certificate the application already has."""
    data = call.body()
    app = call.directory.apps[application["appId"]]
    valid = [c for c in app.certificates if c.expires > time.time()]
    if not valid:
        raise GraphError(400, "Request_BadRequest", "The application has no valid key credential: use Update "
                                                    "application to add the first one.")
    proof = data.get("proof")
    if not isinstance(proof, str):
        raise invalid("proof", "application")
    try:
        header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
        signer = next(c for c in valid if str(header.get("x5t") or header.get("x5t#S256", "")).rstrip("=")
                      in (c.x5t, c.x5t_s256))
        claims = jwt.decode(proof, signer.key, algorithms=["RS256"]).claims
    except (ValueError, StopIteration, JoseError, TypeError, AttributeError):
        raise GraphError(401, "Authentication_MissingOrMalformed", "Access token is missing or malformed.") from None
    now = time.time()
    if claims.get("aud") != PROOF_AUDIENCE or claims.get("iss") != application["id"] or not (
            isinstance(claims.get("exp"), (int, float)) and isinstance(claims.get("nbf"), (int, float))
            and claims["nbf"] - 300 <= now <= claims["exp"] and claims["exp"] - claims["nbf"] <= PROOF_LIFETIME):
        raise GraphError(401, "Authentication_MissingOrMalformed", "Access token is missing or malformed.")
    key = checked_key(data.get("keyCredential"))
    application["keyCredentials"].append(key)
    sync_registration(call.directory, application)
    return reply({"@odata.context": f"{call.base_url}/$metadata#microsoft.graph.keyCredential",
                  **dict(key, key=None)})


def list_service_principals(call: WriteCall) -> Response:
    call.require(READ)
    graph_service_principal(call.tenant)
    query = parse_query(call.request, SP_PROPERTIES)
    found = [dict(sp) for sp in call.tenant.service_principals.values() if matches(sp, query)]
    if query.select:
        found = [{k: sp.get(k) for k in query.select} for sp in found]
    return reply({"@odata.context": f"{call.base_url}/$metadata#servicePrincipals", "value": found})


def get_service_principal(call: WriteCall, principal: dict) -> Response:
    call.require(READ)
    return reply({"@odata.context": f"{call.base_url}/$metadata#servicePrincipals/$entity", **principal})


def create_service_principal(call: WriteCall) -> Response:
    """POST /servicePrincipals {appId}: the application's identity in this tenant (the Enterprise Application)."""
    call.require(WRITE)
    app_id = str(call.body().get("appId", "")).lower()
    application = next((a for a in call.tenant.applications.values() if a["appId"] == app_id), None)
    app = call.directory.apps.get(app_id)
    if app is None or (application is None and not app.multi_tenant):
        raise GraphError(400, "Request_BadRequest", f"The appId '{app_id}' of the service principal does not "
                                                    "reference a valid application object.")
    if any(sp["appId"] == app_id for sp in call.tenant.service_principals.values()):
        raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                         "Another object with the same value for property servicePrincipalNames already exists.")
    principal = {"id": str(uuid.uuid4()), "appId": app_id, "displayName": app.display_name,
                 "servicePrincipalType": "Application", "appRoles": [], "accountEnabled": True,
                 "appOwnerOrganizationId": app.home_tenant_id}
    call.tenant.service_principals[principal["id"]] = principal
    return reply({"@odata.context": f"{call.base_url}/$metadata#servicePrincipals/$entity", **principal}, 201)


def delete_service_principal(call: WriteCall, principal: dict) -> Response:
    call.require(WRITE)
    del call.tenant.service_principals[principal["id"]]
    call.tenant.consents.pop(principal["appId"], None)
    return reply(None)


def assignment(tenant: Tenant, principal: dict, value: str) -> dict:
    """An app role assignment of Graph's role `value` to the principal, with a stable id."""
    resource = graph_service_principal(tenant)
    return {"id": base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, f"{principal['id']}/{value}").bytes * 2)
            .decode().rstrip("=")[:43], "appRoleId": GRAPH_APP_ROLES[value], "createdDateTime": now_iso(),
            "deletedDateTime": None, "principalDisplayName": principal["displayName"],
            "principalId": principal["id"], "principalType": "ServicePrincipal",
            "resourceDisplayName": resource["displayName"], "resourceId": resource["id"]}


def list_assignments(call: WriteCall, principal: dict) -> Response:
    """The Graph app roles this principal holds: its tenant's application consent."""
    call.require(READ)
    consent = call.tenant.consents.get(principal["appId"])
    values = sorted(v for v in (consent.application if consent else set()) if v in GRAPH_APP_ROLES)
    return reply({"@odata.context": f"{call.base_url}/$metadata#servicePrincipals('{principal['id']}')"
                                    "/appRoleAssignments", "value": [assignment(call.tenant, principal, v)
                                                                     for v in values]})


def assign_role(call: WriteCall, principal: dict) -> Response:
    """POST /servicePrincipals/{id}/appRoleAssignments: admin consent for one application permission."""
    call.require(ASSIGN)
    call.require_admin()
    data = call.body()
    resource = graph_service_principal(call.tenant)
    if str(data.get("principalId", "")).lower() != principal["id"]:
        raise invalid("principalId", "AppRoleAssignment")
    if str(data.get("resourceId", "")).lower() != resource["id"]:
        if str(data.get("resourceId", "")).lower() not in call.tenant.service_principals:
            raise not_found(str(data.get("resourceId")))
        raise invalid("appRoleId", "AppRoleAssignment")
    value = next((v for v, role_id in GRAPH_APP_ROLES.items() if role_id == str(data.get("appRoleId", "")).lower()),
                 None)
    if value is None:
        raise GraphError(400, "Request_BadRequest", f"Permission being assigned was not found on application "
                                                    f"'{resource['appId']}'.")
    consent = call.tenant.consent_for(principal["appId"])
    if value in consent.application:
        raise GraphError(400, "Request_BadRequest", "Permission being assigned already exists on the object.")
    consent.application.add(value)
    return reply({"@odata.context": f"{call.base_url}/$metadata#servicePrincipals('{principal['id']}')"
                                    "/appRoleAssignments/$entity", **assignment(call.tenant, principal, value)}, 201)
