"""The schema: teams, users, leaders, sign-in sessions, Entra connections, sync settings, sync runs and the
security event log."""
import datetime as dt

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from webapp.db import database


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Team(BaseModel):
    id = AutoField()
    name = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)


class User(BaseModel):
    """A learner account; a user belongs to at most one team."""

    id = AutoField()
    email = CharField(max_length=320, unique=True)  # always stored lower-case
    name = CharField(max_length=200, default="")
    job_title = CharField(max_length=200, default="")
    department = CharField(max_length=200, default="")
    active = BooleanField(default=True)
    team = ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    removed_from_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", backref="removed_members")
    removed_at = DateTimeField(null=True)
    password_hash = CharField(max_length=255, null=True)
    entra_tenant_id = CharField(max_length=36, null=True)
    entra_object_id = CharField(max_length=36, null=True)
    synced_by_team = ForeignKeyField(Team, null=True, on_delete="SET NULL", backref="synced_users")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "users"
        indexes = (
            (("entra_tenant_id", "entra_object_id"), True),
        )

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


class TeamLeader(BaseModel):
    team = ForeignKeyField(Team, backref="leaders", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="led_teams", on_delete="CASCADE")

    class Meta:
        indexes = ((("team", "user"), True),)


class TeamCertificate(BaseModel):
    """A key pair the portal made for a team's Enterprise App: the private key is Fernet-encrypted, never shown."""

    team = ForeignKeyField(Team, backref="certificates", on_delete="CASCADE")
    certificate_pem = TextField()
    private_key_encrypted = TextField()
    thumbprint = CharField(max_length=40)  # SHA-1, hexadecimal, as the Azure portal shows it
    expires_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)


class EntraConnection(BaseModel):
    """How a team reaches its Entra tenant; secrets are Fernet-encrypted."""

    team = ForeignKeyField(Team, unique=True, on_delete="CASCADE")
    method = CharField(max_length=20)  # "oauth" or "enterprise_app"
    tenant_id = CharField(max_length=255)
    tenant_name = CharField(max_length=255, default="")
    client_id = CharField(max_length=36, null=True)
    client_secret_encrypted = TextField(null=True)
    refresh_token_encrypted = TextField(null=True)
    connected_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    connected_at = DateTimeField(default=utcnow)
    error = TextField(null=True)  # last problem a team leader must act on
    certificate = ForeignKeyField(TeamCertificate, null=True, on_delete="SET NULL")  # else the client secret
    credential_expires_at = DateTimeField(null=True)  # the certificate's end, or the secret's as entered
    health_checked_at = DateTimeField(null=True)  # the last daily health check (a token and a read of the group)


class SyncSettings(BaseModel):
    team = ForeignKeyField(Team, unique=True, on_delete="CASCADE")
    group_id = CharField(max_length=36, null=True)
    group_name = CharField(max_length=256, default="")  # Microsoft's limit on a group's displayName
    selected_user_ids = TextField(null=True)  # JSON list of Entra ids; NULL means All Users
    auto_sync = BooleanField(default=False)
    allow_deletion = BooleanField(default=False)
    include_guests = BooleanField(default=True)  # guest accounts (#EXT#) may join the team
    next_sync_at = DateTimeField(null=True)
    failure_count = IntegerField(default=0)
    updated_at = DateTimeField(default=utcnow)
    leader_emails = BooleanField(default=True)  # email the leaders about failing runs, reviews, health, expiry


class SyncRun(BaseModel):
    """One execution of a team's sync, keyed by its RQ job id."""

    id = AutoField()
    team = ForeignKeyField(Team, backref="sync_runs", on_delete="CASCADE")
    trigger = CharField(max_length=20)  # manual, auto, confirm, person, retry
    status = CharField(max_length=20, default="queued")  # queued, running, succeeded, failed, needs_review
    mode = CharField(max_length=20, null=True)  # full, incremental or person, once the run has read Microsoft
    job_id = CharField(max_length=64, null=True, index=True)
    group_id = CharField(max_length=36, null=True)
    group_fingerprint = CharField(max_length=64, null=True)
    progress = CharField(max_length=255, default="")
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    added = IntegerField(default=0)
    created = IntegerField(default=0)
    updated = IntegerField(default=0)
    removed = IntegerField(default=0)
    skipped_other_team = IntegerField(default=0)
    skipped_disabled = IntegerField(default=0)
    graph_requests = IntegerField(default=0)
    error = TextField(null=True)
    notice = TextField(null=True)  # why a run stopped for review, in the leader's words
    interrupted = BooleanField(default=False)  # its worker stopped (restart, deploy, crash) before it finished

    class Meta:
        indexes = ((("team", "created_at"), False),)


class SyncOutcome(BaseModel):
    """What a run did, or would do, to one user."""

    run = ForeignKeyField(SyncRun, backref="outcomes", on_delete="CASCADE")
    entra_id = CharField(max_length=36, null=True)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    email = CharField(max_length=320, default="")
    name = CharField(max_length=200, default="")
    action = CharField(max_length=20)  # added, created, updated, removed, skipped, would_remove
    reason = CharField(max_length=255, default="")

    class Meta:
        indexes = ((("run", "action"), False),)


class UserSession(BaseModel):
    """A signed-in browser: its cookie holds a random token, the row only the token's SHA-256."""

    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)


class SecurityEvent(BaseModel):
    """Who did what, from where: sign-ins, connections, settings and member changes.

    `team` is the team acted on; sign-ins and sign-outs have none and name the account in `user`."""

    id = AutoField()
    created_at = DateTimeField(default=utcnow)
    action = CharField(max_length=40)
    team = ForeignKeyField(Team, null=True, on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    email = CharField(max_length=320, default="")  # who, as the account was named at the time
    client_address = CharField(max_length=64, default="")
    detail = CharField(max_length=500, default="")

    class Meta:
        indexes = ((("team", "id"), False), (("user", "id"), False))


class LeaderEmail(BaseModel):
    """One email sent to a team's leaders about one event (its key), so a retry never sends it twice."""

    team = ForeignKeyField(Team, on_delete="CASCADE")
    event = CharField(max_length=200)
    subject = CharField(max_length=255)
    sent_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("team", "event"), True),)


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    applied_at = DateTimeField(default=utcnow)


ALL_MODELS = [Team, User, TeamLeader, TeamCertificate, EntraConnection, SyncSettings, SyncRun, SyncOutcome, UserSession,
              SecurityEvent, LeaderEmail]
