"""Delta queries: full round, changes since the delta link, expiry."""

from fake_entra import demo

from .helpers import graph_get


def delta_round(server, url, token, **headers):
    """Follow next links until the delta link; return entries and the delta link."""
    entries = []
    while True:
        response = graph_get(server, url, token, **headers)
        assert response.status_code == 200, response.text
        page = response.json()
        entries.extend(page["value"])
        if "@odata.deltaLink" in page:
            assert "@odata.nextLink" not in page
            return entries, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def test_users_delta_reports_changes_and_removals(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    entries, link = delta_round(fake_entra, "/users/delta?$select=id,displayName,accountEnabled", token,
                                Prefer="odata.maxpagesize=20")
    assert len(entries) == len({e["id"] for e in entries}) >= 55
    control.disable_user(demo.TENANT_ID, demo.user_id("Adele Vance"))
    control.remove_user(demo.TENANT_ID, demo.user_id("Lee Gu"))
    changes, next_link = delta_round(fake_entra, link, token)
    by_id = {e["id"]: e for e in changes}
    assert by_id[demo.user_id("Adele Vance")]["accountEnabled"] is False
    assert by_id[demo.user_id("Lee Gu")] == {"id": demo.user_id("Lee Gu"), "@removed": {"reason": "changed"}}
    assert len(changes) == 2
    assert delta_round(fake_entra, next_link, token)[0] == []


def test_groups_delta_tracks_direct_membership_only(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    entries, link = delta_round(fake_entra, "/groups/delta?$select=displayName,members", token)
    engineering = [e for e in entries if e["id"] == demo.group_id("Engineering")]
    assert len(engineering[0]["members@delta"]) == 7
    control.remove_member(demo.TENANT_ID, demo.group_id("Engineering"), demo.user_id("Johanna Lorenz"))
    control.add_member(demo.TENANT_ID, demo.group_id("Platform Team"), demo.user_id("Adele Vance"))
    changes, _ = delta_round(fake_entra, link, token)
    by_id = {e["id"]: e for e in changes}
    assert by_id[demo.group_id("Engineering")]["members@delta"] == [{
        "@odata.type": "#microsoft.graph.user", "id": demo.user_id("Johanna Lorenz"),
        "@removed": {"reason": "deleted"}}]
    assert by_id[demo.group_id("Platform Team")]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": demo.user_id("Adele Vance")}]
    assert set(by_id) == {demo.group_id("Engineering"), demo.group_id("Platform Team")}


def test_large_group_is_split_over_several_entries(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=11, users=1200, groups=3)
    token = fake_entra.app_token(tenant["tenant_id"], tenant["app"]["client_id"], tenant["app"]["client_secret"])
    entries, _ = delta_round(fake_entra, "/groups/delta?$select=displayName,members", token)
    slices = [e for e in entries if e["id"] == tenant["big_group_id"]]
    assert len(slices) > 1
    assert sum(len(s["members@delta"]) for s in slices) == 1080 + 2


def test_expired_or_unknown_delta_token_is_sync_state_not_found(fake_entra):
    token = fake_entra.app_token()
    _, link = delta_round(fake_entra, "/users/delta", token)
    fake_entra.control.expire_delta_tokens(demo.TENANT_ID)
    for url in (link, "/users/delta?$deltatoken=bogus"):
        response = graph_get(fake_entra, url, token)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "syncStateNotFound"


def test_groups_delta_can_track_one_group(fake_entra):
    token = fake_entra.app_token()
    sales = demo.group_id("Sales")
    entries, link = delta_round(fake_entra, f"/groups/delta?$filter=id eq '{sales}'&$select=members", token)
    assert {e["id"] for e in entries} == {sales}
    fake_entra.control.add_member(demo.TENANT_ID, demo.group_id("Marketing"), demo.user_id("Lee Gu"))
    fake_entra.control.add_member(demo.TENANT_ID, sales, demo.user_id("Wen Li"))
    changes, _ = delta_round(fake_entra, link, token)
    assert changes == [{"id": sales, "members@delta": [{"@odata.type": "#microsoft.graph.user",
                                                        "id": demo.user_id("Wen Li")}]}]
