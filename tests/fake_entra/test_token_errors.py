"""Client credentials and the token endpoint's error bodies (AADSTS codes as Microsoft sends them)."""

import pytest
import requests

from fake_entra import demo

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def client_credentials(server, tenant=demo.TENANT_ID, client_id=demo.ENTERPRISE_APP_CLIENT_ID,
                       secret=demo.ENTERPRISE_APP_SECRET, scope=GRAPH_DEFAULT, basic=False):
    data = {"grant_type": "client_credentials", "scope": scope}
    auth = (client_id, secret) if basic else None
    if not basic:
        data.update(client_id=client_id, client_secret=secret)
    return requests.post(server.token_url(tenant), data=data, auth=auth, timeout=30)


def test_client_credentials_token_has_roles(fake_entra):
    for tenant, basic in ((demo.TENANT_ID, False), (demo.TENANT_DOMAIN, True)):
        response = client_credentials(fake_entra, tenant=tenant, basic=basic)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    fake_entra.control.set_token_lifetime(access=120)
    assert client_credentials(fake_entra).json()["expires_in"] == 120


@pytest.mark.parametrize("case, status, error, code", [
    ({"secret": demo.ENTERPRISE_APP_SECRET_ID}, 401, "invalid_client", 7000215),
    ({"secret": demo.ENTERPRISE_APP_EXPIRED_SECRET}, 401, "invalid_client", 7000222),
    ({"client_id": "0f0f0f0f-0000-4000-8000-000000000000"}, 400, "unauthorized_client", 700016),
    ({"tenant": demo.FABRIKAM_TENANT_ID}, 400, "unauthorized_client", 700016),
    ({"tenant": "00000000-1111-2222-3333-444444444444"}, 400, "invalid_tenant", 90002),
    ({"tenant": "common"}, 400, "invalid_request", 50059),
    ({"scope": "https://graph.microsoft.com/User.Read.All"}, 400, "invalid_scope", 1002012),
])
def test_token_errors_have_microsofts_shape(fake_entra, case, status, error, code):
    response = client_credentials(fake_entra, **case)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"] and "\r\nCorrelation ID: " in body["error_description"]
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)


def test_secret_value_is_never_echoed(fake_entra):
    body = client_credentials(fake_entra, secret=demo.ENTERPRISE_APP_EXPIRED_SECRET).text
    assert demo.ENTERPRISE_APP_EXPIRED_SECRET not in body


def test_app_without_granted_roles_gets_a_token_but_graph_says_403(fake_entra):
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    token = client_credentials(fake_entra).json()["access_token"]
    response = requests.get(f"{fake_entra.graph_url}/groups", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    assert response.json()["error"]["message"] == "Insufficient privileges to complete the operation."


def test_generated_tenant_credentials_work(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=3, users=50, groups=5)
    app = tenant["app"]
    ok = client_credentials(fake_entra, tenant["tenant_id"], app["client_id"], app["client_secret"])
    assert ok.status_code == 200
    expired = client_credentials(fake_entra, tenant["domain"], app["client_id"], app["expired_client_secret"])
    assert expired.json()["error_codes"] == [7000222]


@pytest.mark.parametrize("scope", ["User.Read.All", "https://graph.microsoft.com/User.Read.All openid"])
def test_client_credentials_scope_must_be_dot_default(fake_entra, scope):
    body = client_credentials(fake_entra, scope=scope).json()
    assert body["error"] == "invalid_scope" and body["error_codes"] == [1002012]
    asked = scope.split()[0]
    assert body["error_description"].startswith(
        f"AADSTS1002012: The provided value for scope {asked} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).")


@pytest.mark.parametrize("tenant", ["not_a_tenant", "{tenantid}", "contoso..example", "-contoso.example"])
def test_malformed_tenant_is_aadsts900023_everywhere(fake_entra, tenant):
    expected = f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
    token = client_credentials(fake_entra, tenant=tenant)
    assert token.status_code == 400
    assert token.json()["error"] == "invalid_request" and token.json()["error_codes"] == [900023]
    assert token.json()["error_description"].startswith(f"AADSTS900023: {expected}")
    config = requests.get(f"{fake_entra.authority_url}/{tenant}/v2.0/.well-known/openid-configuration", timeout=30)
    assert config.status_code == 400 and config.json()["error_codes"] == [900023]
    page = requests.get(f"{fake_entra.authority_url}/{tenant}/oauth2/v2.0/authorize",
                        params={"client_id": demo.PORTAL_CLIENT_ID}, timeout=30)
    assert page.status_code == 400 and "AADSTS900023" in page.text
    unknown = client_credentials(fake_entra, tenant="unknown.example")
    assert unknown.json()["error_codes"] == [90002]


def test_instance_discovery_points_msal_at_the_tenant_configuration(fake_entra):
    base = fake_entra.authority_url
    for path in ("/common/discovery/instance", f"/{demo.TENANT_ID}/discovery/instance"):
        body = requests.get(base + path, params={"api-version": "1.1", "authorization_endpoint":
                            f"{base}/{demo.TENANT_DOMAIN}/oauth2/v2.0/authorize"}, timeout=30).json()
        assert body["tenant_discovery_endpoint"] == f"{base}/{demo.TENANT_DOMAIN}/v2.0/.well-known/openid-configuration"
        host = base.split("://", 1)[1]
        assert body["metadata"] == [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
        assert requests.get(body["tenant_discovery_endpoint"], timeout=30).json()["issuer"].endswith(
            f"/{demo.TENANT_ID}/v2.0")
    foreign = requests.get(f"{base}/common/discovery/instance", params={
        "authorization_endpoint": "https://login.example.net/common/oauth2/v2.0/authorize"}, timeout=30)
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_instance" and foreign.json()["error_codes"] == [50049]
