"""Server-side sessions: sign-out, password changes and deactivation end them; idle and absolute expiry."""
import datetime as dt

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.security.conftest import sign_in, signed_out
from tests.worker.conftest import run_of, run_worker
from webapp.auth.passwords import hash_password
from webapp.engine.lifecycle import queue_run
from webapp.models import SyncSettings, User, UserSession, utcnow


def sessions_of(user):
    return list(UserSession.select().where(UserSession.user == user.id))


def test_a_cookie_captured_before_sign_out_is_refused_after(app, client, leader, team):
    assert sign_in(client, leader.email).status_code == 302
    captured = client.get_cookie("session").value
    assert team.name in client.get("/teams/", follow_redirects=True).get_data(as_text=True)
    client.post("/logout")

    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert signed_out(thief)
    assert team.name not in thief.get(f"/teams/{team.id}/members/", follow_redirects=True).get_data(as_text=True)
    assert sessions_of(leader) == []


def test_signing_out_ends_the_other_browsers_session_too(app, client, leader):
    laptop, phone = client, app.test_client()
    sign_in(laptop, leader.email)
    sign_in(phone, leader.email)
    assert len(sessions_of(leader)) == 2 and not signed_out(phone)
    laptop.post("/logout")
    assert signed_out(phone) and signed_out(laptop)


def test_the_session_changes_at_sign_in(app, client, leader):
    client.get("/login")
    before = client.get_cookie("session").value
    with client.session_transaction() as session:
        assert "session_token" not in session
    sign_in(client, leader.email)
    first = client.get_cookie("session").value
    with client.session_transaction() as session:
        first_token = session["session_token"]
    assert first != before

    fixated = app.test_client()  # someone holding the cookie from before sign-in is not signed in
    fixated.set_cookie("session", before)
    assert signed_out(fixated)

    client.post("/logout")
    sign_in(client, leader.email)
    with client.session_transaction() as session:
        assert session["session_token"] != first_token
    assert len(sessions_of(leader)) == 1
    assert len(sessions_of(leader)[0].token_hash) == 64 and first_token not in sessions_of(leader)[0].token_hash


def test_an_idle_session_expires(app, client, leader):
    sign_in(client, leader.email)
    idle = app.config["SESSION_IDLE_MINUTES"]
    UserSession.update(last_seen_at=utcnow() - dt.timedelta(minutes=idle - 1)).execute()
    assert not signed_out(client)
    UserSession.update(last_seen_at=utcnow() - dt.timedelta(minutes=idle + 1)).execute()
    assert signed_out(client)
    assert sessions_of(leader) == []


def test_a_session_ends_at_its_absolute_lifetime_even_when_in_use(app, client, leader):
    sign_in(client, leader.email)
    hours = app.config["SESSION_MAX_HOURS"]
    UserSession.update(created_at=utcnow() - dt.timedelta(hours=hours, minutes=-1)).execute()
    assert not signed_out(client)
    UserSession.update(created_at=utcnow() - dt.timedelta(hours=hours, minutes=1)).execute()
    assert signed_out(client)


def test_last_seen_is_written_at_most_once_a_minute(client, leader):
    sign_in(client, leader.email)
    recent = utcnow() - dt.timedelta(seconds=30)
    UserSession.update(last_seen_at=recent).execute()
    client.get("/teams/")
    assert sessions_of(leader)[0].last_seen_at == recent
    UserSession.update(last_seen_at=utcnow() - dt.timedelta(seconds=61)).execute()
    client.get("/teams/")
    assert sessions_of(leader)[0].last_seen_at > recent


def test_setting_a_new_password_ends_every_session(app, client, runner, leader):
    phone = app.test_client()
    sign_in(client, leader.email)
    sign_in(phone, leader.email)
    new_password = "a brand new passphrase"
    result = runner.invoke(args=["set-password", leader.email.upper()], input=f"{new_password}\n{new_password}\n")
    assert "New password set for" in result.output, result.output
    assert signed_out(client) and signed_out(phone)
    assert sign_in(app.test_client(), leader.email, PASSWORD).status_code == 401
    assert sign_in(app.test_client(), leader.email, new_password).status_code == 302


def test_set_password_refuses_a_short_password(runner, leader):
    result = runner.invoke(args=["set-password", leader.email], input="short\nshort\n")
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output


def test_removing_a_member_on_the_members_page_signs_them_out(app, signed_in, team, member_with_password):
    learner = app.test_client()
    sign_in(learner, member_with_password.email)
    assert not signed_out(learner)
    response = signed_in.post(f"/teams/{team.id}/members/{member_with_password.id}/remove")
    assert response.status_code == 303
    assert signed_out(learner)
    assert sessions_of(member_with_password) == []


def test_a_member_removed_and_deactivated_by_a_sync_is_signed_out(app, synced_team, redis_connection, worker_env):
    """A real `rq worker` applies the removal; the account's sessions end with its deactivation."""
    SyncSettings.update(allow_deletion=True).where(SyncSettings.team == synced_team.id).execute()
    leaver = User.create(email="former.leader@example.com", name="Former Leader", team=synced_team,
                         synced_by_team=synced_team, password_hash=hash_password(PASSWORD))
    browser = app.test_client()
    assert sign_in(browser, leaver.email).status_code == 302 and not signed_out(browser)

    run = queue_run(synced_team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    assert (run_of(run.id).status, run_of(run.id).removed) == ("succeeded", 1)
    assert User.get_by_id(leaver.id).active is False
    assert sessions_of(leaver) == []
    assert signed_out(browser)


def test_an_htmx_request_of_an_ended_session_moves_the_page_to_sign_in(app, signed_in, team):
    idle = app.config["SESSION_IDLE_MINUTES"]
    UserSession.update(last_seen_at=utcnow() - dt.timedelta(minutes=idle + 1)).execute()
    response = signed_in.get(f"/teams/{team.id}/runs/panel", headers={
        "HX-Request": "true", "HX-Current-URL": f"http://localhost/teams/{team.id}/entra-sync/"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/login?next=%2Fteams%2F{team.id}%2Fentra-sync%2F"
    assert "Please sign in to continue." in signed_in.get(response.headers["HX-Redirect"]).get_data(as_text=True)


def test_in_the_browser_an_ended_session_leads_to_sign_in_and_back(app, page, live_server, team, leader):
    """The members search (htmx) of a browser whose session went idle shows the sign-in page, then the team."""
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("26 members")).to_be_visible()
    page.wait_for_load_state("networkidle")  # the page's own requests touch the session: age it after they end
    UserSession.update(last_seen_at=utcnow() - dt.timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)).execute()
    page.get_by_role("searchbox", name="Search members").fill("Member 0000")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Please sign in to continue.")).to_be_visible()
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=team.name)).to_be_visible()
    assert page.url.startswith(f"{live_server}/teams/{team.id}/members/")
