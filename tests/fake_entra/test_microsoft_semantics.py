"""Where Graph is strict or surprising, fake_entra is too: Microsoft 365 groups, other directory objects,
delta filters and shapes, page tokens, and the lagging index of advanced queries."""

import time

import pytest

from fake_entra import demo

from .helpers import follow, graph_get
from .test_delta import delta_round

MENTORING, TRAINING = demo.group_id("Mentoring Circle"), demo.group_id("Training")
EVENTUAL = {"ConsistencyLevel": "eventual"}


def test_a_microsoft_365_group_refuses_casts_to_groups_as_graph_does(fake_entra):
    token = fake_entra.app_token()
    for cast in ("transitiveMembers", "members"):
        response = graph_get(fake_entra, f"/groups/{MENTORING}/{cast}/microsoft.graph.group?$select=id&$count=true",
                             token, **EVENTUAL)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "Request_UnsupportedQuery"
    users, _ = follow(fake_entra, f"/groups/{MENTORING}/transitiveMembers/microsoft.graph.user?$count=true", token,
                      **EVENTUAL)
    assert len(users) == 6
    group = graph_get(fake_entra, f"/groups/{MENTORING}?$select=groupTypes,securityEnabled", token).json()
    assert (group["groupTypes"], group["securityEnabled"]) == (["Unified"], False)
    nested, _ = follow(fake_entra, f"/groups/{TRAINING}/transitiveMembers/microsoft.graph.group?$count=true", token,
                       **EVENTUAL)
    assert [entry["displayName"] for entry in nested] == ["New Starters"]


def test_microsoft_365_groups_hold_users_only_and_sit_in_no_group(fake_entra):
    control = fake_entra.control
    device = demo.object_id(demo.TENANT_ID, "device", "Lab Kiosk 01")
    for group, member in ((MENTORING, demo.group_id("New Starters")), (MENTORING, device), (TRAINING, MENTORING)):
        with pytest.raises(RuntimeError, match="400"):
            control.add_member(demo.TENANT_ID, group, member)
    with pytest.raises(RuntimeError, match="400"):
        control.update_group(demo.TENANT_ID, TRAINING, groupTypes=["Unified"])
    control.add_member(demo.TENANT_ID, MENTORING, demo.user_id("Jane Doe"))
    control.update_group(demo.TENANT_ID, demo.group_id("Empty Group"), groupTypes=["Unified"])


def test_contacts_devices_and_service_principals_are_members_with_their_type(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    sales = demo.group_id("Sales")
    printer = control.add_object(demo.TENANT_ID, "#microsoft.graph.device", "Print Room 2")
    control.add_member(demo.TENANT_ID, sales, printer["id"])
    with pytest.raises(RuntimeError, match="400"):
        control.add_object(demo.TENANT_ID, "#microsoft.graph.application", "Not a member type")
    entries, _ = follow(fake_entra, f"/groups/{sales}/members", token)
    kinds = {entry["displayName"]: entry["@odata.type"] for entry in entries}
    assert kinds["Print Room 2"] == "#microsoft.graph.device"
    assert kinds["Northwind Buyer"] == "#microsoft.graph.orgContact"
    entries, _ = follow(fake_entra, f"/groups/{demo.group_id('Platform Team')}/members", token)
    assert {"Build Agent": "#microsoft.graph.servicePrincipal"}.items() <= {
        entry["displayName"]: entry["@odata.type"] for entry in entries}.items()
    users, _ = follow(fake_entra, f"/groups/{sales}/members/microsoft.graph.user?$count=true", token, **EVENTUAL)
    assert all(user["id"] in {demo.user_id(name) for name in demo.DEPARTMENT_STAFF["Sales"] + ("Diego Siciliani",)}
               for user in users) and len(users) == 9


def test_users_delta_honours_an_id_filter_of_at_most_50_ids(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    adele, lee = demo.user_id("Adele Vance"), demo.user_id("Lee Gu")
    query = f"/users/delta?$select=id,displayName&$filter=id eq '{adele}' or id eq '{lee}'"
    entries, link = delta_round(fake_entra, query, token)
    assert sorted(entry["displayName"] for entry in entries) == ["Adele Vance", "Lee Gu"]
    control.update_user(demo.TENANT_ID, adele, displayName="Adele Vance-Ito")
    control.update_user(demo.TENANT_ID, demo.user_id("Grady Archie"), displayName="Grady A.")
    changes, _ = delta_round(fake_entra, link, token)
    assert changes == [{"id": adele, "displayName": "Adele Vance-Ito"}]
    many = " or ".join(f"id eq '{demo.object_id(demo.TENANT_ID, 'user', str(n))}'" for n in range(51))
    for resource in ("users", "groups"):
        response = graph_get(fake_entra, f"/{resource}/delta?$filter={many}", token)
        assert response.status_code == 400, resource
        assert response.json()["error"]["code"] == "Request_UnsupportedQuery"
    fifty = many.rsplit(" or ", 1)[0]
    assert graph_get(fake_entra, f"/users/delta?$filter={fifty}", token).status_code == 200


def test_a_page_token_pages_only_the_listing_that_issued_it(fake_entra):
    token = fake_entra.app_token()
    first = graph_get(fake_entra, "/users?$top=2", token).json()
    skiptoken = first["@odata.nextLink"].split("$skiptoken=")[1]
    assert graph_get(fake_entra, first["@odata.nextLink"], token).status_code == 200
    response = graph_get(fake_entra, f"/groups?$top=2&$skiptoken={skiptoken}", token)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_later_user_delta_rounds_leave_out_properties_never_set(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    lynne = demo.user_id("Lynne Robbins")  # no mail and no job title: never set
    _, link = delta_round(fake_entra, "/users/delta?$select=id,displayName,mail,jobTitle,department&$deltatoken=latest",
                          token)
    control.update_user(demo.TENANT_ID, lynne, displayName="Lynne Robbins-Kay")
    control.update_user(demo.TENANT_ID, demo.user_id("Adele Vance"), jobTitle=None)
    changes, _ = delta_round(fake_entra, link, token)
    by_id = {entry["id"]: entry for entry in changes}
    assert by_id[lynne] == {"id": lynne, "displayName": "Lynne Robbins-Kay", "department": "Support"}
    assert by_id[demo.user_id("Adele Vance")]["jobTitle"] is None  # set to null: shown as null

    minimal, _ = delta_round(fake_entra, link, token, Prefer="return=minimal")
    by_id = {entry["id"]: entry for entry in minimal}
    assert by_id[lynne] == {"id": lynne, "displayName": "Lynne Robbins-Kay"}
    assert by_id[demo.user_id("Adele Vance")] == {"id": demo.user_id("Adele Vance"), "jobTitle": None}


def test_advanced_queries_see_membership_as_it_was_while_delta_is_current(fake_entra):
    control, token = fake_entra.control, fake_entra.app_token()
    control.set_index_lag(2)
    _, link = delta_round(fake_entra, f"/groups/delta?$select=members&$filter=id eq '{TRAINING}'"
                          "&$deltatoken=latest", token)
    control.add_member(demo.TENANT_ID, TRAINING, demo.user_id("Hannah Schmidt"))
    control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id("Rita Moreno"))

    def indexed():
        users, pages = follow(fake_entra, f"/groups/{TRAINING}/transitiveMembers/microsoft.graph.user"
                              "?$select=displayName&$count=true", token, **EVENTUAL)
        assert pages[0]["@odata.count"] == len(users)
        return {user["displayName"] for user in users}

    assert "Rita Moreno" in indexed() and "Hannah Schmidt" not in indexed()
    direct, _ = follow(fake_entra, f"/groups/{TRAINING}/members?$select=displayName", token)
    assert "Hannah Schmidt" in {entry["displayName"] for entry in direct}
    changes, _ = delta_round(fake_entra, link, token)
    assert len(changes[0]["members@delta"]) == 2
    time.sleep(2.1)
    assert "Rita Moreno" not in indexed() and "Hannah Schmidt" in indexed()
    fake_entra.control.reset()
    control.add_member(demo.TENANT_ID, TRAINING, demo.user_id("Hannah Schmidt"))
    assert "Hannah Schmidt" in indexed()
