"""GET /users/{id}/memberOf: the groups holding a user directly, read from the directory (not the lagging index);
its group cast is an advanced query; without a group permission each group is its id and type only."""
from fake_entra import demo

from .helpers import graph_get


def test_member_of_lists_the_direct_groups_only(fake_entra):
    token = fake_entra.app_token()
    body = graph_get(fake_entra, f"/users/{demo.user_id('Lena Vogel')}/memberOf?$select=id,displayName", token).json()
    assert body["@odata.context"].endswith("$metadata#directoryObjects(id,displayName)")
    assert body["value"] == [{"@odata.type": "#microsoft.graph.group", "id": demo.group_id("New Starters"),
                              "displayName": "New Starters"}]  # not Training, which holds New Starters
    upn = graph_get(fake_entra, f"/users/{demo.MEMBER_EMAIL}/memberOf?$select=displayName", token).json()
    assert sorted(g["displayName"] for g in upn["value"]) == ["All Staff", "Sales", "Sales Leadership"]


def test_member_of_reads_the_directory_while_its_cast_reads_the_index(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.set_index_lag(60)
    fake_entra.control.add_member(demo.TENANT_ID, demo.group_id("Marketing"), demo.user_id("Lena Vogel"))
    path = f"/users/{demo.user_id('Lena Vogel')}/memberOf"
    assert len(graph_get(fake_entra, path, token).json()["value"]) == 2
    refused = graph_get(fake_entra, f"{path}/microsoft.graph.group", token)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    lagging = graph_get(fake_entra, f"{path}/microsoft.graph.group?$count=true", token, ConsistencyLevel="eventual")
    assert [g["displayName"] for g in lagging.json()["value"]] == ["New Starters"]
    fake_entra.control.set_index_lag(0)


def test_member_of_without_a_group_permission_gives_ids_and_unknown_users_404(fake_entra):
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    fake_entra.control.grant_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, application=("User.Read.All",))
    token = fake_entra.app_token()
    entry = graph_get(fake_entra, f"/users/{demo.user_id('Lena Vogel')}/memberOf", token).json()["value"][0]
    assert entry["id"] == demo.group_id("New Starters") and entry["displayName"] is None
    missing = graph_get(fake_entra, "/users/00000000-0000-4000-8000-000000000000/memberOf", token)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
