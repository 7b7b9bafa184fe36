"""No GET changes anything: every GET route, opened the ways the pages open it, leaves the database and the queue as
they were, even with runs whose worker is gone (the panel shows them failed; the scheduler records it)."""
import datetime as dt
import re

import pytest
import redis
from rq import Queue

from fake_entra import demo
from webapp.engine.lifecycle import QUEUE
from webapp.models import ALL_MODELS, SyncOutcome, SyncRun, SyncSettings, utcnow
from webapp.request_checks import BIGINT_MAX

TRAINING = demo.group_id("Training")
HTMX = {"HX-Request": "true"}
PAGE_QUERIES = [
    {},
    {"users_open": "1", "group_id": TRAINING, "group_name": "Training", "allow_deletion": "1"},
    {"users_open": "1", "group_id": TRAINING, "reload": "1", "user_q": "an", "users_page": "1"},
    {"users_open": "1", "group_id": TRAINING, "clear": "1", "user_ids": demo.user_id("Megan Bowen")},
    {"choose": TRAINING, "choose_name": "Training", "change": "1", "group_q": "Tr"},
    {"q": "Member", "page": "1", "action": "would_remove"},
    {"state": "forged", "code": "stolen", "error": "access_denied", "next": "/teams/"},
]


def snapshot(redis_connection) -> dict:
    """Every row of every table, and what the sync queue holds."""
    rows = {model.__name__: list(model.select().order_by(model._meta.primary_key).tuples()) for model in ALL_MODELS}
    queue = Queue(QUEUE, connection=redis_connection)
    jobs = sorted(key.decode() for key in redis_connection.scan_iter("rq:job:*"))
    return {"rows": rows, "queued": queue.job_ids, "jobs": jobs}


@pytest.fixture
def busy_team(app, connected, team, redis_url):
    """A connected team with a Sync Group, a run whose worker stopped, a lost queued run and one to review."""
    SyncSettings.create(team=team, group_id=TRAINING, group_name="Training", allow_deletion=True)
    long_ago = utcnow() - dt.timedelta(minutes=10)
    review = SyncRun.create(team=team, trigger="manual", status="needs_review", finished_at=long_ago,
                            created_at=long_ago)
    SyncOutcome.create(run=review, action="would_remove", name="Member 00001", email="m@example.com")
    stopped = SyncRun.create(team=team, trigger="auto", status="running", progress="Applying the changes",
                             created_at=long_ago, started_at=long_ago)
    lost = SyncRun.create(team=team, trigger="manual", status="queued", job_id="sync-run-gone", created_at=long_ago)
    return {"runs": [review.id, stopped.id, lost.id], "redis": redis.Redis.from_url(redis_url)}


def get_routes(app) -> list[tuple[str, str]]:
    return sorted((rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and rule.endpoint != "static")


def urls_of(rule: str, team_id: int, member_id: int, run_ids: list[int]) -> list[str]:
    """The rule with this team's ids, each run's id in turn, and an id of nothing."""
    values = {"team_id": [team_id], "user_id": [member_id, BIGINT_MAX], "run_id": [*run_ids, BIGINT_MAX],
              "filename": ["app.css"]}
    urls = [rule]
    for name in re.findall(r"<(?:\w+:)?(\w+)>", rule):
        urls = [re.sub(rf"<(?:\w+:)?{name}>", str(value), url, count=1) for url in urls for value in values[name]]
    return urls


def test_no_get_route_changes_the_database_or_the_queue(app, signed_in, busy_team, team):
    member_id = team.members.first().id
    before = snapshot(busy_team["redis"])
    opened = set()
    for endpoint, rule in get_routes(app):
        for url in urls_of(rule, team.id, member_id, busy_team["runs"]):
            for query in PAGE_QUERIES:
                for headers in ({}, HTMX):
                    response = signed_in.get(url, query_string=query, headers=headers)
                    response.get_data()
                    assert response.status_code < 500, (url, query, response.status_code)
                    opened.add(endpoint)
    assert opened == {endpoint for endpoint, _ in get_routes(app)}
    assert snapshot(busy_team["redis"]) == before


def test_the_panel_shows_a_stopped_run_failed_without_recording_it(app, signed_in, busy_team, team):
    stopped, lost = busy_team["runs"][1:]
    panel = signed_in.get(f"/teams/{team.id}/runs/panel").get_data(as_text=True)
    assert "The worker stopped before the sync finished" in panel
    assert SyncRun.get_by_id(stopped).status == "running", "the scheduler records it, not a page view"
    # The queued run whose job Redis lost is queued again by the scheduler's next tick: the panel waits for it.
    assert "load delay:1s" in panel and SyncRun.get_by_id(lost).status == "queued"


def test_the_panel_shows_a_lost_run_too_old_to_queue_again_failed_without_recording_it(app, signed_in, busy_team,
                                                                                        team):
    lost = busy_team["runs"][2]
    SyncRun.update(created_at=utcnow() - dt.timedelta(hours=2)).where(SyncRun.id == lost).execute()
    panel = signed_in.get(f"/teams/{team.id}/runs/panel").get_data(as_text=True)
    assert "waited too long to be started again" in panel and "load delay:1s" not in panel
    assert SyncRun.get_by_id(lost).status == "queued", "the scheduler records it, not a page view"
