"""Sign-in protection: atomic per-account and per-client limits, Redis down, equal-time answers, passwords."""
import re
import statistics
import threading
import time

import pytest
import requests
from werkzeug.security import generate_password_hash

from tests.conftest import PASSWORD
from tests.security.conftest import free_port, sign_in
from webapp import create_app
from webapp.models import SecurityEvent, User, UserSession

TOO_MANY = "Too many failed sign-in attempts"
OVERRIDES = ("TESTING", "SECRET_KEY", "DATABASE_URL", "ENCRYPTION_KEY", "INSTANCE_DIR")


def failed_checks(email):
    """Password checks that failed for this email, as the security event log counts them."""
    return SecurityEvent.select().where((SecurityEvent.action == "sign_in_failed")
                                        & (SecurityEvent.email == email)).count()


def from_address(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_thirty_parallel_wrong_passwords_check_at_most_the_limit(app, gunicorn_server, leader):
    limit = app.config["LOGIN_ATTEMPTS_PER_15_MINUTES"]
    browsers = []
    for _ in range(30):
        browser = requests.Session()
        form = browser.get(gunicorn_server + "/login", timeout=10).text
        browsers.append((browser, re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)))
    start = threading.Barrier(len(browsers))
    statuses = []

    def guess(browser, token):
        start.wait()
        response = browser.post(gunicorn_server + "/login", timeout=60, allow_redirects=False,
                                data={"email": leader.email, "password": "wrong guess", "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * limit + [429] * (30 - limit)
    assert failed_checks(leader.email) == limit


def test_the_account_limit_holds_across_client_addresses(app, leader, make_team, make_leader_of):
    limit = app.config["LOGIN_ATTEMPTS_PER_15_MINUTES"]
    for n in range(limit):
        assert sign_in(from_address(app, f"198.51.100.{n}"), leader.email, "wrong guess").status_code == 401
    refused = sign_in(from_address(app, "203.0.113.7"), leader.email.upper())
    assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    assert failed_checks(leader.email) == limit
    other = make_leader_of(make_team("Other team"))
    assert sign_in(from_address(app, "198.51.100.1"), other.email).status_code == 302


def test_the_client_limit_holds_across_accounts(app, leader):
    app.config["LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES"] = 5
    for n in range(5):
        assert sign_in(from_address(app, "192.0.2.9"), f"guess{n}@example.com", "wrong guess").status_code == 401
    refused = sign_in(from_address(app, "192.0.2.9"), leader.email)
    assert refused.status_code == 429 and TOO_MANY in refused.get_data(as_text=True)
    assert sign_in(from_address(app, "192.0.2.10"), leader.email).status_code == 302


def test_with_redis_down_sign_in_is_refused_and_says_why(app, leader, caplog):
    redis_down = create_app({key: app.config[key] for key in OVERRIDES}
                            | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    redis_down.test_client_class = app.test_client_class
    client = redis_down.test_client()
    assert 'name="password"' in client.get("/login").get_data(as_text=True)
    started = time.monotonic()
    for _ in range(3):
        response = sign_in(client, leader.email)
        assert response.status_code == 503
        assert "the service that counts sign-in attempts (Redis) cannot be reached" in response.get_data(as_text=True)
    assert time.monotonic() - started < 15
    assert UserSession.select().count() == 0 and failed_checks(leader.email) == 0
    assert "Sign-in refused: the sign-in attempt counter (Redis) is unreachable" in caplog.text


def _refusal_seconds(app, email, n):
    client = from_address(app, f"10.1.{n // 200}.{n % 200}")
    client.get("/login")
    started = time.perf_counter()
    assert sign_in(client, email, "wrong guess").status_code == 401
    return time.perf_counter() - started


def test_an_unknown_email_takes_as_long_to_refuse_as_a_known_one(app, leader):
    """Medians of 15 refusals each, taken in turns so that load on the machine weighs on both alike."""
    app.config["LOGIN_ATTEMPTS_PER_15_MINUTES"] = 1000
    _refusal_seconds(app, leader.email, 0)  # warm-up
    known, unknown = [], []
    for n in range(15):
        known.append(_refusal_seconds(app, leader.email, 2 * n + 1))
        unknown.append(_refusal_seconds(app, "nobody.here@example.com", 2 * n + 2))
    known, unknown = statistics.median(known), statistics.median(unknown)
    assert unknown >= 0.5 * known, (unknown, known)
    assert known >= 0.5 * unknown, (unknown, known)


def test_new_passwords_are_hashed_with_argon2id_at_owasp_cost(leader):
    assert User.get_by_id(leader.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_an_older_hash_is_upgraded_at_the_next_sign_in(app, client, leader):
    User.update(password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256")).where(
        User.id == leader.id).execute()
    assert sign_in(client, leader.email).status_code == 302
    assert User.get_by_id(leader.id).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert sign_in(app.test_client(), leader.email).status_code == 302


@pytest.mark.parametrize("password", ["short", "eleven char"])
def test_create_leader_refuses_a_short_password(runner, team, password):
    result = runner.invoke(args=["create-leader", "new.boss@example.com", "--team", str(team.id)],
                           input=f"{password}\n{password}\n")
    assert result.exit_code != 0
    assert "The password must be at least 12 characters long." in result.output
    assert User.get_or_none(User.email == "new.boss@example.com") is None


@pytest.mark.parametrize("password", ["twelve chars", "ünïcødé pässwörd", "x" * 200])
def test_create_leader_takes_any_password_of_12_characters_or_more(app, runner, team, password):
    result = runner.invoke(args=["create-leader", "new.boss@example.com", "--team", str(team.id)],
                           input=f"{password}\n{password}\n")
    assert "new.boss@example.com now leads team" in result.output, result.output
    assert sign_in(app.test_client(), "new.boss@example.com", password).status_code == 302
