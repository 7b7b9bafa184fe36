"""Bad input gets a 400 or 404 that says what is wrong, never a 500 and never a silently different page."""
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from fake_entra import demo
from tests.sync_page.conftest import page_url, start_connect
from webapp.models import EntraConnection, SyncRun, SyncSettings, User

HTMX = {"HX-Request": "true"}
CONTROL = "Text with control characters (such as NUL or a line break) cannot be used here."
NOT_A_PAGE = "The page number must be a whole number from 1 up"
NOT_HERE = "There is nothing here, or it is not yours to see."
HUGE = "9" * 30
BIGINT_PLUS_ONE = str(2**63)


def text(response):
    return unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("path", ["members/?q=a%00b", "runs/{run}?q=%00", "entra-sync/groups?group_q=%00",
                                  "entra-sync/users?users_open=1&user_q=x%00"])
def test_a_nul_byte_in_a_search_box_is_refused_with_a_message(signed_in, team, run, connected, path):
    response = signed_in.get(f"/teams/{team.id}/" + path.format(run=run.id))
    assert response.status_code == 400
    assert "This request cannot be used" in text(response) and CONTROL in text(response)


def test_a_nul_byte_at_sign_in_is_refused_and_signs_nobody_in(client, leader):
    response = client.post("/login", data={"email": leader.email + "\x00", "password": "x"})
    assert response.status_code == 400 and CONTROL in text(response)
    assert client.get("/teams/").status_code == 302


def test_an_htmx_request_gets_the_message_in_the_page_problem_slot(signed_in, team):
    response = signed_in.get(f"/teams/{team.id}/members/?q=%00", headers={**HTMX, "HX-Target": "member-list"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#request-problem"
    assert re.fullmatch(r'<p id="request-problem" class="error" role="alert">[^<]+</p>\s*', text(response))
    assert CONTROL in text(response)
    page = signed_in.get(f"/teams/{team.id}/members/").get_data(as_text=True)
    assert '<p id="request-problem" hidden></p>' in page and '{"code": "400", "swap": true}' in page


@pytest.mark.parametrize("path", [
    "/teams/{huge}/members/", "/teams/{big}/members/", "/teams/-1/members/", "/teams/0/entra-sync/",
    "/teams/{team}/members/{huge}", "/teams/{team}/members/{big}/edit", "/teams/{team}/members/-5",
    "/teams/{team}/runs/{huge}", "/teams/{team}/runs/{big}/outcomes.csv", "/teams/{huge}/runs/panel",
])
def test_huge_zero_or_negative_ids_are_not_found(signed_in, team, path):
    response = signed_in.get(path.format(huge=HUGE, big=BIGINT_PLUS_ONE, team=team.id))
    assert response.status_code == 404 and NOT_HERE in text(response)


@pytest.mark.parametrize("action", ["", "/remove", "/restore"])
def test_posts_to_huge_ids_are_not_found_and_change_nobody(signed_in, team, action):
    before = list(User.select().order_by(User.id).dicts())
    response = signed_in.post(f"/teams/{team.id}/members/{HUGE}{action}", data={"name": "X", "email": "x@y.zz"})
    assert response.status_code == 404 and NOT_HERE in text(response)
    assert list(User.select().order_by(User.id).dicts()) == before


def test_the_largest_bigint_id_is_a_plain_not_found(signed_in, team):
    response = signed_in.get(f"/teams/{team.id}/members/{2**63 - 1}")
    assert response.status_code == 404 and NOT_HERE in text(response)


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "２", "1" * 101, "0x10", " "])
@pytest.mark.parametrize("path", ["members/", "members/removed", "runs/", "runs/{run}"])
def test_a_page_number_that_is_not_one_is_refused(signed_in, team, run, path, page):
    response = signed_in.get(f"/teams/{team.id}/{path.format(run=run.id)}", query_string={"page": page})
    if page == " ":
        assert response.status_code == 200, "a blank page number is the first page"
        return
    assert response.status_code == 400 and NOT_A_PAGE in text(response)


@pytest.mark.parametrize("path, pages", [("members/", 3), ("members/removed", 1), ("runs/", 1), ("runs/{run}", 1)])
def test_a_page_beyond_the_last_is_not_found_and_says_how_many_there_are(signed_in, team, run, path, pages):
    url = f"/teams/{team.id}/{path.format(run=run.id)}"
    assert signed_in.get(url, query_string={"page": pages}).status_code == 200
    for page in (pages + 1, 2**63, int(HUGE)):
        response = signed_in.get(url, query_string={"page": page})
        assert response.status_code == 404
        assert f"There is no page {page}: this list has {pages} page{'s' if pages > 1 else ''}." in text(response)


def test_a_huge_page_of_removed_members_is_not_found(signed_in, team):
    member = User.get(User.email == f"member0.team{team.id}@example.com")
    signed_in.post(f"/teams/{team.id}/members/{member.id}/remove")
    response = signed_in.get(f"/teams/{team.id}/members/removed?page=9223372036854775807")
    assert response.status_code == 404 and "There is no page 9223372036854775807: this list has 1 page." in text(
        response)
    assert "Member 00000" in text(signed_in.get(f"/teams/{team.id}/members/removed?page=1"))


def test_a_sync_users_page_beyond_the_last_is_not_found(signed_in, team, connected):
    query = {"group_id": demo.group_id("Training"), "users_open": "1"}
    assert signed_in.get(page_url(team, "users"), query_string={**query, "users_page": "1"}).status_code == 200
    response = signed_in.get(page_url(team, "users"), query_string={**query, "users_page": "0"})
    assert response.status_code == 400 and NOT_A_PAGE in text(response)
    response = signed_in.get(page_url(team, "users"), query_string={**query, "users_page": "999"})
    assert response.status_code == 404 and "There is no page 999: this list has" in text(response)


def test_an_oauth_callback_without_a_code_says_so_and_saves_nothing(signed_in, team, entra):
    state = parse_qs(urlsplit(start_connect(signed_in, team)).query)["state"][0]
    response = signed_in.get("/entra/oauth/callback", query_string={"state": state})
    assert response.status_code == 400
    assert "Microsoft's answer carried no authorization code, so nothing was saved." in text(response)
    assert EntraConnection.select().count() == 0


@pytest.mark.parametrize("target", ["/teams/%0d%0aSet-Cookie:%20x=1", "/teams/%0aLocation:%20//evil.example"])
def test_a_line_break_in_next_is_refused_and_never_reaches_a_header(client, leader, target):
    response = client.post(f"/login?next={target}", data={"email": leader.email,
                                                          "password": "correct horse battery staple"})
    assert response.status_code == 400 and CONTROL in text(response)
    assert "Set-Cookie" not in str(response.headers.get("Location")) and "x=1" not in str(response.headers)


def test_safe_next_drops_control_characters():
    from webapp.auth import safe_next

    assert safe_next("/teams/\r\nSet-Cookie: x=1") is None and safe_next("/teams/\x00") is None
    assert safe_next("/teams/1/members/?q=a%20b") == "/teams/1/members/?q=a%20b"


def test_a_256_character_group_name_from_microsoft_is_saved_whole(signed_in, team, connected):
    name = ("Training " + "x" * 256)[:256]
    group = connected.control.add_group(demo.TENANT_ID, name, members=(demo.user_id("Megan Bowen"),))
    response = signed_in.post(page_url(team), headers=HTMX, data={"group_id": group["id"], "group_name": name})
    assert response.status_code == 200 and "Saved." in text(response)
    assert SyncSettings.get(SyncSettings.team == team).group_name == name
    assert f"<strong>{name}</strong>" in text(signed_in.get(page_url(team)))


def test_a_group_name_longer_than_microsoft_allows_is_refused(signed_in, team, connected):
    response = signed_in.get(page_url(team, "group"), query_string={"choose": demo.group_id("Training"),
                                                                    "choose_name": "x" * 257})
    assert response.status_code == 400 and "A group name has at most 256 characters" in text(response)


@pytest.mark.parametrize("field, value, message", [
    ("group_id", "../users", "This is not a Sync Group of Microsoft Entra"),
    ("group_id", "x" * 300, "This is not a Sync Group of Microsoft Entra"),
    ("user_ids", "not-a-user", "A selected user is not a user of Microsoft Entra"),
])
def test_sync_settings_that_are_not_entra_ids_are_refused_and_not_saved(signed_in, team, connected, field, value,
                                                                        message):
    data = {"group_id": demo.group_id("Training"), field: value}
    for url in (page_url(team), page_url(team, "sync")):
        response = signed_in.post(url, headers=HTMX, data=data)
        assert response.status_code == 400 and message in text(response)
    assert SyncSettings.select().count() == 0 and SyncRun.select().count() == 0


def test_a_search_longer_than_the_limit_is_refused(signed_in, team):
    response = signed_in.get(f"/teams/{team.id}/members/", query_string={"q": "a" * 121})
    assert response.status_code == 400 and "A search can be at most 120 characters" in text(response)
    assert "Member 00001" in text(signed_in.get(f"/teams/{team.id}/members/", query_string={"q": "a" * 0 + "00001"}))


def test_an_unknown_outcome_filter_is_refused(signed_in, team, run):
    response = signed_in.get(f"/teams/{team.id}/runs/{run.id}", query_string={"action": "everything"})
    assert response.status_code == 400 and "There is no such outcome to show" in text(response)
