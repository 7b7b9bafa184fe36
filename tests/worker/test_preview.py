"""Preview every change of settings: before Save changes the Sync Group, the selection or the guest choice, or turns
Allow Deletion on, the leader sees what the next run will do and confirms; the run then does exactly that."""
import re

import pytest

from fake_entra import demo
from tests.worker.conftest import connect, emails_of, run_worker
from webapp.engine.lifecycle import queue_run
from webapp.models import SyncRun, SyncSettings

HTMX = {"HX-Request": "true"}
ENGINEERING = demo.group_id("Engineering")


@pytest.fixture(autouse=True)
def web_on_fake_entra(app, fake_entra):
    app.config.update(ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url)


def save(client, team, confirmed=False, **fields):
    data = {"group_id": ENGINEERING, "group_name": "Engineering", "preview": "1", **fields}
    if confirmed:
        data["confirmed"] = "1"
    response = client.post(f"/teams/{team.id}/entra-sync/", headers=HTMX, data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def previewed_counts(html):
    return {name: int(value) for name, value in re.findall(r'<strong class="preview-(\w+)">(\d+)</strong>', html)}


def test_the_preview_counts_equal_what_the_next_run_does(app, client, auth, synced_team, worker_env):
    team, signed_in = synced_team, client
    auth.login(f"leader.team{team.id}@example.com")
    queue_run(team.id, "manual", app.extensions["redis"])
    assert run_worker(worker_env).returncode == 0
    training = emails_of(team)

    html = save(signed_in, team, allow_deletion="1")  # another Sync Group, and Allow Deletion on
    assert "Before you save: what the next sync will do" in html and "Saved." not in html
    counts = previewed_counts(html)
    assert counts["added"] == 12 and counts["removed"] == len(training) - 1  # everyone but the leader
    assert "Pradeep Gupta" in html and "Rita Moreno" in html and "Confirm and save" in html
    assert SyncSettings.get(SyncSettings.team == team).group_id == demo.group_id("Training")  # nothing saved yet

    assert "Saved." in save(signed_in, team, confirmed=True, allow_deletion="1")
    queue_run(team.id, "manual", app.extensions["redis"])
    assert run_worker(worker_env).returncode == 0
    run = SyncRun.select().where(SyncRun.team == team).order_by(SyncRun.id.desc()).first()
    assert (run.status, run.mode) == ("succeeded", "full")
    assert {"added": run.added, "updated": run.updated, "removed": run.removed} == counts


def test_saving_without_changes_asks_nothing_and_allow_deletion_on_asks(app, signed_in, team):
    connect(app, team, group_id=ENGINEERING)
    assert "Saved." in save(signed_in, team)
    html = save(signed_in, team, allow_deletion="1")
    assert "Before you save" in html
    assert previewed_counts(html) == {"added": 12, "updated": 0, "removed": 25}  # the team's unsynced members
    assert SyncSettings.get(SyncSettings.team == team).allow_deletion is False
    html = save(signed_in, team, guests="exclude")
    assert "Before you save" in html


def test_sync_with_changed_settings_previews_then_confirms_into_a_run(app, signed_in, team):
    connect(app, team)
    response = signed_in.post(f"/teams/{team.id}/entra-sync/sync", headers=HTMX,
                              data={"group_id": ENGINEERING, "group_name": "Engineering", "preview": "1"})
    assert "Confirm and sync" in response.get_data(as_text=True) and SyncRun.select().count() == 0
    response = signed_in.post(f"/teams/{team.id}/entra-sync/sync", headers=HTMX,
                              data={"group_id": ENGINEERING, "group_name": "Engineering", "preview": "1",
                                    "confirmed": "1"})
    assert response.headers["HX-Trigger"] == "sync-started" and SyncRun.select().count() == 1
    assert "Sync started: its progress is shown below." in response.get_data(as_text=True)
