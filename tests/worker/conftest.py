"""Fixtures for the worker tests: a connected team, a worker environment and real RQ worker processes."""
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY
from webapp import connections
from webapp.models import SyncRun, SyncSettings, User

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCK_SECONDS = 2


@pytest.fixture
def worker_env(app, fake_entra, database_url, redis_url):
    """The environment a worker or scheduler process of this test runs with."""
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, ENCRYPTION_KEY=ENCRYPTION_KEY,
               ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url,
               SYNC_LOCK_SECONDS=str(LOCK_SECONDS), PYTHONPATH=str(ROOT), OAUTH_SYNC_MINUTES="5",
               ENTERPRISE_APP_SYNC_MINUTES="1440")
    return env


@pytest.fixture
def redis_connection(redis_url):
    return redis.Redis.from_url(redis_url)


def connect(app, team, tenant_id=demo.TENANT_ID, client_id=demo.ENTERPRISE_APP_CLIENT_ID,
            secret=demo.ENTERPRISE_APP_SECRET, group_id=None, **settings):
    """Connect the team with an enterprise app and choose its Sync Group."""
    connections.save_enterprise_app(team.id, tenant_id, client_id, secret, app.extensions["secret_box"],
                                    tenant_name="Contoso Learning")
    SyncSettings.create(team=team, group_id=group_id or demo.group_id("Training"), group_name="Training",
                        **settings)


@pytest.fixture
def synced_team(app, make_team, make_leader_of):
    """An empty team (its leader only) connected to the demo tenant, Sync Group "Training"."""
    team = make_team("Support Academy")
    make_leader_of(team)
    connect(app, team)
    return team


WORKER = (str(BIN / "python"), "-m", "worker.rq_worker")


def run_worker(env, *extra, timeout=60):
    """A burst RQ worker process, as the Procfile runs it: works the sync queue until it is empty, then exits."""
    return subprocess.run([*WORKER, "--burst", *extra, "sync"],
                          cwd=ROOT, env=env, timeout=timeout, capture_output=True, text=True)


def start_worker(env, *extra, log=None):
    """A long-running RQ worker process, as the Procfile runs it; its log goes to the open file `log`, if given."""
    return subprocess.Popen([*WORKER, *extra, "sync"], cwd=ROOT, env=env, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL)


def kill_group(process, sig=signal.SIGKILL):
    """Signal a worker and its work horse (which RQ puts in a session of its own)."""
    try:
        horses = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        horses = []
    for each in [process, *horses]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each.pid, sig)
    process.wait(timeout=10)


def wait_for(predicate, timeout=30, interval=0.1):
    """Poll until predicate() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def emails_of(team):
    return {row[0] for row in User.select(User.email).where(User.team == team.id).tuples()}


def run_of(run_id):
    return SyncRun.get_by_id(run_id)
