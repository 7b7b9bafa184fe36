"""A team's Entra connection: stored with encrypted secrets, and the Graph client it gives (no Flask: the worker
uses it)."""
import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import redis

from webapp.certificates import client_certificate
from webapp.crypto import SecretBox
from webapp.db import database
from webapp.microsoft import (AppOnlyTokenProvider, ApplicationNotInTenant, CertificateRefused, ConnectionExpired,
                              ConsentRequired, DelegatedTokenProvider, ExpiredClientSecret, GraphClient,
                              InvalidClientSecret, PermissionDenied, TenantNotFound, TokenRejected, Transport)
from webapp.microsoft.clients import graph_client
from webapp.microsoft.tokens import TokenProvider
from webapp.models import EntraConnection, SyncSettings, TeamCertificate, utcnow

OAUTH = "oauth"
ENTERPRISE_APP = "enterprise_app"

# Errors only a team leader can fix (reconnect, new secret, consent): they are kept on the connection.
NEEDS_LEADER = (ConnectionExpired, TokenRejected, InvalidClientSecret, ExpiredClientSecret, ApplicationNotInTenant,
                TenantNotFound, ConsentRequired, PermissionDenied, CertificateRefused)


def connection_of(team_id: int) -> EntraConnection | None:
    """The team's EntraConnection, or None."""
    return EntraConnection.get_or_none(EntraConnection.team == team_id)


def portal_app(config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(client id, client secret) of the portal's own app registration, or (None, None)."""
    if config.get("MS_CLIENT_ID"):
        return config["MS_CLIENT_ID"], config.get("MS_CLIENT_SECRET")
    return None, None


def clear_sync_group(team_id: int) -> None:
    """Forget the Sync Group and its user selection (the group belongs to a tenant no longer connected)."""
    SyncSettings.update(group_id=None, group_name="", selected_user_ids=None,
                        updated_at=utcnow()).where(SyncSettings.team == team_id).execute()


def _replace(team_id: int, tenant_id: str, values: dict[str, Any]) -> EntraConnection | None:
    """Create or overwrite the team's connection; another tenant than before clears the Sync Group."""
    values.update(tenant_id=tenant_id, connected_at=utcnow(), error=None)
    with database.atomic():
        old = connection_of(team_id)
        if old is None:
            EntraConnection.create(team=team_id, **values)
        else:
            if old.tenant_id.lower() != tenant_id.lower():
                clear_sync_group(team_id)
            EntraConnection.update(**values).where(EntraConnection.id == old.id).execute()
    return connection_of(team_id)


def save_oauth(team_id: int, tenant_id: str, tenant_name: str, refresh_token: str, secret_box: SecretBox,
               connected_by: int | None = None) -> EntraConnection | None:
    """Store a "Connect Microsoft OAuth" connection; `tenant_id` must come from a validated id_token."""
    return _replace(team_id, tenant_id, {
        "method": OAUTH, "tenant_name": tenant_name, "client_id": None, "client_secret_encrypted": None,
        "refresh_token_encrypted": secret_box.encrypt(refresh_token), "connected_by": connected_by})


def save_enterprise_app(team_id: int, tenant_id: str, client_id: str, client_secret: str | None, secret_box: SecretBox,
                        tenant_name: str = "", connected_by: int | None = None,
                        certificate: TeamCertificate | None = None,
                        expires_at: dt.datetime | None = None) -> EntraConnection | None:
    """Store a "Create Your Own Enterprise App" connection, proven by the team's `certificate` or by the client
    secret (a None secret keeps the one already saved); `expires_at` is when the credential ends, if known."""
    values = {"method": ENTERPRISE_APP, "tenant_name": tenant_name, "client_id": client_id,
              "refresh_token_encrypted": None, "connected_by": connected_by, "certificate": certificate,
              "credential_expires_at": certificate.expires_at if certificate is not None else expires_at}
    if certificate is not None:
        values["client_secret_encrypted"] = None
    elif client_secret is not None:
        values["client_secret_encrypted"] = secret_box.encrypt(client_secret)
    return _replace(team_id, tenant_id, values)


def disconnect(team_id: int) -> None:
    """Remove the team's connection and, with it, the Sync Group chosen in that tenant."""
    with database.atomic():
        EntraConnection.delete().where(EntraConnection.team == team_id).execute()
        clear_sync_group(team_id)


def mark_error(connection_id: int, message: str) -> None:
    """Record a problem the team leader must act on (shown on the page until cleared)."""
    EntraConnection.update(error=message).where(EntraConnection.id == connection_id).execute()


def clear_error(connection_id: int) -> None:
    EntraConnection.update(error=None).where(EntraConnection.id == connection_id).execute()


def note_failure(connection: EntraConnection | None, error: Exception) -> bool:
    """Mark the connection (if any) when `error` needs the leader (expired consent, bad secret...); True if it did."""
    if connection is not None and isinstance(error, NEEDS_LEADER):
        mark_error(connection.id, error.message)
        return True
    return False


def store_refresh_token(connection_id: int, refresh_token: str, secret_box: SecretBox) -> None:
    """Keep the newest refresh token (every refresh rotates it) encrypted."""
    EntraConnection.update(refresh_token_encrypted=secret_box.encrypt(refresh_token)).where(
        EntraConnection.id == connection_id).execute()


def rotate_stored_secrets(secret_box: SecretBox) -> int:
    """Re-encrypt every stored secret, refresh token and private key with the box's first key, all or nothing;
    how many. A value rewritten meanwhile (a refresh token renewed by a sync) is left as its writer stored it."""
    encrypted = ((EntraConnection, ("client_secret_encrypted", "refresh_token_encrypted")),
                 (TeamCertificate, ("private_key_encrypted",)))
    count = 0
    with database.atomic():
        for model, names in encrypted:
            for row in model.select():
                for name in names:
                    value = getattr(row, name)
                    if value:
                        field = getattr(model, name)
                        count += model.update({field: secret_box.rotate(value)}).where(
                            (model.id == row.id) & (field == value)).execute()
    return count


def _token_provider(connection: EntraConnection, secret_box: SecretBox, authority_url: str,
                    portal_client_id: str | None, portal_client_secret: str | None,
                    transport: Transport | None) -> TokenProvider:
    """A fresh provider built from the row as it is in the database now."""
    row = EntraConnection.get_by_id(connection.id)
    if row.method == ENTERPRISE_APP and row.certificate_id is not None:
        return AppOnlyTokenProvider(authority_url, row.tenant_id, row.client_id, transport=transport,
                                    certificate=client_certificate(row.certificate, secret_box))
    if row.method == ENTERPRISE_APP:
        return AppOnlyTokenProvider(authority_url, row.tenant_id, row.client_id,
                                    secret_box.decrypt(row.client_secret_encrypted), transport=transport)
    if not portal_client_id:
        raise RuntimeError("MS_CLIENT_ID is not configured")
    return DelegatedTokenProvider(
        authority_url, portal_client_id, portal_client_secret, secret_box.decrypt(row.refresh_token_encrypted),
        lambda token: store_refresh_token(row.id, token, secret_box), tenant=row.tenant_id, transport=transport)


def token_key(connection: EntraConnection) -> str:
    """Redis key of the shared access token; it changes whenever the connection is saved again."""
    fingerprint = f"{connection.id}|{connection.method}|{connection.tenant_id}|{connection.client_id}|" \
                  f"{connection.connected_at.isoformat()}|{connection.certificate_id}"
    return "entra:access-token:" + hashlib.sha256(fingerprint.encode()).hexdigest()[:32]


def forget_access_token(redis: redis.Redis, connection: EntraConnection) -> None:
    """Drop the shared access token, so the next request gets one with the permissions granted since."""
    redis.delete(token_key(connection))


def graph_client_for(connection: EntraConnection, secret_box: SecretBox, authority_url: str, graph_url: str, *,
                     portal_client_id: str | None = None, portal_client_secret: str | None = None,
                     redis: redis.Redis | None = None, **limits: Any) -> GraphClient:
    """A GraphClient for the connection (app-only or delegated); with `redis`, processes share its access token.
    `limits` (retry, timeout, gate, session) are microsoft.graph_client's."""
    def make_provider(transport: Transport | None) -> TokenProvider:
        return _token_provider(connection, secret_box, authority_url, portal_client_id, portal_client_secret,
                               transport)

    shared = None if redis is None else (redis, token_key(connection), secret_box)
    return graph_client(graph_url, make_provider, shared=shared, **limits)


def graph_client_from_config(connection: EntraConnection, secret_box: SecretBox, config: Mapping[str, Any],
                             redis: redis.Redis | None = None, **kwargs: Any) -> GraphClient:
    """graph_client_for with the URLs and the portal app taken from the app's settings."""
    client_id, client_secret = portal_app(config)
    return graph_client_for(connection, secret_box, config["ENTRA_AUTHORITY_URL"], config["GRAPH_API_URL"],
                            portal_client_id=client_id, portal_client_secret=client_secret, redis=redis, **kwargs)
