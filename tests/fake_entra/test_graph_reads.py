"""Graph reads against the demo tenant over real HTTP."""

from fake_entra import demo

from .helpers import follow, graph_get

USER_CAST = "/groups/{}/transitiveMembers/microsoft.graph.user"


def test_groups_are_paged_with_opaque_next_links(fake_entra):
    token = fake_entra.app_token()
    groups, pages = follow(fake_entra, "/groups?$select=id,displayName&$top=2", token)
    assert [g["displayName"] for g in groups] == list(demo.GROUP_NAMES)
    assert len(pages) == 5
    assert all(p["@odata.nextLink"].startswith(fake_entra.graph_url + "/groups?") for p in pages[:-1])
    assert "$skip=" not in pages[0]["@odata.nextLink"]
    assert pages[0]["@odata.context"].endswith("$metadata#groups(id,displayName)")
    assert set(groups[0]) == {"id", "displayName"}


def test_transitive_user_cast_flattens_nested_groups(fake_entra):
    token = fake_entra.app_token()
    users, pages = follow(fake_entra, USER_CAST.format(demo.group_id("Engineering"))
                          + "?$select=id,displayName,accountEnabled&$top=5&$count=true", token,
                          ConsistencyLevel="eventual")
    names = sorted(u["displayName"] for u in users)
    assert names == sorted(demo.DEPARTMENT_STAFF["Engineering"])
    assert pages[0]["@odata.context"].endswith("$metadata#users(id,displayName,accountEnabled)")
    assert pages[0]["@odata.count"] == 12
    assert len(pages) == 3


def test_transitive_group_cast_lists_nested_groups_at_any_depth(fake_entra):
    fake_entra.control.add_member(demo.TENANT_ID, demo.group_id("Platform Team"), demo.group_id("Empty Group"))
    path = "/groups/{}/transitiveMembers/microsoft.graph.group?$select=id,displayName&$count=true"
    groups, pages = follow(fake_entra, path.format(demo.group_id("Engineering")), fake_entra.app_token(),
                           ConsistencyLevel="eventual")
    assert [group["displayName"] for group in groups] == ["Platform Team", "Empty Group"]
    assert pages[0]["@odata.context"].endswith("$metadata#groups(id,displayName)")


def test_counts_track_requests_per_endpoint(fake_entra):
    token = fake_entra.app_token()
    follow(fake_entra, USER_CAST.format(demo.group_id("Training")) + "?$top=3&$count=true", token,
           ConsistencyLevel="eventual")
    counts = fake_entra.control.counts()
    assert counts["POST /token"] == 1
    assert counts["GET /groups/{id}/transitiveMembers/microsoft.graph.user"] == 8
    fake_entra.control.reset_counts()
    assert fake_entra.control.counts() == {}


def test_unknown_group_is_404_with_microsoft_message(fake_entra):
    response = graph_get(fake_entra, "/groups/00000000-0000-0000-0000-000000000001", fake_entra.app_token())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"].startswith("Resource '00000000-0000-0000-0000-000000000001' does not exist")
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
