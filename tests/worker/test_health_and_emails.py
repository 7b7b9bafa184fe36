"""The daily health check (Auto Sync off too) and the leaders' emails: a real scheduler, worker, Redis, database,
fake_entra and a real SMTP server (aiosmtpd)."""
import datetime as dt
import logging
import socket
import subprocess
from email import message_from_bytes, policy
from html import unescape

import pytest
from aiosmtpd.controller import Controller

from fake_entra import demo
from tests.worker.conftest import BIN, ROOT, connect, run_worker
from tests.worker.test_schedule import next_tick_now
from webapp import connections
from webapp.engine.lifecycle import queue_run
from webapp.models import EntraConnection, SyncRun, SyncSettings, User


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def subjects(self):
        return [message["Subject"] for _, message in self.messages]


@pytest.fixture
def inbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP session otherwise
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture
def mail_env(worker_env, inbox):
    return dict(worker_env, SMTP_HOST="127.0.0.1", SMTP_PORT=str(inbox.port), SMTP_STARTTLS="0",
                PORTAL_URL="https://portal.example")


@pytest.fixture
def checked_team(app, make_team, make_leader_of):
    """A team connected with the demo Enterprise App, Sync Group "Training", Auto Sync off."""
    team = make_team("Health Academy")
    make_leader_of(team)
    connect(app, team)
    return team


def scheduler_round(env, redis_connection):
    """The scheduler enqueues the tick, a worker runs it and the checks it queued."""
    next_tick_now(redis_connection)
    subprocess.run([str(BIN / "python"), "-m", "worker.scheduler", "--burst"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    result = run_worker(env)
    assert result.returncode == 0, result.stderr


def a_day_later(team):
    """The last check was a day ago: the next tick checks again."""
    row = EntraConnection.get(EntraConnection.team == team.id)
    EntraConnection.update(health_checked_at=row.health_checked_at - dt.timedelta(days=1)).where(
        EntraConnection.id == row.id).execute()


def page_of(signed_in_client, team):
    return unescape(signed_in_client.get(f"/teams/{team.id}/entra-sync/").get_data(as_text=True))


@pytest.mark.parametrize("break_it, remedy", [
    ("consent", "an administrator must grant the app the"),
    ("group", "The Sync Group Training no longer exists in Contoso Learning"),
    ("secret", "The client secret has expired"),
])
def test_a_broken_connection_is_red_with_the_remedy_and_one_email(app, checked_team, client, auth,
                                                                   mail_env, inbox, redis_connection, fake_entra,
                                                                   break_it, remedy):
    scheduler_round(mail_env, redis_connection)
    assert connections.connection_of(checked_team.id).error is None and inbox.messages == []
    assert SyncRun.select().where(SyncRun.team == checked_team.id).count() == 0, "Auto Sync is off: no run"

    if break_it == "consent":
        fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    elif break_it == "group":
        fake_entra.control.remove_group(demo.TENANT_ID, demo.group_id("Training"), reason="deleted")
    else:
        connections.save_enterprise_app(checked_team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                        demo.ENTERPRISE_APP_EXPIRED_SECRET, app.extensions["secret_box"],
                                        tenant_name="Contoso Learning")
    scheduler_round(mail_env, redis_connection)
    assert connections.connection_of(checked_team.id).error is None, "checked once a day: not yet"
    a_day_later(checked_team)
    scheduler_round(mail_env, redis_connection)
    assert remedy in connections.connection_of(checked_team.id).error

    auth.login(f"leader.team{checked_team.id}@example.com")
    page = page_of(client, checked_team)
    assert "needs attention" in page and remedy in page
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == [f"leader.team{checked_team.id}@example.com"]
    assert message["Subject"] == "Health Academy: the Microsoft connection needs attention"
    body = message.get_content()
    assert remedy in body and f"https://portal.example/teams/{checked_team.id}/entra-sync/" in body

    a_day_later(checked_team)
    scheduler_round(mail_env, redis_connection)
    assert len(inbox.messages) == 1, "the same problem is emailed once"


def midday_in(days):
    """Noon of the calendar day `days` from today (UTC), so the count of days left does not depend on the hour."""
    return dt.datetime.combine(dt.datetime.utcnow().date() + dt.timedelta(days=days), dt.time(12))


def test_a_credential_about_to_expire_is_shown_and_emailed_once_per_warning(app, checked_team, client, auth,
                                                                          mail_env, inbox, redis_connection):
    EntraConnection.update(credential_expires_at=midday_in(10)).where(
        EntraConnection.team == checked_team.id).execute()
    scheduler_round(mail_env, redis_connection)
    a_day_later(checked_team)
    scheduler_round(mail_env, redis_connection)
    assert inbox.subjects() == ["Health Academy: the Microsoft credential expires in 10 days"]
    assert "run python -m entra_setup again with the same --name" in inbox.messages[0][1].get_content()
    auth.login(f"leader.team{checked_team.id}@example.com")
    assert "The client secret expires in 10 days" in page_of(client, checked_team)

    EntraConnection.update(credential_expires_at=midday_in(6)).where(
        EntraConnection.team == checked_team.id).execute()
    a_day_later(checked_team)
    scheduler_round(mail_env, redis_connection)
    assert inbox.subjects()[1:] == ["Health Academy: the Microsoft credential expires in 6 days"]


def test_two_failed_runs_in_a_row_email_once(app, synced_team, mail_env, inbox, fake_entra, redis_connection):
    queue = redis_connection
    fake_entra.control.inject(503, count=None, path="/groups/")
    for expected in ([], ["Support Academy: the sync failed twice in a row"],
                     ["Support Academy: the sync failed twice in a row"]):
        queue_run(synced_team.id, "manual", queue)
        run_worker(mail_env)
        assert inbox.subjects() == expected
    assert SyncSettings.get(SyncSettings.team == synced_team.id).failure_count == 3


def test_a_team_can_turn_the_emails_off(app, checked_team, client, auth, mail_env, inbox, redis_connection,
                                        fake_entra):
    auth.login(f"leader.team{checked_team.id}@example.com")
    response = client.post(f"/teams/{checked_team.id}/entra-sync/emails", data={}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Email choice kept." in response.get_data(as_text=True)
    assert SyncSettings.get(SyncSettings.team == checked_team.id).leader_emails is False
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    scheduler_round(mail_env, redis_connection)
    assert connections.connection_of(checked_team.id).error and inbox.messages == []


def test_without_smtp_the_email_is_written_under_the_mail_folder(app, checked_team, worker_env, redis_connection,
                                                                   fake_entra, tmp_path):
    env = dict(worker_env, MAIL_FOLDER=str(tmp_path / "mail"))
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    scheduler_round(env, redis_connection)
    written = list((tmp_path / "mail").glob("*.eml"))
    assert len(written) == 1
    message = message_from_bytes(written[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Health Academy: the Microsoft connection needs attention"
    assert demo.ENTERPRISE_APP_SECRET not in written[0].read_text()


def test_a_run_that_stops_for_review_emails_the_leaders(app, make_team, make_leader_of, mail_env, inbox, fake_entra,
                                                        redis_connection):
    team = make_team("Review Academy", members=24)
    make_leader_of(team)
    User.update(synced_by_team=team).where((User.team == team.id) & User.email.startswith("member")).execute()
    empty = fake_entra.control.add_group(demo.TENANT_ID, "Emptied Group")
    connect(app, team, group_id=empty["id"], allow_deletion=True)
    run = queue_run(team.id, "manual", redis_connection)
    run_worker(mail_env)
    assert SyncRun.get_by_id(run.id).status == "needs_review"
    assert inbox.subjects() == ["Review Academy: a sync is waiting for your review"]
    assert "Microsoft listed no users in the Sync Group" in inbox.messages[0][1].get_content()
