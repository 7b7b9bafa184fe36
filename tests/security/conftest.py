"""Fixtures for the security tests: a member account that can sign in, the portal under gunicorn, the connected
team and worker environment of the sync and worker tests, and a team connected with its enterprise app that has
a finished run."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY, PASSWORD
from tests.sync_page.conftest import entra  # noqa: F401 (the app pointed at fake_entra)
from tests.worker.conftest import redis_connection, synced_team, worker_env  # noqa: F401 (a connected team, rq)
from webapp import connections
from webapp.auth.passwords import hash_password
from webapp.models import SyncOutcome, SyncRun, User, utcnow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def signed_out(client):
    """Whether the client's cookie no longer opens the portal (it is sent to the sign-in page)."""
    response = client.get("/teams/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def member_with_password(team):
    """A member of `team` whose account the team's sync created, who signs in to the platform with a password."""
    return User.create(email=f"learner.team{team.id}@example.com", name="Lee Learner", team=team,
                       synced_by_team=team, password_hash=hash_password(PASSWORD))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env, log_path, workers=1, threads=4, port=None):
    """The portal under gunicorn as the Procfile runs it, once it answers; returns (process, base URL)."""
    port = port or free_port()
    with open(log_path, "a") as log:
        process = subprocess.Popen([str(BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}",
                                    "--workers", str(workers), "--threads", str(threads)],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/static/app.css", timeout=10)
            return process, url
        except requests.RequestException:  # not listening yet, or still starting under load
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(Path(log_path).read_text()) from None
            time.sleep(0.2)


@pytest.fixture
def gunicorn_server(app, database_url, redis_url, tmp_path):
    """The portal under gunicorn as the Procfile runs it (two workers of four threads); yields its base URL."""
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=app.config["SECRET_KEY"],
               ENCRYPTION_KEY=ENCRYPTION_KEY, ENTRA_SYNC_ENV="development", PYTHONPATH=str(ROOT))
    process, url = start_gunicorn(env, tmp_path / "gunicorn.log", workers=2)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def connected(entra, app, team):  # noqa: F811
    """The team connected to the demo tenant with its enterprise app."""
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"])
    return entra


@pytest.fixture
def run(team):
    """A finished run of the team with one outcome."""
    run = SyncRun.create(team=team, trigger="manual", status="succeeded", finished_at=utcnow())
    SyncOutcome.create(run=run, action="added", name="Member 00001", email="member1@example.com")
    return run
