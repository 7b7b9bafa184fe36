import sqlite3

import pytest

from demo.data import demo_data
from webapp import config
from webapp.db import database
from webapp.migrations import migrate
from webapp.models import Team


def test_second_migration_run_is_a_no_op(app):
    assert migrate() == []


def test_production_refuses_to_start_without_secret_key():
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load({"ENTRA_SYNC_ENV": "production", "ENCRYPTION_KEY": "x"})


def test_heroku_postgres_url_is_accepted():
    settings = config.load({"ENTRA_SYNC_ENV": "test", "DATABASE_URL": "postgres://u:p@db.example:5432/app"})
    assert settings["DATABASE_URL"] == "postgresql://u:p@db.example:5432/app"


def test_commands_create_a_team_and_its_leader(runner, app):
    result = runner.invoke(args=["create-team", "Analysts"])
    team_id = int(result.output.split()[1].rstrip(":"))
    result = runner.invoke(args=["create-leader", "Boss@Example.com", "--team", str(team_id)],
                           input="s3cret-passphrase\ns3cret-passphrase\n")
    assert "boss@example.com now leads team" in result.output
    client = app.test_client()
    assert client.post("/login", data={"email": "boss@example.com", "password": "s3cret-passphrase"}).status_code == 302
    assert "Analysts" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_demo_data_is_idempotent(runner):
    first = runner.invoke(demo_data, args=["--members", "30"])
    second = runner.invoke(demo_data, args=["--members", "30"])
    assert "sign in as leader@demo.example" in first.output
    assert first.output == second.output


def test_sqlite_transactions_take_the_write_lock_when_they_begin(app, database_url):
    """Else a transaction that reads then writes fails at once while another process writes."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite locking rule")
    other = sqlite3.connect(database_url[len("sqlite:///"):], timeout=0)
    with database.atomic():
        Team.select().count()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO team (name, created_at) VALUES ('Elsewhere', '2026-01-01')")
    other.execute("INSERT INTO team (name, created_at) VALUES ('Elsewhere', '2026-01-01')")
    other.commit()
    assert Team.select().where(Team.name == "Elsewhere").count() == 1
