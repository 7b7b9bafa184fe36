"""Only an explicit development or test setting runs on development defaults; anything else is production and
refuses to start, with one message naming every missing or malformed setting, from every entry point."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.sessions import SecureCookieSessionInterface

from tests.conftest import PASSWORD
from tests.edge.conftest import STRONG_SECRET, production_settings
from webapp import config, create_app

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUIRED = ("SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL")
PRODUCTION_LIKE = [None, "production", "Production", "prod", "PRODUCTION", "staging", "develop", "tset"]


@pytest.mark.parametrize("environment", PRODUCTION_LIKE)
def test_anything_but_development_or_test_requires_every_production_setting(environment):
    with pytest.raises(config.ConfigError) as refused:
        config.load({} if environment is None else {"ENTRA_SYNC_ENV": environment})
    message = str(refused.value)
    for name in REQUIRED:
        assert f"{name} is missing" in message
    assert "development-only-secret-key" not in message


@pytest.mark.parametrize("missing", REQUIRED)
def test_each_missing_setting_is_named_alone(missing):
    with pytest.raises(config.ConfigError) as refused:
        config.load(production_settings(ENTRA_SYNC_ENV="Production", **{missing: None}))
    message = str(refused.value)
    assert f"{missing} is missing" in message
    assert [name for name in REQUIRED if name in message] == [missing]
    assert "'Production', which means production" in message


@pytest.mark.parametrize("name, value", [
    ("SECRET_KEY", "development-only-secret-key"), ("SECRET_KEY", "short-but-random-Xq9"),
    ("SECRET_KEY", "a" * 64), ("SECRET_KEY", "abab" * 16), ("ENCRYPTION_KEY", "not-a-fernet-key"),
    ("ENCRYPTION_KEY", "GqjuKd3KLVH9uLf5ZdYgAiVbzZPZ-VK9ZYv9UXYSswA=,broken"), ("DATABASE_URL", "mysql://db.example/app"),
    ("REDIS_URL", "http://cache.example"), ("TRUSTED_PROXY_COUNT", "two"), ("MAX_CONTENT_LENGTH", "-1"),
    ("LOG_FORMAT", "xml"),
])
def test_a_malformed_setting_is_named_and_its_value_never_shown(name, value):
    with pytest.raises(config.ConfigError) as refused:
        config.load(production_settings(**{name: value}))
    message = str(refused.value)
    assert name in message
    assert value not in message
    assert message.count("\n  - ") == 1


def test_every_problem_comes_in_one_message():
    with pytest.raises(config.ConfigError) as refused:
        config.load({"ENTRA_SYNC_ENV": "prod", "SECRET_KEY": "x", "ENCRYPTION_KEY": "y", "MEMBERS_PER_PAGE": "ten"})
    message = str(refused.value)
    assert message.count("\n  - ") == 6
    for told in ("SECRET_KEY is malformed", "ENCRYPTION_KEY is malformed", "DATABASE_URL is missing",
                 "REDIS_URL is missing", "MEMBERS_PER_PAGE must be a whole number", "ENTRA_SYNC_ENV is 'prod'"):
        assert told in message


def test_production_starts_with_every_setting_and_development_needs_none():
    production = config.load(production_settings(ENTRA_SYNC_ENV="Production"))
    assert production["PRODUCTION"] and production["SESSION_COOKIE_SECURE"]
    assert production["TRUSTED_PROXY_COUNT"] == 1
    for environment in ("development", "test"):
        development = config.load({"ENTRA_SYNC_ENV": environment})
        assert not development["PRODUCTION"]
        assert development["TRUSTED_PROXY_COUNT"] == 0


ENTRY_POINTS = {
    "web": [str(BIN / "gunicorn"), "wsgi:app", "--bind", "127.0.0.1:0", "--workers", "2"],
    "worker": [sys.executable, "-m", "worker.rq_worker", "--burst", "sync"],
    "scheduler": [sys.executable, "-m", "worker.scheduler", "--burst"],
    "release": [str(BIN / "flask"), "--app", "wsgi", "migrate"],
}


@pytest.mark.parametrize("role", ENTRY_POINTS)
@pytest.mark.parametrize("environment", ["prod", "Production"])
def test_every_procfile_process_refuses_to_start_with_one_message(role, environment, tmp_path):
    env = {name: value for name, value in os.environ.items() if name not in REQUIRED + ("ENTRA_SYNC_ENV",)}
    env.update(ENTRA_SYNC_ENV=environment, SECRET_KEY="development-only-secret-key", PYTHONPATH=str(ROOT))
    finished = subprocess.run(ENTRY_POINTS[role], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode != 0
    assert "The portal cannot start" in finished.stderr
    for told in ("SECRET_KEY is malformed", "ENCRYPTION_KEY is missing", "DATABASE_URL is missing",
                 "REDIS_URL is missing"):
        assert told in finished.stderr
    assert "Traceback" not in finished.stderr
    assert "development-only-secret-key" not in finished.stderr


def forged(cookie_value, real_key, forging_key):
    """The same session, signed again with another key."""
    interface = SecureCookieSessionInterface()

    class Keyed:
        def __init__(self, key):
            self.secret_key = key
            self.config = {"SECRET_KEY_FALLBACKS": None}

    contents = interface.get_signing_serializer(Keyed(real_key)).loads(cookie_value)
    return interface.get_signing_serializer(Keyed(forging_key)).dumps(contents)


@pytest.mark.parametrize("environment", ["Production", "prod"])
def test_production_without_a_secret_key_does_not_start(app, environment, monkeypatch):
    monkeypatch.setenv("ENTRA_SYNC_ENV", environment)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match="SECRET_KEY is missing"):
        create_app()


def test_a_cookie_signed_with_the_development_key_opens_no_team_page(production_app, team, leader):
    leader_browser = production_app.test_client()
    leader_browser.environ_base.update(HTTP_X_FORWARDED_PROTO="https", HTTP_REFERER="https://localhost/login")
    signed = leader_browser.post("/login", data={"email": leader.email, "password": PASSWORD})
    assert signed.status_code == 302
    assert "Learners" in leader_browser.get(f"/teams/{team.id}/members/").get_data(as_text=True)
    real = leader_browser.get_cookie("session").value

    stranger = production_app.test_client()
    stranger.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    stranger.set_cookie("session", forged(real, STRONG_SECRET, config.DEVELOPMENT_SECRET_KEY))
    page = stranger.get(f"/teams/{team.id}/members/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")
    assert "Member 00001" not in stranger.get(f"/teams/{team.id}/members/", follow_redirects=True).get_data(
        as_text=True)


def test_in_development_a_key_or_url_that_is_set_must_still_be_well_formed():
    assert config.load({"ENTRA_SYNC_ENV": "development"})["SECRET_KEY"] == config.DEVELOPMENT_SECRET_KEY
    with pytest.raises(config.ConfigError) as refused:
        config.load({"ENTRA_SYNC_ENV": "development", "ENCRYPTION_KEY": "typo", "REDIS_URL": "localhost:6379"})
    assert "ENCRYPTION_KEY is malformed" in str(refused.value)
    assert "REDIS_URL is malformed" in str(refused.value)
    assert "SECRET_KEY" not in str(refused.value)
