"""Sync this person now: one person of the tenant, through the worker and the team lock, with a run's history."""
from fake_entra import demo
from tests.worker.conftest import connect, emails_of, run_worker
from webapp.engine.lifecycle import queue_run
from webapp.models import SecurityEvent, SyncOutcome, SyncRun, User

HTMX = {"HX-Request": "true"}
DOMAIN = demo.TENANT_DOMAIN


def sync_person(client, team, name):
    response = client.post(f"/teams/{team.id}/entra-sync/lookup/sync", headers=HTMX,
                           data={"person": demo.user_id(name)})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/teams/{team.id}/entra-sync/"


def test_sync_this_person_now_adds_exactly_that_user(app, signed_in, team, worker_env):
    connect(app, team)
    before = emails_of(team)
    sync_person(signed_in, team, "Lena Vogel")  # in New Starters, nested in Training
    result = run_worker(worker_env)
    assert result.returncode == 0, result.stderr
    assert emails_of(team) == before | {"lena.vogel@external.example"}
    run = SyncRun.get(SyncRun.team == team)
    assert (run.trigger, run.mode, run.status, run.added, run.created, run.removed) == (
        "person", "person", "succeeded", 1, 1, 0)
    assert 2 <= run.graph_requests <= 4
    assert [(o.action, o.email) for o in SyncOutcome.select().where(SyncOutcome.run == run)] == [
        ("created", "lena.vogel@external.example")]
    page = signed_in.get(f"/teams/{team.id}/entra-sync/").get_data(as_text=True)
    assert "Sync this person now" in page and "One person" in page
    assert SecurityEvent.get(SecurityEvent.action == "person_synced").team_id == team.id


def test_sync_this_person_now_removes_a_member_who_left_with_the_reason(app, signed_in, team, worker_env):
    connect(app, team, allow_deletion=True)
    User.create(email=f"alex.wilber@{DOMAIN}", name="Alex Wilber", team=team, synced_by_team=team,
                entra_tenant_id=demo.TENANT_ID, entra_object_id=demo.user_id("Alex Wilber"))
    before = emails_of(team)
    sync_person(signed_in, team, "Alex Wilber")  # in Sales, not in Training
    assert run_worker(worker_env).returncode == 0
    assert emails_of(team) == before - {f"alex.wilber@{DOMAIN}"}
    outcome = SyncOutcome.get(SyncOutcome.action == "removed")
    assert (outcome.email, outcome.reason) == (f"alex.wilber@{DOMAIN}", "not in the group")
    assert len(before) == 27  # the 25 members and the leader kept, Alex gone: nobody else was looked at


def test_a_team_that_leaves_guests_out_adds_none_and_says_why(app, team, worker_env):
    connect(app, team, include_guests=False)
    queue_run(team.id, "manual", app.extensions["redis"])
    assert run_worker(worker_env).returncode == 0
    emails = emails_of(team)
    assert demo.GUEST_EMAIL not in emails and "kofi.mensah@partner.example" not in emails
    assert "lena.vogel@external.example" not in emails and f"rita.moreno@{DOMAIN}" in emails
    skipped = {o.email: o.reason for o in SyncOutcome.select().where(SyncOutcome.action == "skipped")}
    assert skipped[demo.GUEST_EMAIL] == skipped["lena.vogel@external.example"] == (
        "guest account: this team leaves guests out")
