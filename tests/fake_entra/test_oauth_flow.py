"""Sign-in pages, consent, PKCE, id_token and refresh rotation."""

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from fake_entra import demo
from fake_entra.testing import SignInError

from .helpers import graph_get
from .oauth import REDIRECT_URI, authorize_url, connect, query_of, redeem, refresh


def test_discovery_for_organizations_has_the_literal_tenantid_issuer(fake_entra):
    config = requests.get(f"{fake_entra.authority_url}/organizations/v2.0/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{fake_entra.authority_url}/{{tenantid}}/v2.0"
    assert config["authorization_endpoint"] == f"{fake_entra.authority_url}/organizations/oauth2/v2.0/authorize"
    by_domain = requests.get(f"{fake_entra.authority_url}/{demo.TENANT_DOMAIN}/v2.0/.well-known/openid-configuration")
    assert by_domain.json()["issuer"] == f"{fake_entra.authority_url}/{demo.TENANT_ID}/v2.0"
    unknown = requests.get(f"{fake_entra.authority_url}/nowhere.example/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


def test_code_flow_gives_a_signed_id_token_with_nonce(fake_entra):
    url, sent = authorize_url(fake_entra)
    redirect = fake_entra.sign_in(url, demo.ADMIN_EMAIL)
    assert redirect.startswith(REDIRECT_URI + "?")
    params = query_of(redirect)
    assert params["state"] == sent["state"]
    tokens = redeem(fake_entra, params["code"], sent["verifier"]).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3599
    keys = requests.get(f"{fake_entra.authority_url}/organizations/discovery/v2.0/keys").json()
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(keys)).claims
    assert claims["aud"] == demo.PORTAL_CLIENT_ID
    assert claims["iss"] == f"{fake_entra.authority_url}/{demo.TENANT_ID}/v2.0"
    assert claims["tid"] == demo.TENANT_ID and claims["oid"] == demo.user_id("Megan Bowen")
    assert claims["nonce"] == sent["nonce"] and claims["ver"] == "2.0"
    assert claims["preferred_username"] == demo.ADMIN_EMAIL and claims["name"] == "Megan Bowen"
    me = graph_get(fake_entra, "/me", tokens["access_token"]).json()
    assert me["displayName"] == "Megan Bowen"


def test_code_is_single_use_and_needs_the_right_verifier(fake_entra):
    url, sent = authorize_url(fake_entra)
    code = query_of(fake_entra.sign_in(url))["code"]
    wrong = redeem(fake_entra, code, "not-the-verifier")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    url, sent = authorize_url(fake_entra)
    code = query_of(fake_entra.sign_in(url))["code"]
    assert redeem(fake_entra, code, sent["verifier"]).status_code == 200
    reused = redeem(fake_entra, code, sent["verifier"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant" and reused.json()["error_codes"] == [70008]


def test_refresh_rotates_and_the_old_token_dies(fake_entra):
    first = connect(fake_entra)
    second = refresh(fake_entra, first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    again = refresh(fake_entra, first["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant" and again.json()["error_codes"] == [700082]
    assert refresh(fake_entra, second.json()["refresh_token"]).status_code == 200


def test_revoked_refresh_tokens_and_consent(fake_entra):
    tokens = connect(fake_entra)
    assert fake_entra.control.revoke_refresh_tokens(tenant_id=demo.TENANT_ID) == 1
    assert refresh(fake_entra, tokens["refresh_token"]).json()["error_codes"] == [700082]
    tokens = connect(fake_entra)
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.PORTAL_CLIENT_ID)
    body = refresh(fake_entra, tokens["refresh_token"]).json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [65001]
    assert body["suberror"] == "consent_required"


def test_cancel_on_consent_redirects_with_access_denied(fake_entra):
    url, sent = authorize_url(fake_entra)
    params = query_of(fake_entra.sign_in(url, accept=False))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004")
    assert params["state"] == sent["state"] and "code" not in params


def test_non_admin_needs_an_admin_first(fake_entra):
    url, _ = authorize_url(fake_entra)
    with pytest.raises(SignInError) as refused:
        fake_entra.sign_in(url, demo.MEMBER_EMAIL)
    assert refused.value.code == 90094
    connect(fake_entra, demo.ADMIN_EMAIL)
    url, sent = authorize_url(fake_entra)
    assert "code" in query_of(fake_entra.sign_in(url, demo.MEMBER_EMAIL, accept=False))


def test_prompt_none_without_session_redirects_with_an_error(fake_entra):
    url, _ = authorize_url(fake_entra, prompt="none")
    assert query_of(fake_entra.sign_in(url))["error"] == "interaction_required"


def test_app_errors_stay_on_microsofts_page(fake_entra):
    url, _ = authorize_url(fake_entra, client_id="11111111-2222-3333-4444-555555555555")
    response = requests.get(url, allow_redirects=False)
    assert response.status_code == 400 and "AADSTS700016" in response.text
    url, _ = authorize_url(fake_entra, redirect_uri="https://evil.example/entra/oauth/callback")
    response = requests.get(url, allow_redirects=False)
    assert response.status_code == 400 and "AADSTS50011" in response.text
    url, _ = authorize_url(fake_entra, redirect_uri="http://127.0.0.1:8123/entra/oauth/callback")
    assert requests.get(url, allow_redirects=False).status_code == 200


def test_wrong_password_and_disabled_account(fake_entra):
    url, _ = authorize_url(fake_entra)
    with pytest.raises(SignInError) as wrong:
        fake_entra.sign_in(url, demo.ADMIN_EMAIL, "nope")
    assert wrong.value.code == 50126
    with pytest.raises(SignInError) as disabled:
        fake_entra.sign_in(url, demo.DISABLED_EMAIL)
    assert disabled.value.code == 50057


def test_fabrikam_user_connects_to_its_own_tenant(fake_entra):
    tokens = connect(fake_entra, demo.FABRIKAM_ADMIN_EMAIL)
    claims = jwt.decode(tokens["id_token"], KeySet.import_key_set(
        requests.get(f"{fake_entra.authority_url}/common/discovery/v2.0/keys").json())).claims
    assert claims["tid"] == demo.FABRIKAM_TENANT_ID
    groups = graph_get(fake_entra, "/groups", tokens["access_token"]).json()["value"]
    assert [g["displayName"] for g in groups] == ["Fabrikam Trainers"]


def test_admin_consent_endpoint(fake_entra):
    base = (f"{fake_entra.authority_url}/organizations/v2.0/adminconsent?client_id={demo.PORTAL_CLIENT_ID}"
            f"&scope=https://graph.microsoft.com/.default&redirect_uri={REDIRECT_URI}&state=s1")
    declined = query_of(fake_entra.sign_in(base, demo.FABRIKAM_ADMIN_EMAIL, accept=False))
    assert declined["error"] == "access_denied" and declined["admin_consent"] == "True"
    assert "tenant" not in declined and declined["state"] == "s1"
    granted = query_of(fake_entra.sign_in(base, demo.FABRIKAM_ADMIN_EMAIL))
    assert granted == {"admin_consent": "True", "tenant": demo.FABRIKAM_TENANT_ID,
                       "scope": "https://graph.microsoft.com/.default", "state": "s1"}
    url, _ = authorize_url(fake_entra)
    assert "code" in query_of(fake_entra.sign_in(url, demo.FABRIKAM_MEMBER_EMAIL))
    with pytest.raises(SignInError):
        fake_entra.sign_in(base, demo.FABRIKAM_MEMBER_EMAIL)
