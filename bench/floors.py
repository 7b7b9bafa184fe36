"""The physical floors: the least work any sync of N members must do, measured on the same machine."""
import datetime as dt
import io
import time

import requests

from webapp.db import database, is_sqlite
from webapp.models import Team, User

SELECT = "id,displayName,givenName,surname,mail,userPrincipalName,accountEnabled,userType,jobTitle,department"


def app_token(fake, tenant):
    response = requests.post(fake.token_url(tenant["tenant_id"]), data={
        "grant_type": "client_credentials", "client_id": tenant["app"]["client_id"],
        "client_secret": tenant["app"]["client_secret"], "scope": "https://graph.microsoft.com/.default"})
    response.raise_for_status()
    return response.json()["access_token"]


def list_member_ids(fake, tenant, group_id):
    """Every user id of the group, by the bare loop; also what the fetch floor does."""
    ids, _, _ = fetch_floor(fake, tenant, group_id)
    return ids


def fetch_floor(fake, tenant, group_id):
    """One GET per page, JSON parsed, nothing else: (ids, seconds, requests)."""
    token = app_token(fake, tenant)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
    url = (f"{fake.graph_url}/groups/{group_id}/transitiveMembers/microsoft.graph.user"
           f"?$select={SELECT}&$top=999&$count=true")
    ids, count = [], 0
    started = time.perf_counter()
    while url:
        body = session.get(url, headers=headers).json()
        count += 1
        ids.extend(user["id"] for user in body["value"])
        url = body.get("@odata.nextLink")
    return ids, time.perf_counter() - started, count


def write_floor(size, batch=1000):
    """The project's own floor: one committed bulk insert of `size` users with their team membership into its
    own indexed users table, by peewee's insert_many (removed again, untimed)."""
    rows = [{"email": f"floor{n}@floor.example", "name": f"Floor {n}", "entra_object_id": f"floor-{n}",
             "entra_tenant_id": "floor"} for n in range(size)]
    started = time.perf_counter()
    with database.atomic():
        team = Team.create(name="write floor")
        for start in range(0, size, batch):
            User.insert_many([dict(row, team=team.id) for row in rows[start:start + batch]]).execute()
    elapsed = time.perf_counter() - started
    with database.atomic():
        User.delete().where(User.team == team).execute()
        team.delete_instance()
    return elapsed


RAW_USERS = "bench_raw_users"
RAW_OUTCOMES = "bench_raw_outcomes"
RAW_SEARCH = "bench_raw_search"
USER_COLUMNS = ("email", "name", "job_title", "department", "entra_tenant_id", "entra_object_id", "team_id",
                "synced_by_team_id", "active", "created_at")
OUTCOME_COLUMNS = ("run_id", "entra_id", "user_id", "email", "name", "action", "reason")


def raw_rows(size):
    """The rows a first sync of `size` members writes: each user with the team, and one outcome each."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    users = [(f"raw{n}@floor.example", f"Raw Floor {n}", "Engineer", "Research", "raw-tenant",
              f"00000000-0000-4000-8000-{n:012d}", 1, 1, True, now) for n in range(size)]
    outcomes = [(1, user[5], None, user[0], user[1], "created", "") for user in users]
    return users, outcomes


def raw_write_floor(size):
    """The database's own bulk path for the rows of a first sync, into scratch tables with only the constraints
    correctness needs (unique email, unique Entra identity), plus a bulk build of the search index: SQLite one
    executemany per table in one transaction and an FTS5 trigram rebuild; PostgreSQL COPY and a trigram GIN
    index. Seconds; the tables are dropped again, untimed."""
    users, outcomes = raw_rows(size)
    drop_raw_tables()
    started = time.perf_counter()
    if is_sqlite():
        _sqlite_bulk(users, outcomes)
    else:
        _postgres_bulk(users, outcomes)
    elapsed = time.perf_counter() - started
    drop_raw_tables()
    return elapsed


def _create_tables(id_type, text, boolean):
    database.execute_sql(f"CREATE TABLE {RAW_USERS} (id {id_type}, email {text} NOT NULL UNIQUE, name {text}, "
                         f"job_title {text}, department {text}, entra_tenant_id {text}, entra_object_id {text}, "
                         f"team_id INTEGER, synced_by_team_id INTEGER, active {boolean}, created_at TIMESTAMP, "
                         "UNIQUE (entra_tenant_id, entra_object_id))")
    database.execute_sql(f"CREATE TABLE {RAW_OUTCOMES} (run_id INTEGER, entra_id {text}, user_id INTEGER, "
                         f"email {text}, name {text}, action {text}, reason {text})")


def _sqlite_bulk(users, outcomes):
    with database.atomic():
        _create_tables("INTEGER PRIMARY KEY", "TEXT", "INTEGER")
        cursor = database.cursor()
        cursor.executemany(f"INSERT INTO {RAW_USERS} ({', '.join(USER_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(USER_COLUMNS))})", users)
        cursor.executemany(f"INSERT INTO {RAW_OUTCOMES} ({', '.join(OUTCOME_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(OUTCOME_COLUMNS))})", outcomes)
        database.execute_sql(f"CREATE VIRTUAL TABLE {RAW_SEARCH} USING fts5(name, email, content='{RAW_USERS}', "
                             "content_rowid='id', tokenize='trigram')")
        database.execute_sql(f"INSERT INTO {RAW_SEARCH}({RAW_SEARCH}) VALUES ('rebuild')")


def _copy_text(rows):
    """Rows in COPY's text format (the floor's rows hold no tab, newline or backslash)."""
    def cell(value):
        return "\\N" if value is None else ("t" if value is True else str(value))
    return io.StringIO("".join("\t".join(cell(value) for value in row) + "\n" for row in rows))


def _postgres_bulk(users, outcomes):
    with database.atomic():
        _create_tables("BIGSERIAL PRIMARY KEY", "VARCHAR", "BOOLEAN")
        cursor = database.cursor()
        cursor.copy_expert(f"COPY {RAW_USERS} ({', '.join(USER_COLUMNS)}) FROM STDIN", _copy_text(users))
        cursor.copy_expert(f"COPY {RAW_OUTCOMES} ({', '.join(OUTCOME_COLUMNS)}) FROM STDIN", _copy_text(outcomes))
        database.execute_sql(f"CREATE INDEX {RAW_SEARCH} ON {RAW_USERS} USING gin "
                             f"((lower(name) || E'\\n' || email) gin_trgm_ops)")


def drop_raw_tables():
    with database.atomic():
        for table in (RAW_SEARCH, RAW_OUTCOMES, RAW_USERS) if is_sqlite() else (RAW_OUTCOMES, RAW_USERS):
            database.execute_sql(f"DROP TABLE IF EXISTS {table}")
