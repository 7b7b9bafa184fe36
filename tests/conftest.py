"""Shared fixtures: a real Redis, a real database (SQLite and PostgreSQL), the app and its clients."""
import os
import re

import psycopg2
import pytest
import redis
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from webapp import create_app, embedded_redis
from webapp.accounts import make_leader
from webapp.db import database
from webapp.migrations import migrate
from webapp.models import ALL_MODELS, Team, User

pytest_plugins = ["tests.fake_entra_fixtures", "tests.browser_fixtures"]

os.environ["ENTRA_SYNC_ENV"] = "test"  # development defaults for the tests and every process they start
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
ENCRYPTION_KEY = Fernet.generate_key().decode()
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server for this test process."""
    url, process = embedded_redis.start(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()


@pytest.fixture(scope="session")
def postgres_url():
    """A database of this test process's own on the PostgreSQL server, dropped at the end."""
    name = f"entra_test_{os.getpid()}"
    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        if REQUIRE_POSTGRES:
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE " + name)
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    if not database.is_closed():
        database.close()
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return request.getfixturevalue("postgres_url")


class PortalClient(FlaskClient):
    """A test client that sends the CSRF token the way the pages' htmx setup does."""

    csrf_token = None

    def post(self, *args, csrf=True, **kwargs):
        if csrf:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.fetch_csrf_token())
            kwargs["headers"] = headers
        response = super().post(*args, **kwargs)
        if str(args[0] if args else kwargs.get("path", "")).startswith(("/login", "/logout")):
            self.csrf_token = None  # signing in or out starts a new session, with a new token in the next page
        return response

    def fetch_csrf_token(self):
        if self.csrf_token is None:
            page = self.get("/login", follow_redirects=True).get_data(as_text=True)
            self.csrf_token = re.search(r'(?:name="csrf_token" value="|"X-CSRFToken": ")([^"]+)"', page).group(1)
        return self.csrf_token


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "INSTANCE_DIR": tmp_path / "instance",
        "MEMBERS_PER_PAGE": 10,
    })
    app.test_client_class = PortalClient
    redis.Redis.from_url(redis_url).flushdb()
    migrate()
    if database_url.startswith("postgresql"):
        tables = ", ".join(f'"{model._meta.table_name}"' for model in ALL_MODELS)
        database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    database.connect(reuse_if_open=True)
    yield app
    database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_team():
    def make(name="Learners", members=0):
        team = Team.create(name=name)
        rows = [{"email": f"member{n}.team{team.id}@example.com", "name": f"Member {n:05d}", "team": team.id}
                for n in range(members)]
        if rows:
            User.insert_many(rows).execute()
        return team
    return make


@pytest.fixture
def make_leader_of():
    def make(team, email=None):
        return make_leader(email or f"leader.team{team.id}@example.com", team.id, PASSWORD, name="Team Lead")
    return make


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email, password=PASSWORD, next_url=None):
        url = "/login" + (f"?next={next_url}" if next_url else "")
        return self._client.post(url, data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def team(make_team):
    return make_team("Learners", members=25)


@pytest.fixture
def leader(team, make_leader_of):
    return make_leader_of(team)


@pytest.fixture
def signed_in(client, auth, leader):
    """A client signed in as the leader of `team`."""
    auth.login(leader.email)
    return client
