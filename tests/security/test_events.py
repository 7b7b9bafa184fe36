"""The security event log: one JSON log line and one row per event, shown on its team's Security events page."""
import json
import logging
from html import unescape

import pytest

from fake_entra import demo
from tests.security.conftest import sign_in
from tests.sync_page.conftest import connect_oauth, page_url
from webapp.models import SecurityEvent, SyncRun, User

HTMX = {"HX-Request": "true"}


@pytest.fixture
def log_lines(caplog):
    """The security log lines written so far, parsed."""
    caplog.set_level(logging.INFO, logger="webapp.security")

    def lines():
        return [json.loads(record.getMessage()) for record in caplog.records if record.name == "webapp.security"]
    return lines


@pytest.fixture
def other_team(make_team):
    return make_team("Other team", members=3)


@pytest.fixture
def theirs(app, other_team, make_leader_of):
    """A browser signed in as the other team's leader."""
    client = app.test_client()
    sign_in(client, make_leader_of(other_team).email)
    return client


def events_page(client, team):
    response = client.get(f"/teams/{team.id}/events/")
    assert response.status_code == 200
    return unescape(response.get_data(as_text=True))


def assert_seen_by_own_team_only(signed_in, team, theirs, other_team, *texts):
    own, other = events_page(signed_in, team), events_page(theirs, other_team)
    for text in texts:
        assert text in own, text
        assert text not in other, text


def test_the_page_is_a_tab_for_the_teams_leaders_only(signed_in, team, theirs, other_team):
    members = signed_in.get(f"/teams/{team.id}/members/").get_data(as_text=True)
    assert f'href="/teams/{team.id}/events/"' in members and "Security events" in members
    assert theirs.get(f"/teams/{team.id}/events/").status_code == 404


def test_sign_in_and_sign_out_are_logged_and_shown_to_the_leaders_team(app, signed_in, leader, team, theirs,
                                                                       other_team, log_lines):
    laptop = app.test_client()
    laptop.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    sign_in(laptop, leader.email)
    laptop.post("/logout")  # which ends the other browser's session too
    sign_in(signed_in, leader.email)
    page = events_page(signed_in, team)
    assert page.count("Signed in") == 3 and page.count("Signed out") == 1 and "198.51.100.23" in page
    assert leader.email not in events_page(theirs, other_team)
    line = [line for line in log_lines() if line["event"] == "sign_out"][-1]
    assert (line["who"], line["user_id"], line["from"], line["team_id"]) == (leader.email, leader.id,
                                                                            "198.51.100.23", None)
    assert line["when"].endswith("Z")


def test_a_bad_sign_in_to_a_leaders_account_is_shown_without_the_password(app, signed_in, leader, team, theirs,
                                                                          other_team, log_lines):
    sign_in(app.test_client(), leader.email, "my secret guess")
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Sign-in failed")
    row = SecurityEvent.get(SecurityEvent.action == "sign_in_failed")
    assert (row.user_id, row.team_id, row.email) == (leader.id, None, leader.email)
    assert [line["who"] for line in log_lines() if line["event"] == "sign_in_failed"] == [leader.email]
    assert "my secret guess" not in json.dumps(log_lines()) and "my secret guess" not in events_page(signed_in, team)


def test_a_bad_sign_in_of_an_unknown_email_is_logged_but_shown_to_no_team(app, signed_in, team, theirs, other_team,
                                                                         log_lines):
    sign_in(app.test_client(), "nobody@example.com", "guess one")
    sign_in(app.test_client(), "a password typed as the email", "guess two")
    failed = [line for line in log_lines() if line["event"] == "sign_in_failed"]
    assert [(line["who"], line["team_id"], line["user_id"], line["detail"]) for line in failed] == [
        ("nobody@example.com", None, None, "unknown account"), (None, None, None, "unknown account")]
    assert "typed as the email" not in json.dumps(log_lines())
    for client, own in ((signed_in, team), (theirs, other_team)):
        assert "Sign-in failed" not in events_page(client, own)


def test_connect_and_disconnect_are_logged_without_the_secret(entra, signed_in, team, theirs, other_team,
                                                              log_lines):
    response = signed_in.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": demo.TENANT_ID, "client_id": demo.ENTERPRISE_APP_CLIENT_ID,
        "client_secret": demo.ENTERPRISE_APP_SECRET})
    assert response.status_code == 200
    signed_in.post(page_url(team, "disconnect"))
    connect_oauth(signed_in, team, entra)
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Connected to Microsoft",
                                 f"Enterprise app {demo.ENTERPRISE_APP_CLIENT_ID}, tenant {demo.TENANT_ID}",
                                 "Disconnected from Microsoft", f"Connect Microsoft OAuth, tenant {demo.TENANT_ID}")
    assert [line["event"] for line in log_lines() if line["team_id"] == team.id] == [
        "connected", "disconnected", "connected"]
    assert demo.ENTERPRISE_APP_SECRET not in json.dumps(log_lines())
    assert demo.ENTERPRISE_APP_SECRET not in events_page(signed_in, team)


def test_sync_setting_changes_say_what_changed(entra, signed_in, team, theirs, other_team, log_lines):
    signed_in.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": demo.TENANT_ID, "client_id": demo.ENTERPRISE_APP_CLIENT_ID,
        "client_secret": demo.ENTERPRISE_APP_SECRET})
    form = {"group_id": demo.group_id("Training"), "group_name": "Training", "auto_sync": "1"}
    assert signed_in.post(page_url(team), headers=HTMX, data=form).status_code == 200
    signed_in.post(page_url(team), headers=HTMX, data=form)  # the same settings again: nothing changed
    signed_in.post(page_url(team), headers=HTMX, data={**form, "allow_deletion": "1",
                                                       "user_ids": [demo.user_id("Megan Bowen")]})
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Changed the sync settings",
                                 "Sync Group: Training (was none); Auto Sync on",
                                 "Sync Users: 1 selected; Allow Deletion on")
    assert len([line for line in log_lines() if line["event"] == "sync_settings_changed"]) == 2


def test_member_edits_removals_and_restores(signed_in, team, theirs, other_team, log_lines):
    member = User.get((User.team == team.id) & (User.name == "Member 00003"))
    signed_in.post(f"/teams/{team.id}/members/{member.id}", headers=HTMX,
                   data={"name": "Renamed Member", "email": member.email, "job_title": "Tutor", "department": ""})
    signed_in.post(f"/teams/{team.id}/members/{member.id}/remove")
    signed_in.post(f"/teams/{team.id}/members/{member.id}/restore")
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Edited a member",
                                 f"{member.email}: name, job_title changed", "Removed a member", "Restored a member")
    lines = [line for line in log_lines() if line["team_id"] == team.id]
    assert [line["event"] for line in lines] == ["member_edited", "member_removed", "member_restored"]
    assert {line["detail"].split(":")[0] for line in lines} == {member.email}


def test_confirming_removals_held_for_review(signed_in, team, theirs, other_team, log_lines):
    run = SyncRun.create(team=team, trigger="manual", status="needs_review")
    signed_in.post(f"/teams/{team.id}/runs/{run.id}/confirm")
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Confirmed removals",
                                 f"held by sync run #{run.id}")
    assert [line["event"] for line in log_lines() if line["team_id"] == team.id] == ["removals_confirmed"]


def test_the_page_is_paged_newest_first(signed_in, team, leader):
    SecurityEvent.insert_many([{"action": "member_edited", "team": team.id, "user": leader.id,
                                "email": leader.email, "detail": f"edit number {n:03d}"} for n in range(120)]).execute()
    first = events_page(signed_in, team)
    assert "121 events" in first and "Page 1 of 3" in first  # and the sign-in
    assert first.index("edit number 119") < first.index("edit number 118") and "edit number 069" not in first
    second = signed_in.get(f"/teams/{team.id}/events/?page=2", headers=HTMX).get_data(as_text=True)
    assert second.lstrip().startswith('<section id="security-events"')
    assert "edit number 069" in second and "edit number 070" not in second and "edit number 020" in second
    last = signed_in.get(f"/teams/{team.id}/events/?page=3").get_data(as_text=True)
    assert "Signed in" in last and "edit number 019" in last and "Signed in" not in first


def test_a_password_set_on_the_command_line_is_shown_to_the_accounts_team(runner, signed_in, leader, team, theirs,
                                                                         other_team, log_lines):
    runner.invoke(args=["set-password", leader.email], input="another long passphrase\n" * 2)
    sign_in(signed_in, leader.email, "another long passphrase")
    assert_seen_by_own_team_only(signed_in, team, theirs, other_team, "Password set", "with the set-password command")
    line = next(line for line in log_lines() if line["event"] == "password_set")
    assert (line["who"], line["from"]) == (leader.email, None)
    assert "another long passphrase" not in json.dumps(log_lines())
