"""Token endpoint: success bodies, caching, refresh token rotation and every AADSTS error the portal handles, as
Microsoft sends them."""

import pytest
import responses
from responses import matchers

from webapp.microsoft import (AppOnlyTokenProvider, ApplicationNotInTenant, ConnectionExpired, ConsentRequired,
                              DelegatedTokenProvider, ExpiredClientSecret, InvalidClientSecret, TenantNotFound,
                              UnexpectedResponse)

from .conftest import AUTHORITY, CLIENT_ID, CLIENT_SECRET, TENANT

TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
ORGANIZATIONS_TOKEN_URL = f"{AUTHORITY}/organizations/oauth2/v2.0/token"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJyb2xlcyI6WyJHcm91cE1lbWJlci5SZWFkLkFsbCJdfQ.c2ln"


def aad_error(error, code, text, **extra):
    """A token endpoint error body in Microsoft's exact shape, with the \\r\\n Trace ID description."""
    trace, correlation = "6f6c4645-0202-4486-b625-fa957dfc4700", "5fc87507-4086-4e77-b415-cee677eb232e"
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}"
                             "\r\nTimestamp: 2023-05-06 06:03:00Z",
        "error_codes": [code],
        "timestamp": "2023-05-06 06:03:00Z",
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        **extra,
    }


SECTION_4_ROWS = [
    (401, aad_error("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the "
                    f"request is the client secret value, not the client secret ID, for a secret added to app "
                    f"'{CLIENT_ID}'."),
     InvalidClientSecret, "client_secret",
     "The client secret is wrong. Paste the secret's Value, not its Secret ID."),
    (401, aad_error("invalid_client", 7000222, f"The provided client secret keys for app '{CLIENT_ID}' are expired. "
                    "Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret"),
     ExpiredClientSecret, "client_secret",
     "The client secret has expired: create a new one in Certificates & secrets."),
    (400, aad_error("unauthorized_client", 700016, f"Application with identifier '{CLIENT_ID}' was not found in the "
                    f"directory '{TENANT}'. This can happen if the application has not been installed by the "
                    "administrator of the tenant or consented to by any user in the tenant."),
     ApplicationNotInTenant, "client_id", "No application with this Client ID exists in this tenant."),
    (400, aad_error("invalid_tenant", 90002, "Tenant 'contoso.example' not found. Check to make sure you have the "
                    "correct tenant ID and are signing into the correct cloud."),
     TenantNotFound, "tenant_id", "Tenant not found: check the Directory (tenant) ID."),
    (400, aad_error("invalid_grant", 65001, f"The user or administrator has not consented to use the application "
                    f"with ID '{CLIENT_ID}' named 'Entra Team Sync'. Send an interactive authorization request for "
                    "this user and resource.", suberror="consent_required"),
     ConsentRequired, None, "An administrator must grant consent."),
]


def app_only(**kwargs):
    return AppOnlyTokenProvider(AUTHORITY, TENANT, CLIENT_ID, CLIENT_SECRET, **kwargs)


@responses.activate
def test_client_credentials_posts_the_documented_form_and_caches_the_token(clock):
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                    "access_token": ACCESS_TOKEN},
                   match=[matchers.urlencoded_params_matcher({
                       "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "scope": "https://graph.microsoft.com/.default"})])
    provider = app_only(clock=clock)

    assert provider.access_token() == ACCESS_TOKEN
    clock.now += 3599 - 301
    assert provider.access_token() == ACCESS_TOKEN
    assert len(responses.calls) == 1


@responses.activate
def test_token_is_renewed_five_minutes_before_expiry_and_after_invalidate(clock):
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "first"})
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "second"})
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "third"})
    provider = app_only(clock=clock)

    assert provider.access_token() == "first"
    clock.now += 3599 - 300
    assert provider.access_token() == "second"
    provider.invalidate()
    assert provider.access_token() == "third"


@responses.activate
def test_a_short_lived_token_is_still_cached_for_half_its_life(clock):
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 60, "access_token": "short"})
    provider = app_only(clock=clock)

    provider.access_token()
    clock.now += 29
    provider.access_token()
    assert len(responses.calls) == 1


@pytest.mark.parametrize("status, body, error_class, field, message", SECTION_4_ROWS,
                         ids=[row[2].__name__ for row in SECTION_4_ROWS])
@responses.activate
def test_each_section_4_row_becomes_its_plain_message(status, body, error_class, field, message):
    responses.post(TOKEN_URL, status=status, json=body)

    with pytest.raises(error_class) as caught:
        app_only().access_token()

    error = caught.value
    assert (error.message, str(error), error.field) == (message, message, field)
    assert (error.status, error.code) == (status, f"AADSTS{body['error_codes'][0]}")
    assert error.request_id == body["trace_id"]
    assert CLIENT_SECRET not in repr(error) and "Trace ID" not in error.message


@responses.activate
def test_the_code_is_read_from_the_description_when_error_codes_is_missing():
    body = aad_error("invalid_client", 7000222, "The provided client secret keys are expired.")
    del body["error_codes"]
    responses.post(TOKEN_URL, status=401, json=body)

    with pytest.raises(ExpiredClientSecret):
        app_only().access_token()


@responses.activate
def test_an_html_error_page_is_an_unexpected_response_without_the_body():
    responses.post(TOKEN_URL, status=400, body="<html><title>IIS Detailed Error - 400.0</title></html>",
                   content_type="text/html")

    with pytest.raises(UnexpectedResponse) as caught:
        app_only().access_token()

    assert caught.value.status == 400 and "IIS" not in caught.value.message


@responses.activate
def test_refresh_hands_every_new_refresh_token_to_on_rotate(clock):
    rotated = []
    responses.post(ORGANIZATIONS_TOKEN_URL, json={
        "token_type": "Bearer", "scope": "GroupMember.Read.All User.Read.All", "expires_in": 3599,
        "ext_expires_in": 3599, "access_token": "access-1", "refresh_token": "refresh-2"})
    responses.post(ORGANIZATIONS_TOKEN_URL, json={
        "token_type": "Bearer", "expires_in": 3599, "access_token": "access-2", "refresh_token": "refresh-3"})
    provider = DelegatedTokenProvider(AUTHORITY, CLIENT_ID, CLIENT_SECRET, "refresh-1", on_rotate=rotated.append,
                                      clock=clock)

    assert provider.access_token() == "access-1"
    provider.invalidate()
    assert provider.access_token() == "access-2"

    assert rotated == ["refresh-2", "refresh-3"]
    sent = [dict(pair.split("=", 1) for pair in call.request.body.split("&")) for call in responses.calls]
    assert [form["refresh_token"] for form in sent] == ["refresh-1", "refresh-2"]
    assert all(form["grant_type"] == "refresh_token" for form in sent)


@pytest.mark.parametrize("code, text", [
    (70008, "The provided authorization code or refresh token has expired due to inactivity."),
    (700082, "The refresh token has expired due to inactivity. The token was issued on 2022-01-07T13:54:01Z "
             "and was inactive for 90.00:00:00."),
])
@responses.activate
def test_an_expired_or_revoked_refresh_token_means_reconnect(code, text):
    rotated = []
    responses.post(ORGANIZATIONS_TOKEN_URL, status=400, json=aad_error("invalid_grant", code, text))
    provider = DelegatedTokenProvider(AUTHORITY, CLIENT_ID, CLIENT_SECRET, "old", on_rotate=rotated.append)

    with pytest.raises(ConnectionExpired) as caught:
        provider.access_token()

    assert caught.value.message == "The Microsoft connection has expired: reconnect."
    assert rotated == []
