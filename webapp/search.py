"""Substring search of users by name or email that stays fast on big teams.

SQLite keeps a trigram full-text index (FTS5) beside the users table, maintained by triggers (a sync's bulk
insert adds its rows by one statement instead, see indexed_in_bulk);
PostgreSQL uses trigram GIN indexes (pg_trgm), which serve ILIKE directly.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from flask import abort, request
from peewee import SQL, Expression

from webapp.db import database, is_sqlite
from webapp.models import User

TRIGRAM = 3
SEARCH_LIMIT = 120

SQLITE_INSERT_TRIGGER = ("CREATE TRIGGER IF NOT EXISTS users_search_insert AFTER INSERT ON users BEGIN "
                         "INSERT INTO users_search(rowid, name, email) VALUES (new.id, new.name, new.email); END")
SQLITE_SCHEMA = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS users_search USING fts5("
    "name, email, content='users', content_rowid='id', tokenize='trigram')",
    SQLITE_INSERT_TRIGGER,
    "CREATE TRIGGER IF NOT EXISTS users_search_delete AFTER DELETE ON users BEGIN "
    "INSERT INTO users_search(users_search, rowid, name, email) VALUES ('delete', old.id, old.name, old.email); END",
    "CREATE TRIGGER IF NOT EXISTS users_search_update AFTER UPDATE OF name, email ON users BEGIN "
    "INSERT INTO users_search(users_search, rowid, name, email) VALUES ('delete', old.id, old.name, old.email); "
    "INSERT INTO users_search(rowid, name, email) VALUES (new.id, new.name, new.email); END",
    "INSERT INTO users_search(users_search) VALUES ('rebuild')",
]
# One trigram index over the lower-cased name and the (lower-case) email, joined by a newline that no search
# contains. Unlike a trigram index on the email column itself, the planner never takes it for `email IN (…)`
# lookups (which it did on small tables, at seconds per query), and inserts keep one trigram index, not two.
POSTGRES_SEARCHED = "(lower(name) || E'\\n' || email)"
POSTGRES_SCHEMA = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS users_name_email_trgm ON users USING gin ({POSTGRES_SEARCHED} gin_trgm_ops)",
]
POSTGRES_RETIRED = ["DROP INDEX IF EXISTS users_name_trgm", "DROP INDEX IF EXISTS users_email_trgm"]


def create_search_indexes() -> None:
    for statement in SQLITE_SCHEMA if is_sqlite() else POSTGRES_SCHEMA:
        database.execute_sql(statement)


def one_search_index() -> None:
    """Replace PostgreSQL's two per-column trigram indexes by the single one (SQLite keeps its FTS index)."""
    if not is_sqlite():
        for statement in POSTGRES_RETIRED + POSTGRES_SCHEMA:
            database.execute_sql(statement)


@contextmanager
def indexed_in_bulk() -> Iterator[None]:
    """Inside a transaction: the users inserted in the block join SQLite's search index by one INSERT…SELECT at
    its end instead of the insert trigger's statement per row (several times faster for thousands of rows). The
    trigger is dropped and restored inside the caller's transaction, which holds the write lock throughout: no
    other insert can miss it, and a rollback restores it with everything else. PostgreSQL's index needs nothing."""
    if not is_sqlite():
        yield
        return
    (last_id,) = database.execute_sql("SELECT coalesce(max(id), 0) FROM users").fetchone()
    database.execute_sql("DROP TRIGGER IF EXISTS users_search_insert")
    try:
        yield
    finally:  # a new rowid is the largest one plus one (the table has no AUTOINCREMENT)
        database.execute_sql("INSERT INTO users_search(rowid, name, email) SELECT id, name, email FROM users "
                             "WHERE id > ?", (last_id,))
        database.execute_sql(SQLITE_INSERT_TRIGGER)


def search_arg(name: str = "q") -> str:
    """The search text in the query string, trimmed; longer than SEARCH_LIMIT characters is refused with a 400."""
    text = request.args.get(name, "").strip()
    if len(text) > SEARCH_LIMIT:
        abort(400, description=f"A search can be at most {SEARCH_LIMIT} characters; shorten it and try again.")
    return text


def name_or_email_contains(text: str) -> Expression:
    """A WHERE clause: the user's name or email contains `text`, case-insensitively."""
    if is_sqlite():
        if len(text) >= TRIGRAM:
            phrase = '"' + text.replace('"', '""') + '"'
            return User.id.in_(SQL("(SELECT rowid FROM users_search WHERE users_search MATCH ?)", (phrase,)))
        return User.name.contains(text) | User.email.contains(text)
    if "\n" in text:
        return SQL("FALSE")
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return SQL(f"{POSTGRES_SEARCHED} LIKE lower({database.obj.param})", (pattern,))
