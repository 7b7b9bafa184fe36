"""The device authorization grant and Graph's app registration routes, with Microsoft's shapes and errors."""

from __future__ import annotations

import base64
import datetime
import time
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

from fake_entra import demo
from tests.fake_entra.certificates import make_app_certificate
from webapp.microsoft.tokens import ClientCertificate

CLI = demo.GRAPH_COMMAND_LINE_CLIENT_ID
SCOPES = "https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All"
GRAPH_SP = "appId eq '00000003-0000-0000-c000-000000000000'"


def device_code(server, tenant="organizations", scope=SCOPES, client_id=CLI):
    return requests.post(f"{server.base_url}/{tenant}/oauth2/v2.0/devicecode", timeout=30,
                         data={"client_id": client_id, "scope": scope})


def poll(server, code, tenant="organizations"):
    return requests.post(f"{server.base_url}/{tenant}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": CLI, "device_code": code})


def admin_token(server, email=demo.ADMIN_EMAIL):
    started = device_code(server).json()
    server.device_sign_in(started["verification_uri"], started["user_code"], email)
    answer = poll(server, started["device_code"])
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def graph(server, method, path, token, body=None):
    return requests.request(method, f"{server.graph_url}{path}", json=body, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})


def test_device_code_answer_and_polling_errors_follow_microsoft(fake_entra):
    started = device_code(fake_entra)
    body = started.json()
    assert started.status_code == 200
    assert set(body) == {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    assert (body["expires_in"], body["interval"]) == (900, 5)
    assert body["user_code"] in body["message"] and body["verification_uri"] in body["message"]
    pending = poll(fake_entra, body["device_code"]).json()
    assert (pending["error"], pending["error_codes"]) == ("authorization_pending", [70016])
    assert pending["error_description"].startswith("AADSTS70016: ")
    assert poll(fake_entra, "not-a-code").json()["error"] == "bad_verification_code"
    fake_entra.device_sign_in(body["verification_uri"], body["user_code"], accept=False)
    assert poll(fake_entra, body["device_code"]).json()["error"] == "authorization_declined"
    fake_entra.control.set_device_code(lifetime=0.5)
    late = device_code(fake_entra).json()
    time.sleep(1)
    expired = poll(fake_entra, late["device_code"]).json()
    assert (expired["error"], expired["error_codes"]) == ("expired_token", [70019])


def test_device_code_needs_a_public_client_and_a_known_scope(fake_entra):
    confidential = device_code(fake_entra, client_id=demo.PORTAL_CLIENT_ID).json()
    assert (confidential["error"], confidential["error_codes"]) == ("invalid_client", [7000218])
    assert device_code(fake_entra, scope="https://graph.microsoft.com/Nope.All").json()["error_codes"] == [70011]


def test_a_code_is_taken_once_and_its_token_has_the_consented_scopes(fake_entra):
    started = device_code(fake_entra).json()
    done = fake_entra.device_sign_in(started["verification_uri"], started["user_code"])
    assert "You may now close this window" in done
    first = poll(fake_entra, started["device_code"])
    assert first.status_code == 200 and "Application.ReadWrite.All" in first.json()["scope"]
    assert poll(fake_entra, started["device_code"]).json()["error"] == "bad_verification_code"


def test_applications_need_application_readwrite(fake_entra):
    token = requests.post(f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": demo.ENTERPRISE_APP_CLIENT_ID,
        "client_secret": demo.ENTERPRISE_APP_SECRET, "scope": "https://graph.microsoft.com/.default"}).json()
    refused = graph(fake_entra, "POST", "/applications", token["access_token"], {"displayName": "X"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"


def test_an_application_its_scope_its_client_and_its_roles(fake_entra):
    token = admin_token(fake_entra)
    created = graph(fake_entra, "POST", "/applications", token,
                    {"displayName": "Shapes", "signInAudience": "AzureADMyOrg"})
    assert created.status_code == 201
    app = created.json()
    assert app["@odata.context"].endswith("$metadata#applications/$entity")
    assert app["api"] == {"oauth2PermissionScopes": [], "preAuthorizedApplications": [],
                          "requestedAccessTokenVersion": None}
    unverified = graph(fake_entra, "PATCH", f"/applications/{app['id']}", token,
                       {"identifierUris": ["https://example.com/api"]})
    assert unverified.status_code == 400 and unverified.json()["error"]["code"] == "HostNameNotOnVerifiedDomain"
    scope_id = str(uuid.uuid4())
    unknown = graph(fake_entra, "PATCH", f"/applications/{app['id']}", token, {"api": {"preAuthorizedApplications": [
        {"appId": app["appId"], "delegatedPermissionIds": [scope_id]}]}})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "InvalidPreAuthorizedAppPermission"
    assert graph(fake_entra, "PATCH", f"/applications/{app['id']}", token, {
        "identifierUris": [f"api://{app['appId']}"], "api": {"oauth2PermissionScopes": [{
            "id": scope_id, "value": "X.Read", "type": "Admin", "adminConsentDisplayName": "X",
            "adminConsentDescription": "X"}]}}).status_code == 204
    assert graph(fake_entra, "PATCH", f"/applications/{app['id']}", token, {"api": {"preAuthorizedApplications": [
        {"appId": app["appId"], "delegatedPermissionIds": [scope_id]}]}}).status_code == 204
    removing = graph(fake_entra, "PATCH", f"/applications/{app['id']}", token, {"api": {"oauth2PermissionScopes": []}})
    assert removing.json()["error"]["code"] == "CannotDeleteOrUpdateEnabledEntitlement"

    secret = graph(fake_entra, "POST", f"/applications/{app['id']}/addPassword", token,
                   {"passwordCredential": {"displayName": "s"}}).json()
    assert secret["secretText"].startswith(secret["hint"]) and len(secret["secretText"]) == 40
    listed = graph(fake_entra, "GET", f"/applications/{app['id']}", token).json()
    assert listed["passwordCredentials"][0]["secretText"] is None
    no_principal = requests.post(f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": secret["secretText"],
        "scope": "https://graph.microsoft.com/.default"}).json()
    assert no_principal["error_codes"] == [7000229]

    principal = graph(fake_entra, "POST", "/servicePrincipals", token, {"appId": app["appId"]}).json()
    again = graph(fake_entra, "POST", "/servicePrincipals", token, {"appId": app["appId"]})
    assert again.status_code == 409
    microsoft_graph = graph(fake_entra, "GET", f"/servicePrincipals?$filter={GRAPH_SP}", token).json()["value"][0]
    role = next(r["id"] for r in microsoft_graph["appRoles"] if r["value"] == "GroupMember.Read.All")
    assign = {"principalId": principal["id"], "resourceId": microsoft_graph["id"], "appRoleId": role}
    granted = graph(fake_entra, "POST", f"/servicePrincipals/{principal['id']}/appRoleAssignments", token, assign)
    assert granted.status_code == 201 and granted.json()["resourceDisplayName"] == "Microsoft Graph"
    twice = graph(fake_entra, "POST", f"/servicePrincipals/{principal['id']}/appRoleAssignments", token, assign)
    assert twice.json()["error"]["message"] == "Permission being assigned already exists on the object."
    bogus = graph(fake_entra, "POST", f"/servicePrincipals/{principal['id']}/appRoleAssignments", token,
                  dict(assign, appRoleId=str(uuid.uuid4())))
    assert bogus.status_code == 400 and "was not found on application" in bogus.json()["error"]["message"]
    app_token = requests.post(f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": app["appId"], "client_secret": secret["secretText"],
        "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
    assert graph(fake_entra, "GET", "/groups", app_token).status_code == 200


def der(certificate_pem: str) -> str:
    return base64.b64encode(x509.load_pem_x509_certificate(certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER)).decode()


def proof(application_id: str, certificate) -> str:
    now = int(time.time())
    thumbprint = base64.urlsafe_b64encode(bytes.fromhex(certificate.thumbprint)).rstrip(b"=").decode()
    return jwt.encode({"alg": "RS256", "x5t": thumbprint}, {"aud": "00000002-0000-0000-c000-000000000000",
                                                          "iss": application_id, "nbf": now, "exp": now + 600},
                      RSAKey.import_key(certificate.key_pem))


def test_certificates_by_update_then_by_add_key_with_a_proof(fake_entra):
    token = admin_token(fake_entra)
    app = graph(fake_entra, "POST", "/applications", token, {"displayName": "Keys"}).json()
    first, second = make_app_certificate("first"), make_app_certificate("second")
    new_key = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": der(second.certificate_pem)}
    without = graph(fake_entra, "POST", f"/applications/{app['id']}/addKey", token,
                    {"keyCredential": new_key, "proof": "x"})
    assert without.status_code == 400, "addKey needs a valid certificate already there: Update application first"
    assert graph(fake_entra, "PATCH", f"/applications/{app['id']}", token, {"keyCredentials": [
        {"type": "AsymmetricX509Cert", "usage": "Verify", "key": der(first.certificate_pem)}]}).status_code == 204
    plain = graph(fake_entra, "GET", f"/applications/{app['id']}", token).json()["keyCredentials"][0]
    assert plain["key"] is None and plain["customKeyIdentifier"] == first.thumbprint
    selected = graph(fake_entra, "GET", f"/applications/{app['id']}?$select=keyCredentials", token).json()
    assert selected["keyCredentials"][0]["key"] == der(first.certificate_pem)
    forged = graph(fake_entra, "POST", f"/applications/{app['id']}/addKey", token,
                   {"keyCredential": new_key, "proof": proof(app["id"], second)})
    assert forged.status_code == 401
    added = graph(fake_entra, "POST", f"/applications/{app['id']}/addKey", token,
                  {"keyCredential": new_key, "proof": proof(app["id"], first)})
    assert added.status_code == 200 and added.json()["customKeyIdentifier"] == second.thumbprint


def test_a_user_without_an_admin_role_cannot_grant_app_roles(fake_entra):
    fake_entra.control.grant_consent(demo.TENANT_ID, CLI, delegated=("Application.ReadWrite.All",
                                                                    "AppRoleAssignment.ReadWrite.All"))
    token = admin_token(fake_entra, demo.MEMBER_EMAIL)
    app = graph(fake_entra, "POST", "/applications", token, {"displayName": "Member's app"}).json()
    principal = graph(fake_entra, "POST", "/servicePrincipals", token, {"appId": app["appId"]}).json()
    microsoft_graph = graph(fake_entra, "GET", f"/servicePrincipals?$filter={GRAPH_SP}", token).json()["value"][0]
    refused = graph(fake_entra, "POST", f"/servicePrincipals/{principal['id']}/appRoleAssignments", token, {
        "principalId": principal["id"], "resourceId": microsoft_graph["id"],
        "appRoleId": microsoft_graph["appRoles"][0]["id"]})
    assert refused.status_code == 403 and refused.json()["error"]["message"] == \
        "Insufficient privileges to complete the operation."


@pytest.mark.parametrize("path", ["/applications", "/servicePrincipals"])
def test_app_registration_routes_need_a_token(fake_entra, path):
    response = requests.get(f"{fake_entra.graph_url}{path}", timeout=30)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_certificate_past_its_end_date_no_longer_signs_in(fake_entra):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
                   .not_valid_after(now - datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    fake_entra.control.add_certificate(demo.ENTERPRISE_APP_CLIENT_ID, pem)
    signer = ClientCertificate(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode(), pem)
    endpoint = f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token"
    answer = requests.post(endpoint, timeout=30, data={
        "grant_type": "client_credentials", "client_id": demo.ENTERPRISE_APP_CLIENT_ID,
        "scope": "https://graph.microsoft.com/.default",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signer.assertion(demo.ENTERPRISE_APP_CLIENT_ID, endpoint)}).json()
    assert (answer["error"], answer["error_codes"]) == ("invalid_client", [700027])
    assert "The key used is expired" in answer["error_description"]
