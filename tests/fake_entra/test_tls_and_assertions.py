"""fake_entra over HTTPS (--tls) and private_key_jwt client assertions at the token endpoint."""

import base64
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from fake_entra import demo

from .certificates import make_app_certificate

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def test_tls_is_served_with_a_certificate_trusted_through_the_ca_file(fake_entra_tls):
    assert fake_entra_tls.base_url.startswith("https://127.0.0.1:")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fake_entra_tls.base_url}/_fake/health", timeout=30)
    config = requests.get(f"{fake_entra_tls.authority_url}/organizations/v2.0/.well-known/openid-configuration",
                          verify=fake_entra_tls.ca_file, timeout=30).json()
    assert config["token_endpoint"].startswith("https://127.0.0.1:")
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    groups = requests.get(f"{fake_entra_tls.graph_url}/groups", verify=fake_entra_tls.ca_file, timeout=30,
                          headers={"Authorization": f"Bearer {fake_entra_tls.app_token()}"})
    assert groups.status_code == 200 and groups.json()["@odata.context"].startswith("https://")


@pytest.fixture
def registered(fake_entra):
    """The demo Enterprise App with a registered certificate."""
    certificate = make_app_certificate()
    thumbprint = fake_entra.control.add_certificate(demo.ENTERPRISE_APP_CLIENT_ID, certificate.certificate_pem)
    assert thumbprint == certificate.thumbprint
    return certificate


def assertion(server, certificate, *, key_pem=None, **changes):
    """A client assertion as MSAL builds one, with any claim or header changed."""
    now = int(time.time())
    claims = {"aud": server.token_url(), "iss": demo.ENTERPRISE_APP_CLIENT_ID, "sub": demo.ENTERPRISE_APP_CLIENT_ID,
              "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
    claims.update({k: v for k, v in changes.items() if k != "x5t"})
    x5t = changes.get("x5t", base64.urlsafe_b64encode(bytes.fromhex(certificate.thumbprint)).rstrip(b"=").decode())
    key = RSAKey.import_key(key_pem or certificate.key_pem)
    return jwt.encode({"alg": "RS256", "typ": "JWT", "x5t": x5t}, claims, key)


def token_with(server, client_assertion, assertion_type=ASSERTION_TYPE):
    return requests.post(server.token_url(), data={
        "grant_type": "client_credentials", "client_id": demo.ENTERPRISE_APP_CLIENT_ID, "scope": GRAPH_DEFAULT,
        "client_assertion_type": assertion_type, "client_assertion": client_assertion}, timeout=30)


def test_a_signed_assertion_replaces_the_secret(fake_entra, registered):
    response = token_with(fake_entra, assertion(fake_entra, registered))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    groups = requests.get(f"{fake_entra.graph_url}/groups", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert groups.status_code == 200


def test_rejected_assertions_get_microsofts_codes(fake_entra, registered):
    other = make_app_certificate("someone-else")
    cases = [
        (assertion(fake_entra, registered, aud="https://login.example.net/token"), 401, 50013),
        (assertion(fake_entra, registered, iss="11111111-2222-3333-4444-555555555555"), 401, 700021),
        (assertion(fake_entra, registered, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200), 401, 700024),
        (assertion(fake_entra, registered, key_pem=other.key_pem), 401, 700027),
        (assertion(fake_entra, other), 401, 700027),
        ("not.a.jwt", 400, 50027),
    ]
    for client_assertion, status, code in cases:
        response = token_with(fake_entra, client_assertion)
        assert response.status_code == status, (code, response.text)
        body = response.json()
        assert body["error_codes"] == [code] and body["error_description"].startswith(f"AADSTS{code}: ")
        assert body["error"] == ("invalid_client" if status == 401 else "invalid_request")
    unknown_type = token_with(fake_entra, assertion(fake_entra, registered), assertion_type="urn:example:saml")
    assert unknown_type.json()["error_codes"] == [7000218]


def test_an_assertion_for_an_app_without_certificates_is_refused(fake_entra):
    certificate = make_app_certificate()
    response = token_with(fake_entra, assertion(fake_entra, certificate))
    assert response.status_code == 401 and response.json()["error_codes"] == [700027]
    assert "Thumbprint of key used by client: '" in response.json()["error_description"]
