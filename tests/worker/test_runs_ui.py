"""The runs panel, history, per-user outcomes, CSV and Confirm removals, as a team leader sees them."""
import csv
import io

from fake_entra import demo
from tests.worker.conftest import connect, emails_of, run_of, run_worker
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import queue_run, team_lock_key
from webapp.models import SyncOutcome, SyncRun, SyncSettings, User


def panel(client, team):
    return client.get(f"/teams/{team.id}/runs/panel").get_data(as_text=True)


def test_panel_polls_while_running_and_stops_with_the_counts(app, signed_in, team, redis_connection):
    run = SyncRun.create(team=team, trigger="manual", status="running", progress="Read 1,998 users of the Sync Group")
    redis_connection.set(team_lock_key(team.id), run.id, ex=30)
    page = panel(signed_in, team)
    assert "Sync running" in page and "Read 1,998 users of the Sync Group" in page
    assert 'hx-trigger="load delay:1s"' in page
    SyncRun.update(status="succeeded", progress="", added=12, created=10, skipped_disabled=2, mode="incremental",
                   graph_requests=2).where(SyncRun.id == run.id).execute()
    page = panel(signed_in, team)
    assert "load delay:1s" not in page and "Sync running" not in page
    assert "<strong>12</strong> added (10 new accounts)" in page and "Succeeded" in page
    assert "Incremental: only what changed since the last run, 2 Graph requests" in page


def test_a_run_whose_worker_stopped_is_shown_failed(app, signed_in, team):
    SyncRun.create(team=team, trigger="auto", status="running", progress="Applying the changes")
    page = panel(signed_in, team)
    assert "Failed" in page and "The worker stopped before the sync finished" in page
    assert "load delay:1s" not in page


def test_sync_page_includes_the_panel_with_the_auto_sync_back_off(app, signed_in, team):
    connect(app, team, auto_sync=True, failure_count=3)
    page = signed_in.get(f"/teams/{team.id}/entra-sync/").get_data(as_text=True)
    assert 'id="sync-runs"' in page
    assert "Auto Sync failed 3 times in a row" in page


def test_history_pages_newest_first(app, signed_in, team):
    for n in range(25):
        SyncRun.create(team=team, trigger="auto", status="succeeded", added=n, mode="incremental" if n else "full")
    first = signed_in.get(f"/teams/{team.id}/runs/").get_data(as_text=True)
    assert "25 runs" in first and "Page 1 of 2" in first
    assert "<th>Read</th>" in first and first.count("<td>Changes only</td>") == 20
    assert ">#25</a>" in first and ">#5</a>" not in first
    second = signed_in.get(f"/teams/{team.id}/runs/?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert second.startswith('<section id="run-history"') and ">#5</a>" in second and ">#6</a>" not in second


def _outcomes(run, count):
    SyncOutcome.insert_many([{"run": run.id, "action": "created", "email": f"user{n:02d}@contoso.com",
                              "name": f"User {n:02d}", "entra_id": f"oid-{n}"} for n in range(count)]).execute()


def test_outcomes_are_paged_and_searchable(app, signed_in, team):
    run = SyncRun.create(team=team, trigger="manual", status="succeeded", added=15, created=15)
    _outcomes(run, 15)
    SyncOutcome.create(run=run, action="skipped", reason="in another team", email="rita@contoso.com", name="Rita")
    page = signed_in.get(f"/teams/{team.id}/runs/{run.id}").get_data(as_text=True)
    assert "16 users" in page and "Page 1 of 2" in page and "Download CSV" in page
    found = signed_in.get(f"/teams/{team.id}/runs/{run.id}?q=rita",
                          headers={"HX-Request": "true", "HX-Target": "outcome-list"}).get_data(as_text=True)
    assert found.startswith('<section id="outcome-list"') and "1 user matching" in found
    assert "in another team" in found and "user01@" not in found
    skipped = signed_in.get(f"/teams/{team.id}/runs/{run.id}?action=skipped").get_data(as_text=True)
    assert "Rita" in skipped and "User 00" not in skipped


def test_csv_download_has_every_outcome_and_defuses_formulas(app, signed_in, team):
    run = SyncRun.create(team=team, trigger="manual", status="succeeded")
    _outcomes(run, 1200)
    SyncOutcome.create(run=run, action="skipped", reason="in another team", email="x@contoso.com",
                       name="=HYPERLINK(\"http://evil\")")
    response = signed_in.get(f"/teams/{team.id}/runs/{run.id}/outcomes.csv")
    assert response.mimetype == "text/csv" and response.is_streamed
    assert f"sync-run-{run.id}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["action", "reason", "name", "email", "entra_object_id"]
    assert len(rows) == 1202
    assert rows[1] == ["created", "", "User 00", "user00@contoso.com", "oid-0"]
    assert rows[-1][2] == "'=HYPERLINK(\"http://evil\")"


def _over_the_guard(app, team, leader_count=1):
    """Thirty members an earlier sync brought who are no longer in the Sync Group, with Allow Deletion on."""
    connect(app, team, allow_deletion=True)
    User.insert_many([{"email": f"former{n}@example.com", "name": f"Former {n:02d}", "team": team.id,
                       "synced_by_team": team.id}
                      for n in range(30)]).execute()


def test_confirm_removals_removes_the_reviewed_members_but_never_the_leader(
        app, signed_in, make_team, redis_connection, worker_env, leader):
    team = leader.team
    User.delete().where((User.team == team.id) & (User.id != leader.id)).execute()
    _over_the_guard(app, team)
    reviewed = queue_run(team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    reviewed = run_of(reviewed.id)
    assert (reviewed.status, reviewed.removed) == ("needs_review", 0)
    assert len(emails_of(team)) == 31 + len(TRAINING)
    page = panel(signed_in, team)
    assert "Needs review" in page and "would remove 30 members" in page and "Confirm removals" in page
    assert "Former 00 &lt;former0@example.com&gt; — not in the group" in page and leader.email not in page

    response = signed_in.post(f"/teams/{team.id}/runs/{reviewed.id}/confirm", headers={"HX-Request": "true"})
    assert "Sync queued" in response.get_data(as_text=True)
    assert run_worker(worker_env).returncode == 0
    confirm = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert (confirm.trigger, confirm.status, confirm.removed) == ("confirm", "succeeded", 30)
    assert emails_of(team) == TRAINING | {leader.email}
    former = User.get(User.email == "former0@example.com")
    assert (former.active, former.team_id, former.removed_from_team_id) == (False, None, team.id)
    assert former.removed_at is not None
    assert "Confirm removals</button>" not in panel(signed_in, team)


def test_confirm_after_the_group_changed_asks_again(app, signed_in, leader, redis_connection, worker_env, fake_entra):
    team = leader.team
    User.delete().where((User.team == team.id) & (User.id != leader.id)).execute()
    _over_the_guard(app, team)
    reviewed = queue_run(team.id, "manual", redis_connection)
    run_worker(worker_env)
    fake_entra.control.remove_member(demo.TENANT_ID, demo.group_id("Training"), demo.user_id("Rita Moreno"))
    signed_in.post(f"/teams/{team.id}/runs/{reviewed.id}/confirm")
    run_worker(worker_env)
    again = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert (again.trigger, again.status, again.removed) == ("confirm", "needs_review", 0)
    assert SyncOutcome.select().where((SyncOutcome.run == again.id)
                                      & (SyncOutcome.action == "would_remove")).count() == 31
    assert User.select().where(User.team == team.id).count() == 31 + len(TRAINING)
    assert SyncSettings.get(SyncSettings.team == team.id).failure_count == 0


def test_confirming_an_old_review_starts_nothing(app, signed_in, team):
    old = SyncRun.create(team=team, trigger="manual", status="needs_review")
    SyncRun.create(team=team, trigger="manual", status="succeeded")
    response = signed_in.post(f"/teams/{team.id}/runs/{old.id}/confirm")
    assert response.status_code == 303
    assert SyncRun.select().where(SyncRun.team == team.id).count() == 2
