"""What the Azure Entra Sync views share: the team's settings, its Graph client and the page's context."""
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, current_app, request
from werkzeug.datastructures import MultiDict

from webapp import connections
from webapp.certificates import download_name, newest_certificate
from webapp.health import credential_expiry
from webapp.microsoft import (GraphClient, MicrosoftError, NetworkError, RetryPolicy, ServiceUnavailable, Throttled,
                              TooManyWaiting)
from webapp.microsoft.validation import is_guid
from webapp.models import EntraConnection, SyncSettings, Team
from webapp.notify import emails_on

GROUP_NAME_LIMIT = 256  # Microsoft's limit on a group's displayName
NOT_A_GROUP = "This is not a Sync Group of Microsoft Entra: choose the group from the list again."
NOT_A_USER = "A selected user is not a user of Microsoft Entra: reload the page and select the users again."


def settings_of(team: Team) -> SyncSettings:
    """The team's SyncSettings row, or an unsaved one with the defaults."""
    return SyncSettings.get_or_none(SyncSettings.team == team) or SyncSettings(team=team)


def saved_form(settings: SyncSettings) -> dict[str, Any]:
    """The settings form's values as saved."""
    selected = json.loads(settings.selected_user_ids) if settings.selected_user_ids else []
    return {"group_id": settings.group_id or "", "group_name": settings.group_name or "", "user_ids": selected,
            "auto_sync": settings.auto_sync, "allow_deletion": settings.allow_deletion,
            "include_guests": settings.include_guests}


def posted_form(values: MultiDict[str, str] | None = None) -> dict[str, Any]:
    """The settings form's values as the browser sent them (query string or body)."""
    values = values if values is not None else (request.form if request.method == "POST" else request.args)
    user_ids = list(dict.fromkeys(v.strip() for v in values.getlist("user_ids") if v.strip()))
    group_id = values.get("group_id", "").strip()
    if group_id:
        entra_id_or_400(group_id, NOT_A_GROUP)
    for user_id in user_ids:
        entra_id_or_400(user_id, NOT_A_USER)
    return {"group_id": group_id, "group_name": group_name_or_400(values.get("group_name", "")),
            "user_ids": user_ids, "auto_sync": values.get("auto_sync") == "1",
            "allow_deletion": values.get("allow_deletion") == "1", "include_guests": values.get("guests") != "exclude"}


def group_name_or_400(value: str) -> str:
    """A group's name as the page shows it; longer than Microsoft allows is refused."""
    name = value.strip()
    if len(name) > GROUP_NAME_LIMIT:
        abort(400, description=f"A group name has at most {GROUP_NAME_LIMIT} characters: choose the group again.")
    return name


def entra_id_or_400(value: str, message: str) -> str:
    """An Entra object id (a GUID), else the request is refused with `message`."""
    if not is_guid(value):
        abort(400, description=message)
    return value


def enterprise_fields(connection: EntraConnection | None) -> dict[str, str]:
    """The values the enterprise app form starts with: the saved ones, never the secret."""
    if connection is None or connection.method != connections.ENTERPRISE_APP:
        return {"tenant_id": "", "client_id": "", "secret_expires": ""}
    expires = connection.credential_expires_at if connection.certificate_id is None else None
    return {"tenant_id": connection.tenant_id, "client_id": connection.client_id or "",
            "secret_expires": f"{expires:%Y-%m-%d}" if expires else ""}


def credential_context(team: Team, connection: EntraConnection | None, chosen: str | None = None) -> dict[str, Any]:
    """The team's newest certificate, which credential the form has chosen (the certificate once the team has one,
    unless a secret is in use), the connection's expiry warning and whether leaders get emails."""
    certificate = newest_certificate(team.id)
    if chosen not in ("certificate", "secret"):
        uses_secret = connection is not None and connection.method == connections.ENTERPRISE_APP \
            and connection.certificate_id is None
        chosen = "certificate" if certificate is not None and not uses_secret else "secret"
    return {"certificate": certificate, "credential": chosen, "expiry": credential_expiry(connection),
            "certificate_file": download_name(team.id), "leader_emails": emails_on(team.id)}


def web_limits() -> dict[str, Any]:
    """How a page calls Microsoft: a person is waiting, so each call (retries included) gets at most
    MICROSOFT_WEB_TIMEOUT_SECONDS, and only while one of this process's MICROSOFT_WEB_CALLS slots is free.
    Sync runs keep the client's patient defaults in the worker."""
    seconds = current_app.config["MICROSOFT_WEB_TIMEOUT_SECONDS"]
    return {"retry": RetryPolicy(max_attempts=3, max_total_wait=seconds, base_backoff=0.5, max_backoff=2.0,
                                 deadline=seconds),
            "timeout": (min(3.05, seconds), seconds), "gate": current_app.extensions["microsoft_gate"]}


def graph_client(connection: EntraConnection) -> GraphClient:
    """A GraphClient for the team's connection, sharing its access token through Redis."""
    app = current_app
    return connections.graph_client_from_config(connection, app.extensions["secret_box"], app.config,
                                                redis=app.extensions["redis"], **web_limits())


@contextmanager
def microsoft_slot() -> Iterator[None]:
    """One of this process's slots for waiting on Microsoft, for a call made outside the Graph client (Authlib's);
    raises TooManyWaiting at once when they are all taken."""
    gate = current_app.extensions["microsoft_gate"]
    if not gate.acquire(blocking=False):
        raise TooManyWaiting()
    try:
        yield
    finally:
        gate.release()


def passing(error: Exception) -> bool:
    """Whether the error is Microsoft's passing trouble (slow, busy, unreachable), so trying again may work."""
    return isinstance(error, (NetworkError, Throttled, ServiceUnavailable))


def busy_message(error: MicrosoftError) -> str:
    """What a page says for a Microsoft error: a throttled or busy answer says how long to wait, from Retry-After."""
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, (Throttled, ServiceUnavailable)) and retry_after:
        return f"Microsoft is busy right now: try again in {math.ceil(retry_after)} s."
    return error.message


def microsoft_answered(connection: EntraConnection) -> None:
    """Microsoft accepted the connection again: forget the problem kept on it."""
    if connection.error:
        connections.clear_error(connection.id)


def microsoft_problem(connection: EntraConnection, error: MicrosoftError) -> str:
    """The plain message for a Microsoft error; errors only the leader can fix are also kept on the connection."""
    if connections.note_failure(connection, error):
        connections.forget_access_token(current_app.extensions["redis"], connection)
    return busy_message(error)


def deletion_guard() -> tuple[float, int, int]:
    """The deletion guard as a run takes it: (percent, minimum, maximum)."""
    config = current_app.config
    return config["DELETION_GUARD_PERCENT"], config["DELETION_GUARD_MINIMUM"], config["DELETION_GUARD_MAXIMUM"]


def per_page() -> int:
    return current_app.config["SYNC_USERS_PER_PAGE"]
