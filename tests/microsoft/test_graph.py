"""Graph reads against Microsoft's documented payloads: collections, nextLink, errors, guests, delta."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from webapp.microsoft import (AppOnlyTokenProvider, DeltaExpired, GraphClient, GroupNotFound, PermissionDenied,
                              RetryPolicy, ServiceUnavailable, TokenRejected, UnexpectedResponse, to_entra_user)

from .conftest import AUTHORITY, CLIENT_ID, CLIENT_SECRET, GRAPH, TENANT

TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
GROUP_ID = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
MEMBERS_URL = f"{GRAPH}/groups/{GROUP_ID}/transitiveMembers/microsoft.graph.user"
INNER = {"date": "2023-02-20T05:06:48", "request-id": "b04ace1e-13a0-4940-b489-f86dcca10985",
         "client-request-id": "b04ace1e-13a0-4940-b489-f86dcca10985"}
ADELE = {"@odata.type": "#microsoft.graph.user", "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
         "displayName": "Adele Vance", "givenName": "Adele", "surname": "Vance", "mail": "AdeleV@contoso.com",
         "userPrincipalName": "AdeleV@contoso.onmicrosoft.com", "accountEnabled": True, "userType": "Member",
         "jobTitle": "Retail Manager", "department": "Retail"}
NO_MAIL = {**ADELE, "id": "5bde3e51-d13b-4db1-9948-fe4b109d11a7", "displayName": "Megan Bowen", "mail": None,
           "userPrincipalName": "MeganB@contoso.onmicrosoft.com", "accountEnabled": False}
GUEST = {**ADELE, "id": "d4957c9d-869e-4364-830c-d0c95be72738", "displayName": "Jane Doe", "mail": None,
         "userPrincipalName": "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com", "userType": "Guest",
         "jobTitle": None, "department": None}


def graph_error(code, message):
    return {"error": {"code": code, "message": message, "innerError": INNER}}


def page(users, next_link=None, context="https://graph.microsoft.com/v1.0/$metadata#users"):
    body = {"@odata.context": context, "@odata.count": 3, "value": users}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


@pytest.fixture
def graph(clock):
    responses.start()
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "token-1"})
    provider = AppOnlyTokenProvider(AUTHORITY, TENANT, CLIENT_ID, CLIENT_SECRET, clock=clock)
    yield GraphClient(GRAPH, provider, retry=RetryPolicy(max_attempts=3), sleep=clock.sleep, clock=clock)
    responses.stop()
    responses.reset()


def graph_calls():
    return [call for call in responses.calls if call.request.url.startswith(GRAPH)]


def test_group_users_follow_every_next_link_with_the_documented_query(graph):
    next_link = f"{MEMBERS_URL}?$select=id&$top=999&$count=true&$skiptoken=RFNwdAIAAQAAAD8"
    responses.get(MEMBERS_URL, json=page([ADELE, NO_MAIL], next_link))
    responses.get(MEMBERS_URL, json=page([GUEST]))

    pages = list(graph.iter_group_user_pages(GROUP_ID))

    assert [[user["id"] for user in users] for users in pages] == [[ADELE["id"], NO_MAIL["id"]], [GUEST["id"]]]
    first, second = graph_calls()
    query = parse_qs(urlsplit(first.request.url).query)
    assert query["$select"] == ["id,displayName,givenName,surname,mail,userPrincipalName,accountEnabled,userType,"
                                "jobTitle,department"]
    assert query["$top"] == ["999"] and query["$count"] == ["true"]
    assert second.request.url == next_link
    assert all(call.request.headers["ConsistencyLevel"] == "eventual" for call in (first, second))
    assert first.request.headers["Authorization"] == "Bearer token-1"
    assert graph.request_count == 2


def test_normalised_users_use_mail_else_upn_but_never_a_guest_ext_name(graph):
    responses.get(MEMBERS_URL, json=page([ADELE, NO_MAIL, GUEST]))

    adele, megan, jane = graph.fetch_group_users(GROUP_ID)

    assert (adele.email, adele.display_name, adele.job_title, adele.department) == (
        "AdeleV@contoso.com", "Adele Vance", "Retail Manager", "Retail")
    assert (megan.email, megan.enabled, megan.is_guest) == ("MeganB@contoso.onmicrosoft.com", False, False)
    assert (jane.email, jane.is_guest, jane.enabled) == (None, True, True)


def test_a_failing_page_in_the_middle_raises_instead_of_returning_part_of_the_group(graph):
    responses.get(MEMBERS_URL, json=page([ADELE], f"{MEMBERS_URL}?$skiptoken=abc"))
    responses.get(MEMBERS_URL, status=500, json=graph_error("UnknownError", ""))

    with pytest.raises(ServiceUnavailable) as caught:
        graph.fetch_group_users(GROUP_ID)
    assert (caught.value.status, caught.value.code) == (500, "UnknownError")


def test_users_without_their_properties_mean_user_read_all_is_missing(graph):
    hidden = {"@odata.type": "#microsoft.graph.user", "id": ADELE["id"], "displayName": None, "mail": None,
              "userPrincipalName": None, "accountEnabled": None}
    responses.get(MEMBERS_URL, json=page([hidden]))

    with pytest.raises(PermissionDenied) as caught:
        graph.fetch_group_users(GROUP_ID)
    assert "User.Read.All" in caught.value.message


def test_a_401_gets_one_new_token_then_succeeds(graph):
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "token-2"})
    responses.get(f"{GRAPH}/groups/{GROUP_ID}", status=401,
                  json=graph_error("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))
    responses.get(f"{GRAPH}/groups/{GROUP_ID}", json={"id": GROUP_ID, "displayName": "Sales"})

    assert graph.get_group(GROUP_ID)["displayName"] == "Sales"
    assert [call.request.headers["Authorization"] for call in graph_calls()] == ["Bearer token-1", "Bearer token-2"]


def test_a_second_401_is_reported_not_retried_forever(graph):
    responses.post(TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "token-2"})
    for _ in range(2):
        responses.get(f"{GRAPH}/groups/{GROUP_ID}", status=401,
                      json=graph_error("InvalidAuthenticationToken", "Access token validation failure."))

    with pytest.raises(TokenRejected) as caught:
        graph.get_group(GROUP_ID)
    assert caught.value.code == "InvalidAuthenticationToken" and len(graph_calls()) == 2
    assert "token-2" not in caught.value.message


def test_403_names_the_permission_an_administrator_must_grant(graph):
    responses.get(f"{GRAPH}/groups", status=403,
                  json=graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))

    with pytest.raises(PermissionDenied) as caught:
        graph.search_groups("")
    assert caught.value.message == ("Microsoft refused access: an administrator must grant the app the "
                                    "GroupMember.Read.All permission (with admin consent).")
    assert (caught.value.status, caught.value.code) == (403, "Authorization_RequestDenied")


def test_404_on_a_group_is_group_not_found(graph):
    responses.get(f"{GRAPH}/groups/{GROUP_ID}", status=404, json=graph_error(
        "Request_ResourceNotFound", f"Resource '{GROUP_ID}' does not exist or one of its queried reference-property "
        "objects are not present."))

    with pytest.raises(GroupNotFound) as caught:
        graph.get_group(GROUP_ID)
    assert caught.value.request_id == INNER["request-id"] and GROUP_ID not in caught.value.message


def test_search_sends_a_quoted_search_with_consistency_level_and_no_stray_quotes(graph):
    responses.get(f"{GRAPH}/groups", json={"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
                                           "@odata.count": 1, "value": [{"id": GROUP_ID, "displayName": "Sales"}]})

    groups = graph.search_groups('Sa"les 50%', limit=10)

    assert groups == [{"id": GROUP_ID, "displayName": "Sales"}]
    request = graph_calls()[0].request
    assert "%2B" not in request.url and "+" not in request.url
    query = parse_qs(urlsplit(request.url).query)
    assert query["$search"] == ['"displayName:Sa les 50%"']
    assert query["$orderby"] == ["displayName"] and query["$top"] == ["10"] and query["$count"] == ["true"]
    assert request.headers["ConsistencyLevel"] == "eventual"


def test_an_empty_search_lists_the_first_groups_by_name(graph):
    responses.get(f"{GRAPH}/groups", json={"value": []})

    graph.search_groups("  ")

    query = parse_qs(urlsplit(graph_calls()[0].request.url).query)
    assert "$search" not in query and query["$orderby"] == ["displayName"] and query["$top"] == ["25"]


def test_users_delta_follows_pages_to_the_delta_link(graph):
    delta_url = f"{GRAPH}/users/delta"
    final = f"{delta_url}?$deltatoken=oEcOySpF_hWYmTIUZBOIfPzcwisr_rPe8o9M54L45qEXQGmvQC6T2dbL-9O7nSU-njKhFiGlAZqe"
    responses.get(delta_url, json={"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
                                   "@odata.nextLink": f"{delta_url}?$skiptoken=pqwSUjGYvb3jQpbwVAwEL7yuI3dU1Lecfk",
                                   "value": [ADELE]})
    responses.get(delta_url, json={"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
                                   "@odata.deltaLink": final,
                                   "value": [{"id": NO_MAIL["id"], "@removed": {"reason": "changed"}}]})

    result = graph.users_delta()

    assert [item["id"] for item in result.items] == [ADELE["id"], NO_MAIL["id"]]
    assert result.items[1]["@removed"] == {"reason": "changed"} and result.delta_link == final
    responses.get(final, json={"value": [], "@odata.deltaLink": final})
    assert graph.users_delta(result.delta_link).items == []


def test_groups_delta_merges_member_slices_of_a_group_across_pages(graph):
    delta_url = f"{GRAPH}/groups/delta"
    user = "#microsoft.graph.user"
    responses.get(delta_url, json={"@odata.nextLink": f"{delta_url}?$skiptoken=next", "value": [
        {"id": GROUP_ID, "displayName": "Sales", "members@delta": [{"@odata.type": user, "id": ADELE["id"]}]}]})
    responses.get(delta_url, json={"@odata.deltaLink": f"{delta_url}?$deltatoken=done", "value": [
        {"id": GROUP_ID,
         "members@delta": [{"@odata.type": user, "id": GUEST["id"], "@removed": {"reason": "deleted"}}]}]})

    (group,) = graph.groups_delta(group_ids=[GROUP_ID]).items

    assert group["displayName"] == "Sales"
    assert [member["id"] for member in group["members@delta"]] == [ADELE["id"], GUEST["id"]]
    query = parse_qs(urlsplit(graph_calls()[0].request.url).query)
    assert query["$filter"] == [f"id eq '{GROUP_ID}'"] and query["$select"] == ["displayName,members"]


@pytest.mark.parametrize("status, body", [
    (400, graph_error("syncStateNotFound", "The sync state generation is not found; generation=149;[highest=157].")),
    (410, graph_error("SyncStateNotFound", "The sync state generation is not found.")),
])
def test_an_expired_delta_link_asks_for_a_full_sync(graph, status, body):
    stale = f"{GRAPH}/users/delta?$deltatoken=stale"
    responses.get(stale, status=status, json=body)

    with pytest.raises(DeltaExpired):
        graph.users_delta(stale)


def test_a_delta_round_without_a_delta_link_is_not_a_result(graph):
    responses.get(f"{GRAPH}/users/delta", json={"value": [ADELE]})

    with pytest.raises(UnexpectedResponse):
        graph.users_delta()


def test_a_documented_user_normalises_from_its_raw_json():
    raw = json.loads('{"id":"x","displayName":null,"givenName":"Ann","surname":"Lee","mail":"  ",'
                     '"userPrincipalName":"ann@contoso.com","accountEnabled":null,"userType":null}')

    user = to_entra_user(raw)

    assert (user.display_name, user.email, user.enabled, user.is_guest) == ("Ann Lee", "ann@contoso.com", True, False)
