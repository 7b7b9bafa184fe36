"""Fixtures of the edge tests: the portal under gunicorn with chosen settings, and the portal as production runs it."""
import os
import time
from contextlib import contextmanager

import pytest

from tests.conftest import ENCRYPTION_KEY, PortalClient
from tests.security.conftest import ROOT, start_gunicorn
from webapp import create_app

STRONG_SECRET = "9f4c2e7a1b8d6f3e0a5c9b2d7e4f1a8c6b3d0e9f2a7c4b1d8e5f0a3c6b9d2e7f"


def production_settings(**changes):
    settings = {"ENTRA_SYNC_ENV": "production", "SECRET_KEY": STRONG_SECRET, "ENCRYPTION_KEY": ENCRYPTION_KEY,
                "DATABASE_URL": "postgres://app:pw@db.example:5432/app", "REDIS_URL": "rediss://:pw@cache.example:6380"}
    settings.update(changes)
    return {name: value for name, value in settings.items() if value is not None}


@pytest.fixture
def portal(app, database_url, redis_url, tmp_path):
    """Start the portal under gunicorn (as the Procfile runs it) with extra settings; yields (url, log lines)."""
    @contextmanager
    def start(**settings):
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=app.config["SECRET_KEY"],
                   ENCRYPTION_KEY=ENCRYPTION_KEY, PYTHONPATH=str(ROOT), **settings)
        log_path = tmp_path / f"gunicorn-{time.monotonic_ns()}.log"
        process, url = start_gunicorn(env, log_path)

        def log_text():
            time.sleep(0.3)
            return log_path.read_text()
        try:
            yield url, log_text
        finally:
            process.terminate()
            process.wait(timeout=10)
    return start


@pytest.fixture
def production_app(app, database_url, redis_url, tmp_path, monkeypatch):
    """The portal as `ENTRA_SYNC_ENV=Production` runs it, on the test database, behind one proxy (the router)."""
    for name, value in production_settings(ENTRA_SYNC_ENV="Production", DATABASE_URL=database_url,
                                           REDIS_URL=redis_url).items():
        monkeypatch.setenv(name, value)
    production = create_app({"INSTANCE_DIR": tmp_path / "production"})
    production.test_client_class = PortalClient
    return production
