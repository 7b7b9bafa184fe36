import pytest

from tests.conftest import PASSWORD
from webapp.models import User


def test_sign_in_takes_the_leader_to_their_team(client, auth, leader, team):
    response = auth.login(leader.email)
    assert response.status_code == 302
    members_page = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert team.name in members_page
    assert "Members" in members_page and "Azure Entra Sync" in members_page


def test_email_is_matched_case_insensitively(client, auth, leader):
    assert auth.login(leader.email.upper()).status_code == 302


def test_wrong_password_says_so(client, auth, leader):
    response = auth.login(leader.email, password="not it")
    assert response.status_code == 401
    assert "The email or password is not right." in response.get_data(as_text=True)
    assert client.get("/", follow_redirects=False).headers["Location"].startswith("/login")


def test_pages_need_sign_in(client, team):
    response = client.get(f"/teams/{team.id}/members/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize("target", ["/teams/", "/teams/1/members/?q=a"])
def test_next_is_followed_when_it_is_a_local_path(auth, leader, target):
    assert auth.login(leader.email, next_url=target).headers["Location"] == target


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(auth, leader, target):
    location = auth.login(leader.email, next_url=target).headers["Location"]
    assert "evil" not in location and "javascript" not in location


def test_repeated_failures_are_rate_limited(app, client, auth, leader):
    limit = app.config["LOGIN_ATTEMPTS_PER_15_MINUTES"]
    for _ in range(limit):
        assert auth.login(leader.email, password="guess").status_code == 401
    response = auth.login(leader.email, password=PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)


def test_sign_out(client, auth, leader, team):
    assert auth.login(leader.email).status_code == 302
    signed_in = client.get(f"/teams/{team.id}/members/")
    assert signed_in.status_code == 200 and team.name in signed_in.get_data(as_text=True)

    assert auth.logout().status_code == 302
    signed_out = client.get(f"/teams/{team.id}/members/")
    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/login")
    assert team.name not in client.get("/login").get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client, auth, leader, team):
    auth.login(leader.email)
    member = team.members.first()
    response = client.post(f"/teams/{team.id}/members/{member.id}/remove", csrf=False,
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert User.get_by_id(member.id).team_id == team.id
