"""Numbered schema migrations; running them twice is a no-op."""
from webapp.db import database
from webapp.models import ALL_MODELS, SchemaVersion, User
from webapp.search import create_search_indexes


def _initial_schema():
    database.create_tables(ALL_MODELS, safe=True)


def _member_list_indexes():
    """Members in name order without a sort, and substring search by name or email."""
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS users_team_name_id ON "{User._meta.table_name}" '
                         "(team_id, name, id)")
    create_search_indexes()


MIGRATIONS = [
    (1, _initial_schema),
    (2, _member_list_indexes),
]


def migrate():
    """Apply the migrations this database has not seen yet; return their numbers."""
    applied = []
    with database.connection_context():
        database.create_tables([SchemaVersion], safe=True)
        done = {row.version for row in SchemaVersion.select()}
        for version, step in MIGRATIONS:
            if version in done:
                continue
            with database.atomic():
                step()
                SchemaVersion.create(version=version)
            applied.append(version)
    return applied
