"""Fixtures for the resilience tests: the portal under gunicorn talking to fake_entra, a connected team, and a
Redis server of the test's own that can be stalled (SIGSTOP), killed and started again on the same port."""
import os
import re
import signal
from pathlib import Path

import pytest
import redis
import requests

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY, PASSWORD
from tests.security.conftest import ROOT
from tests.sync_page.conftest import entra  # noqa: F401 (the app pointed at fake_entra)
from tests.worker.conftest import connect, redis_connection, synced_team, worker_env  # noqa: F401 (fixtures)
from webapp import embedded_redis


def web_env(app, database_url, redis_url, fake_entra, **settings):
    return dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=app.config["SECRET_KEY"],
                ENCRYPTION_KEY=ENCRYPTION_KEY, ENTRA_SYNC_ENV="development", PYTHONPATH=str(ROOT),
                ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url,
                MS_CLIENT_ID=demo.PORTAL_CLIENT_ID, MS_CLIENT_SECRET=demo.PORTAL_CLIENT_SECRET, **settings)


def signed_in_browser(url, email):
    """A requests session signed in to the portal at `url`; returns (session, its CSRF token)."""
    browser = requests.Session()
    form = browser.get(url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = browser.post(url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                            allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:300]
    page = browser.get(url + "/teams/", timeout=10).text
    return browser, re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


@pytest.fixture
def connected_team(app, entra, make_team, make_leader_of):  # noqa: F811
    """A team with its leader, connected to the demo tenant with its enterprise app, Sync Group "Training"."""
    team = make_team("Resilient Academy")
    leader = make_leader_of(team)
    connect(app, team)
    return team, leader


class RedisServer:
    """A redis-server of one test (nothing on disk, like the platform's): stall, kill and start it again."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.port = embedded_redis.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.url, self.process = embedded_redis.start(self.data_dir, port=self.port)
        return self

    def stall(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def client(self):
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.kill()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, started; stopped at the end whatever state the test left it in."""
    server = RedisServer(tmp_path / "own-redis")
    yield server.start()
    server.stop()
