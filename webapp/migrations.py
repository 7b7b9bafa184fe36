"""Numbered schema migrations; running them twice is a no-op."""
from webapp.db import database
from webapp.models import ALL_MODELS, SchemaVersion


def _initial_schema():
    database.create_tables(ALL_MODELS, safe=True)


MIGRATIONS = [
    (1, _initial_schema),
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
