"""Every spelling of a Graph URL that Microsoft accepts reaches the same answer."""

import pytest

from fake_entra import demo

from .helpers import follow, graph_get

EVENTUAL = {"ConsistencyLevel": "eventual"}
ENGINEERING = demo.group_id("Engineering")


def names(server, path, token, **headers):
    entries, _ = follow(server, path, token, **headers)
    return sorted(entry["displayName"] for entry in entries)


@pytest.mark.parametrize("cast", ["microsoft.graph.user", "graph.user", "Microsoft.Graph.User", "GRAPH.USER"])
def test_user_cast_in_every_spelling(fake_entra, cast):
    token = fake_entra.app_token()
    path = f"/groups/{ENGINEERING}/transitiveMembers/{cast}?$count=true&$select=displayName"
    assert names(fake_entra, path, token, **EVENTUAL) == sorted(demo.DEPARTMENT_STAFF["Engineering"])
    counted = fake_entra.control.counts()
    assert counted["GET /groups/{id}/transitiveMembers/microsoft.graph.user"] >= 1


@pytest.mark.parametrize("path", ["/Groups/{id}/TransitiveMembers/graph.group", "/GROUPS/{id}/transitivemembers/"
                                  "microsoft.graph.group", "/groups/{upper}/transitiveMembers/microsoft.graph.group"])
def test_segment_names_and_ids_are_case_insensitive(fake_entra, path):
    token = fake_entra.app_token()
    url = path.format(id=ENGINEERING, upper=ENGINEERING.upper()) + "?$count=true&$select=displayName"
    assert names(fake_entra, url, token, **EVENTUAL) == ["Platform Team"]
    one = graph_get(fake_entra, f"/GROUPS/{ENGINEERING.upper()}?$select=id,displayName", token).json()
    assert one["id"] == ENGINEERING and one["displayName"] == "Engineering"
    assert graph_get(fake_entra, "/USERS?$top=1", token).status_code == 200


@pytest.mark.parametrize("spelling", ["delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()",
                                      "graph.delta()", "Delta()"])
def test_users_delta_in_every_spelling_reaches_its_delta_link(fake_entra, spelling):
    token = fake_entra.app_token()
    url, users = f"/users/{spelling}?$select=id,displayName", []
    while True:
        page = graph_get(fake_entra, url, token)
        assert page.status_code == 200, page.text
        body = page.json()
        users.extend(body["value"])
        if "@odata.deltaLink" in body:
            break
        url = body["@odata.nextLink"]
    assert demo.user_id("Megan Bowen") in {u["id"] for u in users}
    again = graph_get(fake_entra, body["@odata.deltaLink"], token).json()
    assert again["value"] == [] and "@odata.deltaLink" in again
    assert fake_entra.control.counts()["GET /users/delta"] >= 2


def test_groups_delta_with_parentheses(fake_entra):
    body = graph_get(fake_entra, "/groups/delta()?$select=displayName", fake_entra.app_token()).json()
    assert body["value"] and ("@odata.deltaLink" in body or "@odata.nextLink" in body)


@pytest.mark.parametrize("path, expected", [
    ("/groups/$count", len(demo.GROUP_NAMES)),
    # Its users, Platform Team and Platform Team's device and service principal.
    (f"/groups/{ENGINEERING}/transitiveMembers/$count", len(demo.DEPARTMENT_STAFF["Engineering"]) + 3),
    (f"/groups/{ENGINEERING}/transitiveMembers/graph.user/$count", len(demo.DEPARTMENT_STAFF["Engineering"])),
    (f"/groups/{ENGINEERING}/members/microsoft.graph.group/$count", 1),
])
def test_count_segments_answer_text_plain(fake_entra, path, expected):
    token = fake_entra.app_token()
    response = graph_get(fake_entra, path, token, **EVENTUAL)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    assert int(response.text) == expected


def test_count_segment_needs_consistency_level(fake_entra):
    response = graph_get(fake_entra, "/users/$count", fake_entra.app_token())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"
    assert response.json()["error"]["message"] == "$count is not currently supported."
    filtered = graph_get(fake_entra, "/users/$count?$filter=accountEnabled eq false", fake_entra.app_token(),
                         **EVENTUAL)
    assert filtered.text == "2"


def test_unknown_segments_stay_400(fake_entra):
    token = fake_entra.app_token()
    megan = demo.user_id("Megan Bowen")
    for path in ("/groups/delta/$count", f"/groups/{ENGINEERING}/owners", f"/users/{megan}/transitiveMemberOf",
                 f"/groups/{ENGINEERING}/transitiveMembers/graph.device"):
        response = graph_get(fake_entra, path, token, **EVENTUAL)
        assert response.status_code == 400, path
        assert response.json()["error"]["message"].startswith("Resource not found for the segment")
