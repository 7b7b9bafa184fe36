"""Two releases at once (two deploys close together, or a release retried while the first still runs): both
`flask migrate` processes succeed and the schema is migrated once."""
import os
import subprocess

import psycopg2
import pytest

from tests.conftest import POSTGRES_URL
from tests.security.conftest import BIN, ROOT
from webapp.db import bind, database
from webapp.migrations import MIGRATIONS
from webapp.models import SchemaVersion


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database no migration has touched yet (the test's own database stays bound for the app)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'release.sqlite3'}"
        return
    name = f"entra_release_{os.getpid()}"
    admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def test_two_releases_at_once_both_succeed_and_migrate_once(empty_database_url, redis_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=empty_database_url, REDIS_URL=redis_url, ENTRA_SYNC_ENV="development",
               PYTHONPATH=str(ROOT))
    releases = [subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "migrate"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [release.communicate(timeout=120)[0] for release in releases]
    assert [release.returncode for release in releases] == [0, 0], outputs
    assert not any("IntegrityError" in output for output in outputs)
    previous = database.obj
    try:
        bind(empty_database_url)
        with database.connection_context():
            versions = [row.version for row in SchemaVersion.select().order_by(SchemaVersion.version)]
    finally:
        database.initialize(previous)
    assert versions == [version for version, _ in MIGRATIONS]
