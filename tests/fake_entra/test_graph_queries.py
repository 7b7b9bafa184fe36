"""$search, $filter, $select rules, users, permissions and tenant isolation."""

import time

import pytest

from fake_entra import demo
from fake_entra.odata import SEARCH_NEEDS_HEADER

from .helpers import follow, graph_get


def test_search_needs_consistency_level(fake_entra):
    token = fake_entra.app_token()
    refused = graph_get(fake_entra, '/groups?$search="displayName:team"', token)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert refused.json()["error"]["message"] == SEARCH_NEEDS_HEADER
    found = graph_get(fake_entra, '/groups?$search="displayName:team"&$count=true', token,
                      ConsistencyLevel="eventual").json()
    assert [g["displayName"] for g in found["value"]] == ["Platform Team"]
    assert found["@odata.count"] == 1
    unquoted = graph_get(fake_entra, "/groups?$search=displayName:team", token, ConsistencyLevel="eventual")
    assert unquoted.status_code == 400


def test_startswith_filter_and_orderby(fake_entra):
    token = fake_entra.app_token()
    found = graph_get(fake_entra, "/groups?$filter=startswith(displayName,'sal')", token).json()["value"]
    assert sorted(g["displayName"] for g in found) == ["Sales", "Sales Leadership"]
    ordered = graph_get(fake_entra, "/groups?$orderby=displayName desc&$select=displayName", token).json()["value"]
    assert [g["displayName"] for g in ordered] == sorted(demo.GROUP_NAMES, reverse=True)
    both = graph_get(fake_entra, "/groups?$filter=startswith(displayName,'s')&$orderby=displayName", token)
    assert both.status_code == 400


@pytest.mark.parametrize("query", ["$top=1000", "$top=0", "$skip=10", "$select=nope",
                                   "$filter=displayName gt 'a'"])
def test_bad_queries_are_400(fake_entra, query):
    response = graph_get(fake_entra, f"/groups?{query}", fake_entra.app_token())
    assert response.status_code == 400
    assert response.json()["error"]["code"].startswith("Request_")


def test_users_default_properties_and_special_accounts(fake_entra):
    token = fake_entra.app_token()
    users, _ = follow(fake_entra, "/users", token)
    assert "accountEnabled" not in users[0] and "userPrincipalName" in users[0]
    selected, _ = follow(fake_entra, "/users?$select=id,mail,userPrincipalName,accountEnabled,userType&$top=999", token)
    by_mail = {u["mail"]: u for u in selected}
    guest = by_mail[demo.GUEST_EMAIL]
    assert guest["userType"] == "Guest" and "#EXT#@" in guest["userPrincipalName"]
    disabled = next(u for u in selected if u["userPrincipalName"] == demo.DISABLED_EMAIL)
    assert disabled["accountEnabled"] is False
    no_mail = next(u for u in selected if u["userPrincipalName"] == demo.NO_MAIL_UPN)
    assert no_mail["mail"] is None
    assert len(selected) >= 55


def test_transitive_members_list_nested_groups_and_other_objects(fake_entra):
    token = fake_entra.app_token()
    entries, _ = follow(fake_entra, f"/groups/{demo.group_id('Engineering')}/transitiveMembers", token)
    types = {e["@odata.type"] for e in entries}
    assert types == {"#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.device",
                     "#microsoft.graph.servicePrincipal"}
    assert any(e.get("displayName") == "Platform Team" for e in entries)
    direct, _ = follow(fake_entra, f"/groups/{demo.group_id('Engineering')}/members", token)
    assert len([e for e in direct if e["@odata.type"] == "#microsoft.graph.user"]) == 6


def test_without_user_read_all_members_are_ids_only(fake_entra):
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    fake_entra.control.grant_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                     application=("GroupMember.Read.All",))
    token = fake_entra.app_token()
    entries, _ = follow(fake_entra, f"/groups/{demo.group_id('Sales')}/members?$select=id,displayName,mail", token)
    user = next(e for e in entries if e["@odata.type"] == "#microsoft.graph.user")
    assert user["id"] and user["displayName"] is None and user["mail"] is None
    assert graph_get(fake_entra, "/users", token).status_code == 403


def test_tokens_of_one_tenant_see_nothing_of_another(fake_entra):
    other = fake_entra.control.create_tenant(seed=5, users=30, groups=4)
    token = fake_entra.app_token(other["tenant_id"], other["app"]["client_id"], other["app"]["client_secret"])
    assert graph_get(fake_entra, f"/groups/{demo.group_id('Training')}", token).status_code == 404
    names = {g["displayName"] for g in graph_get(fake_entra, "/groups?$top=999", token).json()["value"]}
    assert "Training" not in names and "All Staff" in names
    demo_users = graph_get(fake_entra, f"/users/{demo.user_id('Megan Bowen')}", token)
    assert demo_users.status_code == 404


def test_missing_bad_and_expired_tokens_are_401(fake_entra):
    for token in ("", "not-a-jwt"):
        response = graph_get(fake_entra, "/groups", token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    fake_entra.control.set_token_lifetime(access=1)
    token = fake_entra.app_token()
    assert graph_get(fake_entra, "/groups", token).status_code == 200
    time.sleep(1.1)
    expired = graph_get(fake_entra, "/groups", token)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "Access token has expired or is not yet valid."


def test_directory_changes_show_up(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    sales = demo.group_id("Sales")
    new = control.add_user(demo.TENANT_ID, "Nina New", f"nina.new@{demo.TENANT_DOMAIN}", department="Sales")
    control.add_member(demo.TENANT_ID, sales, new["id"])
    control.remove_member(demo.TENANT_ID, sales, demo.user_id("Alex Wilber"))
    control.update_user(demo.TENANT_ID, new["id"], displayName="Nina Renamed", mail="nina@contoso.example")
    users, _ = follow(fake_entra, f"/groups/{sales}/transitiveMembers/microsoft.graph.user"
                      "?$select=id,displayName,mail&$count=true", token, ConsistencyLevel="eventual")
    names = {u["displayName"]: u for u in users}
    assert names["Nina Renamed"]["mail"] == "nina@contoso.example"
    assert "Alex Wilber" in names
    direct, _ = follow(fake_entra, f"/groups/{sales}/members", token)
    assert demo.user_id("Alex Wilber") not in {e["id"] for e in direct}
    fake_entra.control.reset()
    users, _ = follow(fake_entra, f"/groups/{sales}/members", token)
    assert new["id"] not in {u["id"] for u in users}


def test_search_and_filter_inside_a_groups_users(fake_entra):
    token = fake_entra.app_token()
    cast = f"/groups/{demo.group_id('Training')}/transitiveMembers/microsoft.graph.user"
    found = graph_get(fake_entra, cast + '?$search="displayName:zo"&$count=true&$select=displayName', token,
                      ConsistencyLevel="eventual").json()
    assert found["value"] == [{"displayName": "Zoe Clarke"}] and found["@odata.count"] == 1
    enabled = graph_get(fake_entra, cast + "?$filter=accountEnabled eq false&$select=displayName&$count=true", token,
                        ConsistencyLevel="eventual").json()
    assert sorted(u["displayName"] for u in enabled["value"]) == ["Diego Siciliani", "Irvin Sayers"]


def test_me_and_organization_follow_their_permissions(fake_entra):
    app_token = fake_entra.app_token()
    assert graph_get(fake_entra, "/me", app_token).status_code == 400
    assert graph_get(fake_entra, "/organization", app_token).status_code == 403
    fake_entra.control.grant_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                     application=("Organization.Read.All",))
    organization = graph_get(fake_entra, "/organization", fake_entra.app_token()).json()["value"][0]
    assert organization["displayName"] == demo.TENANT_NAME and organization["id"] == demo.TENANT_ID
