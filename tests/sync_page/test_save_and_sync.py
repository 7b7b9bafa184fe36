"""Save stores what the form shows; Sync saves, then queues one run; CSRF and Redis outages are handled."""
import json

import pytest
import redis
from rq import Queue

from fake_entra import demo
from tests.sync_page.conftest import page_url
from webapp import connections
from webapp.models import SyncRun, SyncSettings

TRAINING = demo.group_id("Training")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def connected(entra, app, team):
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"])
    return entra


def form(**changes):
    values = {"group_id": TRAINING, "group_name": "Training", "auto_sync": "1"}
    values.update(changes)
    return values


def test_save_stores_group_selection_and_checkboxes(connected, signed_in, team):
    picked = [demo.user_id("Megan Bowen"), demo.user_id("Jane Doe")]
    response = signed_in.post(page_url(team), headers=HTMX, data=form(user_ids=picked, allow_deletion="1"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Saved." in html and "2 users selected" in html
    saved = SyncSettings.get(SyncSettings.team == team)
    assert (saved.group_id, saved.group_name, saved.auto_sync, saved.allow_deletion) == (TRAINING, "Training",
                                                                                         True, True)
    assert json.loads(saved.selected_user_ids) == picked
    page = signed_in.get(page_url(team)).get_data(as_text=True)
    assert "<strong>Training</strong>" in page and "2 users selected" in page
    assert 'name="auto_sync" value="1" checked' in page and 'name="allow_deletion" value="1" checked' in page


def test_all_users_and_unchecked_boxes_are_saved_as_such(connected, signed_in, team):
    signed_in.post(page_url(team), headers=HTMX, data=form(user_ids=[demo.user_id("Megan Bowen")],
                                                           allow_deletion="1"))
    signed_in.post(page_url(team), headers=HTMX, data={"group_id": TRAINING, "group_name": "Training"})
    saved = SyncSettings.get(SyncSettings.team == team)
    assert (saved.selected_user_ids, saved.auto_sync, saved.allow_deletion) == (None, False, False)


def test_the_group_name_comes_from_graph_and_an_unknown_group_is_refused(connected, signed_in, team):
    signed_in.post(page_url(team), headers=HTMX, data=form(group_name="Not the real name"))
    assert SyncSettings.get(SyncSettings.team == team).group_name == "Training"
    response = signed_in.post(page_url(team), headers=HTMX, data=form(group_id="00000000-0000-4000-8000-00000000dead"))
    assert response.status_code == 422
    assert "The group was not found in Microsoft Entra ID" in response.get_data(as_text=True)
    assert SyncSettings.get(SyncSettings.team == team).group_id == TRAINING


def test_save_without_a_connection_says_connect_first(entra, signed_in, team):
    response = signed_in.post(page_url(team), headers=HTMX, data=form())
    assert response.status_code == 422 and "Connect your Microsoft 365 tenant first." in response.get_data(
        as_text=True)
    assert SyncSettings.select().count() == 0


def test_sync_saves_then_queues_one_run(connected, signed_in, team, app):
    response = signed_in.post(page_url(team, "sync"), headers=HTMX, data=form())
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "sync-started"
    assert SyncSettings.get(SyncSettings.team == team).group_id == TRAINING
    run = SyncRun.get(SyncRun.team == team)
    assert (run.trigger, run.status, run.group_id) == ("manual", "queued", TRAINING)
    assert Queue("sync", connection=app.extensions["redis"]).job_ids == [run.job_id]
    fragments = response.get_data(as_text=True)
    assert 'id="sync-settings"' in fragments and 'id="sync-runs"' in fragments and 'hx-swap-oob="true"' in fragments
    assert "Sync started: its progress is shown below." in fragments and "Sync queued" in fragments
    again = signed_in.post(page_url(team, "sync"), headers=HTMX, data=form())
    assert SyncRun.select().where(SyncRun.team == team).count() == 1
    assert "A sync is already running" in again.get_data(as_text=True)


def test_sync_needs_a_group(connected, signed_in, team):
    response = signed_in.post(page_url(team, "sync"), headers=HTMX, data={"group_id": ""})
    assert response.status_code == 422 and "Choose a Sync Group first." in response.get_data(as_text=True)
    assert SyncRun.select().count() == 0


def test_an_htmx_post_without_the_csrf_token_is_refused(connected, signed_in, team):
    response = signed_in.post(page_url(team), csrf=False, headers=HTMX, data=form())
    assert response.status_code == 400
    assert "The form had expired. Reload the page and try again." in response.get_data(as_text=True)
    assert SyncSettings.select().count() == 0


def test_redis_down_is_said_plainly(connected, signed_in, team, app):
    app.extensions["redis"] = redis.Redis(port=1, socket_connect_timeout=0.5)
    response = signed_in.get(page_url(team, "users"), headers=HTMX,
                             query_string={"group_id": TRAINING, "users_open": "1"})
    assert response.status_code == 503
    assert "The job queue (Redis) cannot be reached right now." in response.get_data(as_text=True)
