"""A hung Redis (the server stopped with SIGSTOP) in a web request: the page or fragment says the queue is
unavailable within REDIS_WEB_TIMEOUT_SECONDS, never a 500; the sign-in page does not need Redis at all."""
import time

import pytest

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY, PASSWORD, PortalClient
from tests.sync_page.conftest import page_url
from webapp import create_app

QUEUE_UNAVAILABLE = "The job queue (Redis) cannot be reached right now"
REDIS_TIMEOUT = 1.0


@pytest.fixture
def portal_on_own_redis(app, own_redis, tmp_path):
    """The portal as the test app, but on the test's own Redis server."""
    portal = create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                         "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": own_redis.url,
                         "ENCRYPTION_KEY": ENCRYPTION_KEY, "INSTANCE_DIR": tmp_path / "instance",
                         "REDIS_WEB_TIMEOUT_SECONDS": REDIS_TIMEOUT})
    portal.test_client_class = PortalClient
    return portal


def timed(call):
    started = time.monotonic()
    return call(), time.monotonic() - started


@pytest.fixture
def stalled(portal_on_own_redis, own_redis, connected_team):
    """A leader signed in, then the Redis server stopped (SIGSTOP): (client, team)."""
    team, leader = connected_team
    client = portal_on_own_redis.test_client()
    assert client.post("/login", data={"email": leader.email, "password": PASSWORD}).status_code == 302
    client.fetch_csrf_token()
    own_redis.stall()
    yield client, team
    own_redis.resume()


def test_a_hung_redis_gives_the_runs_panel_a_queue_unavailable_line(stalled):
    client, team = stalled
    response, seconds = timed(lambda: client.get(f"/teams/{team.id}/runs/panel", headers={"HX-Request": "true"}))
    assert response.status_code == 503 and seconds < REDIS_TIMEOUT + 1.5
    assert QUEUE_UNAVAILABLE in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#request-problem"


def test_a_hung_redis_gives_the_sync_page_and_sync_button_a_queue_unavailable_page(stalled):
    client, team = stalled
    for response, seconds in (timed(lambda: client.get(page_url(team))),
                              timed(lambda: client.post(page_url(team, "sync"), data={
                                  "group_id": demo.group_id("Training"), "group_name": "Training"}))):
        assert response.status_code == 503 and seconds < 2 * REDIS_TIMEOUT + 1.5
        assert QUEUE_UNAVAILABLE in response.get_data(as_text=True)


def test_the_sign_in_page_does_not_wait_on_a_hung_redis(portal_on_own_redis, own_redis):
    client = portal_on_own_redis.test_client()
    own_redis.stall()
    try:
        response, seconds = timed(lambda: client.get("/login"))
    finally:
        own_redis.resume()
    assert response.status_code == 200 and seconds < 0.5


def test_signing_in_on_a_hung_redis_is_refused_quickly_not_left_unlimited(portal_on_own_redis, own_redis,
                                                                          connected_team):
    _, leader = connected_team
    client = portal_on_own_redis.test_client()
    client.fetch_csrf_token()
    own_redis.stall()
    try:
        response, seconds = timed(lambda: client.post("/login", data={"email": leader.email, "password": PASSWORD}))
    finally:
        own_redis.resume()
    assert response.status_code == 503 and seconds < 2 * REDIS_TIMEOUT + 1.5
    assert "Sign-in is unavailable for a moment" in response.get_data(as_text=True)
