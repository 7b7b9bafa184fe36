"""The database handle: one proxy, bound to SQLite or PostgreSQL from DATABASE_URL."""
from collections.abc import Collection
from pathlib import Path

from flask import Flask, request
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10000,
    "cache_size": -32000,
    # A first sync commits one page of users at a time, each commit rewriting over a thousand pages of the users
    # indexes; a checkpoint every 1,000 pages (the default) copied them all back to the database after each.
    "wal_autocheckpoint": 10000,
}


def open_database(url: str) -> Database:
    """A peewee database for the URL.

    SQLite files get WAL and a busy timeout, and transactions take the write lock when they begin:
    a transaction that reads then writes could otherwise fail at once with "database is locked"
    while another process writes, instead of waiting its turn.
    """
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    if url.startswith("postgresql://"):
        # A pool: opening a PostgreSQL connection per request costs more than most pages' queries.
        return connect("postgresql+pool://" + url[len("postgresql://"):], max_connections=20, stale_timeout=300)
    return connect(url)


def bind(url: str) -> Database:
    """Point the shared proxy at the database named by the URL and return it."""
    db = open_database(url)
    database.initialize(db)
    return db


def init_app(app: Flask, own_connection_blueprints: Collection[str] = ("operations",)) -> None:
    """Bind the database named by DATABASE_URL and give each request its connection, as Peewee's FlaskDB does (but
    reusing one already open in this thread, as commands and tests hold one around the requests they make).
    Blueprints in `own_connection_blueprints` open their own, so /health answers 503, not an error page, when the
    database is down."""
    db = bind(app.config["DATABASE_URL"])

    @app.before_request
    def _connect() -> None:
        if request.blueprint not in own_connection_blueprints:
            db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)
