"""Numbered schema migrations; running them twice is a no-op."""
from peewee import Field, Model
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as migrate_schema

from webapp.db import database, is_postgres, is_sqlite
from webapp.models import (ALL_MODELS, EntraConnection, LeaderEmail, SchemaVersion, SecurityEvent, SyncRun,
                           SyncSettings, TeamCertificate, User, UserSession)
from webapp.search import create_search_indexes, one_search_index


def _initial_schema() -> None:
    database.create_tables(ALL_MODELS, safe=True)


def _member_list_indexes() -> None:
    """Members in name order without a sort, and substring search by name or email."""
    database.execute_sql(f'CREATE INDEX IF NOT EXISTS users_team_name_id ON "{User._meta.table_name}" '
                         "(team_id, name, id)")
    create_search_indexes()


def _add_column(model: type[Model], field: Field) -> None:
    """Add a column unless the table was created with it."""
    table = model._meta.table_name
    if field.column_name not in {column.name for column in database.get_columns(table)}:
        migrate_schema(SchemaMigrator.from_database(database).add_column(table, field.column_name, field))


def _run_mode() -> None:
    """Whether a run read the whole group or only its changes."""
    _add_column(SyncRun, SyncRun.mode)


def _run_notice() -> None:
    """Why a run stopped for review."""
    _add_column(SyncRun, SyncRun.notice)


def _drop_redundant_user_index() -> None:
    """users_team_name_id (team_id, name, id) serves what (team_id, name) served, and every insert paid for both.
    (team_id) stays: a search finds its hits by (team_id, rowid) there."""
    database.execute_sql("DROP INDEX IF EXISTS users_team_id_name")


def _sessions_and_security_events() -> None:
    """Server-side sign-in sessions and the security event log."""
    database.create_tables([UserSession, SecurityEvent], safe=True)


def _group_name_fits_microsoft() -> None:
    """A Sync Group's name can be as long as Microsoft allows (256 characters); SQLite does not limit it."""
    if not is_sqlite():
        database.execute_sql(f'ALTER TABLE "{SyncSettings._meta.table_name}" ALTER COLUMN group_name '
                             f"TYPE VARCHAR({SyncSettings.group_name.max_length})")


def _guest_choice() -> None:
    """Whether a team's sync includes guest accounts (it always did)."""
    _add_column(SyncSettings, SyncSettings.include_guests)


def _add_columns(model: type[Model], *fields: Field) -> None:
    """Add the model's columns its table was created without."""
    table = model._meta.table_name
    existing = {column.name for column in database.get_columns(table)}
    migrator = SchemaMigrator.from_database(database)
    for field in fields:
        if field.column_name not in existing:
            migrate_schema(migrator.add_column(table, field.column_name, field))


def _credentials_health_and_emails() -> None:
    """Key pairs the portal makes for Enterprise Apps, which credential a connection uses until when, its daily
    health check, and the emails sent to leaders (with the team's choice to get none)."""
    database.create_tables([TeamCertificate, LeaderEmail], safe=True)
    _add_columns(EntraConnection, EntraConnection.certificate, EntraConnection.credential_expires_at,
                 EntraConnection.health_checked_at)
    _add_columns(SyncSettings, SyncSettings.leader_emails)


def _run_interrupted() -> None:
    """Whether a run ended because its worker stopped (such a run is tried again and sets no Auto Sync period)."""
    _add_column(SyncRun, SyncRun.interrupted)


MIGRATIONS = [
    (1, _initial_schema),
    (2, _member_list_indexes),
    (3, _run_mode),
    (4, _drop_redundant_user_index),
    (5, one_search_index),
    (6, _run_notice),
    (7, _sessions_and_security_events),
    (8, _group_name_fits_microsoft),
    (9, _guest_choice),
    (10, _credentials_health_and_emails),
    (11, _run_interrupted),
]


MIGRATION_LOCK = 0x656E747261  # any number, the same in every release: PostgreSQL's advisory lock of migrate()


def migrate() -> list[int]:
    """Apply the migrations this database has not seen yet; return their numbers.

    Two releases at once take turns: on PostgreSQL under an advisory lock held for the whole run, on SQLite under
    each step's write transaction; each step is checked again once its turn comes, so the second applies nothing."""
    applied = []
    with database.connection_context():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            database.create_tables([SchemaVersion], safe=True)
            for version, step in MIGRATIONS:
                with database.atomic():
                    if SchemaVersion.get_or_none(SchemaVersion.version == version) is not None:
                        continue
                    step()
                    SchemaVersion.create(version=version)
                applied.append(version)
        finally:
            if is_postgres():
                database.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
