"""Where Graph refuses a request, fake_entra refuses it with Graph's status and error body."""

import pytest
import requests

from fake_entra import demo

from .helpers import graph_get

EVENTUAL = {"ConsistencyLevel": "eventual"}
TRAINING = demo.group_id("Training")
REFERENCE_QUERY = "The specified filter to the reference property query is currently not supported."


def error_of(response):
    body = response.json()["error"]
    assert set(body) == {"code", "message", "innerError"}
    return body["code"], body["message"]


@pytest.mark.parametrize("path", [
    f"/groups/{TRAINING}/transitiveMembers/microsoft.graph.user",
    f"/groups/{TRAINING}/transitiveMembers/microsoft.graph.group",
    f"/groups/{TRAINING}/members/microsoft.graph.user",
    f"/groups/{TRAINING}/transitiveMembers?$filter=accountEnabled eq false",
    f"/groups/{TRAINING}/members?$orderby=displayName",
])
def test_advanced_queries_on_members_need_the_header_and_count(fake_entra, path):
    token = fake_entra.app_token()
    joiner = "&" if "?" in path else "?"
    for headers, url in (({}, path), (EVENTUAL, path), ({}, f"{path}{joiner}$count=true")):
        response = graph_get(fake_entra, url, token, **headers)
        assert response.status_code == 400, url
        assert error_of(response) == ("Request_UnsupportedQuery", REFERENCE_QUERY)
    assert graph_get(fake_entra, f"{path}{joiner}$count=true", token, **EVENTUAL).status_code == 200


def test_search_on_members_needs_only_the_header(fake_entra):
    token = fake_entra.app_token()
    path = f'/groups/{TRAINING}/transitiveMembers?$search="displayName:zoe"'
    refused = graph_get(fake_entra, path, token)
    assert refused.status_code == 400 and error_of(refused)[0] == "Request_UnsupportedQuery"
    found = graph_get(fake_entra, path, token, **EVENTUAL).json()
    assert [entry["displayName"] for entry in found["value"]] == ["Zoe Clarke"]


def test_plain_member_listings_need_nothing(fake_entra):
    token = fake_entra.app_token()
    assert graph_get(fake_entra, f"/groups/{TRAINING}/members", token).status_code == 200
    assert graph_get(fake_entra, f"/groups/{TRAINING}/transitiveMembers?$top=2", token).status_code == 200


def test_count_query_without_the_header_is_silently_ignored(fake_entra):
    token = fake_entra.app_token()
    plain = graph_get(fake_entra, "/groups?$count=true", token)
    assert plain.status_code == 200 and "@odata.count" not in plain.json()
    counted = graph_get(fake_entra, "/groups?$count=true", token, **EVENTUAL).json()
    assert counted["@odata.count"] == len(demo.GROUP_NAMES)


@pytest.mark.parametrize("object_id", ["Engineering", "12345", "e637af9e-f8be-539c-acfc", "{id}"])
def test_malformed_group_id_is_400_not_404(fake_entra, object_id):
    token = fake_entra.app_token()
    for suffix in ("", "/members", "/transitiveMembers/microsoft.graph.user?$count=true"):
        response = graph_get(fake_entra, f"/groups/{object_id}{suffix}", token, **EVENTUAL)
        assert response.status_code == 400
        assert error_of(response) == ("Request_BadRequest", f"Invalid object identifier '{object_id}'.")
    missing = graph_get(fake_entra, "/groups/00000000-0000-0000-0000-000000000001", token)
    assert missing.status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer not-a-jwt", "Basic abc"])
def test_401_carries_a_bearer_challenge(fake_entra, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{fake_entra.graph_url}/groups", headers=headers, timeout=30)
    assert response.status_code == 401
    assert error_of(response)[0] == "InvalidAuthenticationToken"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=\"\", ")
    assert f'authorization_uri="{fake_entra.authority_url}/common/oauth2/authorize"' in challenge
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in challenge


def test_401_for_an_expired_token_too(fake_entra):
    fake_entra.control.set_token_lifetime(access=-10)
    response = graph_get(fake_entra, "/groups", fake_entra.app_token())
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_ne_is_an_advanced_query(fake_entra):
    token = fake_entra.app_token()
    refused = graph_get(fake_entra, "/users?$filter=accountEnabled ne true", token)
    assert refused.status_code == 400
    code, message = error_of(refused)
    assert code == "Request_UnsupportedQuery" and message.startswith("Operator 'ne' is not supported because the "
                                                                      "required parameters might be missing.")
    disabled = graph_get(fake_entra, "/users?$filter=accountEnabled ne true&$count=true&$select=displayName", token,
                         **EVENTUAL).json()
    assert disabled["@odata.count"] == 2
