"""Sync Group type-ahead and the Sync Users list: statuses, search, paging, one Graph fetch, Allow Deletion."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from fake_entra import demo
from tests.sync_page.conftest import page_url
from webapp import connections
from webapp.models import Team, User
from webapp.sync.group_users import GroupUsers

TRAINING = demo.group_id("Training")
MEMBERS_URL = "GET /groups/{id}/transitiveMembers/microsoft.graph.user"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def connected(entra, app, team):
    """The team connected to the demo tenant with the demo Enterprise App; 10 Sync Users per page."""
    app.config["SYNC_USERS_PER_PAGE"] = 10
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"],
                                    tenant_name=demo.TENANT_DOMAIN)
    return entra


@pytest.fixture
def platform_users(team):
    """Quentin is in this team (by email), Samuel too (by object id), Rita in another team."""
    other = Team.create(name="Other team")
    User.create(email=f"quentin.blake@{demo.TENANT_DOMAIN}", name="Quentin B.", team=team)
    User.create(email="sam@old-address.example", name="Sam O.", team=team, entra_tenant_id=demo.TENANT_ID,
                entra_object_id=demo.user_id("Samuel Okoro"))
    User.create(email=f"rita.moreno@{demo.TENANT_DOMAIN}", name="Rita M.", team=other)


def users_list(client, team, **params):
    query = {"group_id": TRAINING, "group_name": "Training", "users_open": "1", **params}
    response = client.get(page_url(team, "users"), query_string=query, headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def statuses(html):
    """{name: status} of the rows shown."""
    return dict(re.findall(r"<td>([^<]+)</td>\s*<td>[^<]*</td>\s*<td class=\"status\">([^<]+)</td>", html))


def test_group_search_is_done_by_graph(connected, signed_in, team):
    html = signed_in.get(page_url(team, "groups"), query_string={"group_q": "sal"}, headers=HTMX).get_data(
        as_text=True)
    assert '<span class="name">Sales</span>' in html and '<span class="name">Sales Leadership</span>' in html
    assert "Training" not in html
    assert connected.control.counts()["GET /groups"] == 1
    nothing = signed_in.get(page_url(team, "groups"), query_string={"group_q": "zzz"}).get_data(as_text=True)
    assert "No group name has a word starting with “zzz”." in nothing


def test_choosing_a_group_shows_sync_users_with_all_users(connected, signed_in, team):
    html = signed_in.get(page_url(team, "group"), query_string={"choose": TRAINING, "choose_name": "Training"},
                         headers=HTMX).get_data(as_text=True)
    assert f'name="group_id" value="{TRAINING}"' in html and "<strong>Training</strong>" in html
    assert "Sync Users" in html and "<strong>All Users</strong>" in html
    assert connected.control.counts() == {}


def test_statuses_of_the_group_users(connected, signed_in, team, platform_users):
    connected.control.add_user(demo.TENANT_ID, "Guest Without Mail", f"guest_x.example#EXT#@{demo.TENANT_DOMAIN}",
                               id="0b0b0b0b-0000-4000-8000-000000000001", mail=None, userType="Guest")
    connected.control.add_member(demo.TENANT_ID, TRAINING, "0b0b0b0b-0000-4000-8000-000000000001")
    shown = {}
    for page in (1, 2, 3):
        shown.update(statuses(users_list(signed_in, team, users_page=page)))
    assert len(shown) == 23
    assert shown["Quentin Blake"] == "already in this team"
    assert shown["Samuel Okoro"] == "already in this team"
    assert shown["Rita Moreno"] == "in another team"
    assert shown["Diego Siciliani"] == shown["Irvin Sayers"] == "disabled in Entra"
    assert shown["Guest Without Mail"] == "no email address in Entra"
    assert shown["Jane Doe"] == shown["Lynne Robbins"] == shown["Megan Bowen"] == "will be added"


def test_only_addable_users_can_be_selected(connected, signed_in, team, platform_users):
    html = users_list(signed_in, team, user_q="e")
    assert 'aria-label="Select Megan Bowen"' in html and 'aria-label="Select Jane Doe"' in html
    assert 'aria-label="Select Irvin Sayers"' not in html and 'aria-label="Select Diego Siciliani"' not in html
    html = users_list(signed_in, team, user_q="r", users_page=2)
    assert 'aria-label="Select Rita Moreno"' not in html and 'aria-label="Select Quentin Blake"' not in html
    rita = html.split("<td>Rita Moreno</td>")[0].rsplit("<tr", 1)[1]
    assert 'class="red-x"' in rita


def test_paging_and_search_reuse_the_first_fetch(connected, signed_in, team, platform_users):
    first = users_list(signed_in, team)
    assert list(statuses(first))[:3] == ["Christie Cline", "Diego Siciliani", "Irvin Sayers"]
    assert "Page 1 of 3" in first and "22 in the group" in first
    third = users_list(signed_in, team, users_page=3)
    assert list(statuses(third)) == ["Yusuf Demir", "Zoe Clarke"]
    found = users_list(signed_in, team, user_q="OKORO")
    assert list(statuses(found)) == ["Samuel Okoro"] and "1 in the group matching “OKORO”" in found
    by_email = users_list(signed_in, team, user_q="partner.example")
    assert set(statuses(by_email)) == {"Jane Doe", "Kofi Mensah"}
    assert connected.control.counts()[MEMBERS_URL] == 1
    connected.control.update_user(demo.TENANT_ID, demo.user_id("Samuel Okoro"), displayName="Samuel Okoro-Banks")
    users_list(signed_in, team, reload="1")
    assert connected.control.counts()[MEMBERS_URL] == 2
    assert list(statuses(users_list(signed_in, team, user_q="banks"))) == ["Samuel Okoro-Banks"]


def test_the_selection_survives_paging_and_search(connected, signed_in, team):
    picked = [demo.user_id("Megan Bowen"), demo.user_id("Zoe Clarke")]
    html = users_list(signed_in, team, user_ids=picked)
    assert "2 users selected" in html
    assert f'value="{picked[0]}" aria-label="Select Megan Bowen"\n                 checked' in html
    assert f'<input type="hidden" name="user_ids" value="{picked[1]}">' in html
    cleared = users_list(signed_in, team, user_ids=picked, clear="1")
    assert "<strong>All Users</strong>" in cleared and picked[1] not in cleared


def test_allow_deletion_lists_the_members_who_would_be_removed(connected, signed_in, team, platform_users, leader,
                                                              app):
    User.create(email=f"diego.siciliani@{demo.TENANT_DOMAIN}", name="Diego S.", team=team)
    without = users_list(signed_in, team)
    assert "will be removed" not in without
    shown = {}
    for page in range(1, 6):
        shown.update(statuses(users_list(signed_in, team, allow_deletion="1", users_page=page)))
    assert shown["Member 00007"] == "not in the group: will be removed"
    assert shown["Diego Siciliani"] == "disabled in Entra: will be removed"
    assert "Quentin B." not in shown and "Sam O." not in shown and leader.name not in shown
    assert sum(1 for status in shown.values() if status == "not in the group: will be removed") == 25
    assert "deletion guard" not in users_list(signed_in, team, allow_deletion="1")
    app.config["DELETION_GUARD_MINIMUM"] = 10
    assert "25 members would be removed: more than the deletion guard allows (10)" in users_list(
        signed_in, team, allow_deletion="1")


def test_an_empty_group_says_so(connected, signed_in, team):
    html = users_list(signed_in, team, group_id=demo.group_id("Empty Group"))
    assert "This group has no users." in html


def test_a_missing_permission_is_shown_in_the_list(connected, signed_in, team):
    connected.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, "application")
    html = users_list(signed_in, team)
    assert "an administrator must grant the app the GroupMember.Read.All and User.Read.All permission" in html
    assert "administrator must grant" in signed_in.get(page_url(team)).get_data(as_text=True)


def test_changing_the_group_then_keeping_it_keeps_the_selection(connected, signed_in, team):
    picked = demo.user_id("Megan Bowen")
    query = {"group_id": TRAINING, "group_name": "Training", "user_ids": picked}
    changing = signed_in.get(page_url(team, "group"), query_string={**query, "change": "1"}).get_data(as_text=True)
    assert 'id="group-search"' in changing and f'name="user_ids" value="{picked}"' in changing
    kept = signed_in.get(page_url(team, "group"), query_string=query).get_data(as_text=True)
    assert "1 user selected" in kept
    other = signed_in.get(page_url(team, "group"), query_string={
        **query, "choose": demo.group_id("Sales"), "choose_name": "Sales"}).get_data(as_text=True)
    assert "<strong>Sales</strong>" in other and "<strong>All Users</strong>" in other and picked not in other


def test_the_red_state_goes_once_microsoft_answers_again(connected, signed_in, team):
    connected.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, "application")
    users_list(signed_in, team)
    assert "needs attention" in signed_in.get(page_url(team)).get_data(as_text=True)
    connected.control.grant_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    application=demo.ENTERPRISE_APP_PERMISSIONS)
    assert "Training" in signed_in.get(page_url(team, "groups"), query_string={"group_q": "train"}).get_data(
        as_text=True)
    assert "needs attention" not in signed_in.get(page_url(team)).get_data(as_text=True)


def test_two_first_loads_at_once_fetch_the_group_once(connected, app, team):
    connected.control.inject(delay=0.5, path="transitiveMembers", count=None)
    connection = connections.connection_of(team.id)

    def first_load():
        client = connections.graph_client_from_config(connection, app.extensions["secret_box"], app.config)
        return GroupUsers(app.extensions["redis"], team.id, TRAINING).ensure(lambda: client, TRAINING)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: first_load(), range(2)))
    assert sorted(fetched for _, fetched in results) == [False, True]
    assert all(info["count"] == 22 for info, _ in results)
    assert connected.control.counts()[MEMBERS_URL] == 1


def test_the_removal_preview_follows_members_page_changes(connected, signed_in, team):
    def would_go():
        shown = {}
        for page in range(1, 4):
            shown.update(statuses(users_list(signed_in, team, allow_deletion="1", users_page=page, user_q="member")))
        return {name for name, status in shown.items() if status == "not in the group: will be removed"}

    assert "Member 00007" in would_go()
    member = User.get(User.name == "Member 00007")
    User.update(synced_by_team=team).where(User.id == member.id).execute()  # its sign-in email is the team's to edit
    signed_in.post(f"/teams/{team.id}/members/{member.id}/remove")
    assert "Member 00007" not in would_go()
    signed_in.post(f"/teams/{team.id}/members/{member.id}/restore")
    assert "Member 00007" in would_go()
    signed_in.post(f"/teams/{team.id}/members/{member.id}", data={
        "name": "Member 00007", "email": f"wanda.nowak@{demo.TENANT_DOMAIN}"})
    assert "Member 00007" not in would_go()
