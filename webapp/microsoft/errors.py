"""Typed errors raised by the Microsoft client, each with a message a team leader can act on."""

import json
import re
from typing import Any

FIELD_TENANT_ID = "tenant_id"
FIELD_CLIENT_ID = "client_id"
FIELD_CLIENT_SECRET = "client_secret"


class MicrosoftError(Exception):
    """Base class: `message` is plain language, never a secret, a token or a raw response body."""

    default_message = "Microsoft returned an unexpected answer."
    default_field: str | None = None

    def __init__(self, message: str | None = None, *, field: str | None = None, code: str | None = None,
                 status: int | None = None, request_id: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field or self.default_field
        self.code = code
        self.status = status
        self.request_id = request_id
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, field={self.field!r})"


class InvalidClientSecret(MicrosoftError):
    """The client secret was refused (AADSTS7000215)."""

    default_message = "The client secret is wrong. Paste the secret's Value, not its Secret ID."
    default_field = FIELD_CLIENT_SECRET


class ExpiredClientSecret(MicrosoftError):
    """The client secret has expired (AADSTS7000222)."""

    default_message = "The client secret has expired: create a new one in Certificates & secrets."
    default_field = FIELD_CLIENT_SECRET


class CertificateRefused(MicrosoftError):
    """The app does not hold the certificate, or it has expired (AADSTS700027, 700024)."""

    default_message = ("Microsoft does not accept this team's certificate for the app: add it to the app (run "
                       "python -m entra_setup --certificate with the downloaded file) or make a new one.")
    default_field = "credential"


class ApplicationNotInTenant(MicrosoftError):
    """No application with this client id in the tenant (AADSTS700016)."""

    default_message = "No application with this Client ID exists in this tenant."
    default_field = FIELD_CLIENT_ID


class TenantNotFound(MicrosoftError):
    """The tenant does not exist (AADSTS90002)."""

    default_message = "Tenant not found: check the Directory (tenant) ID."
    default_field = FIELD_TENANT_ID


class ConsentRequired(MicrosoftError):
    """An administrator has not consented to the application (AADSTS65001)."""

    default_message = "An administrator must grant consent."


class ConnectionExpired(MicrosoftError):
    """The authorization code or refresh token is expired, reused or revoked (invalid_grant)."""

    default_message = "The Microsoft connection has expired: reconnect."


class TokenRejected(MicrosoftError):
    """Graph refused a freshly issued access token (401 twice)."""

    default_message = (
        "Microsoft did not accept the connection's access token: reconnect, or check the app's credentials."
    )


class PermissionDenied(MicrosoftError):
    """Graph answered 403: the application lacks a permission."""

    def __init__(self, permission: str, **kwargs: Any) -> None:
        self.permission = permission
        noun = "permissions" if " and " in permission else "permission"
        message = (
            f"Microsoft refused access: an administrator must grant the app the {permission} "
            f"{noun} (with admin consent)."
        )
        super().__init__(message, **kwargs)


class GroupNotFound(MicrosoftError):
    """Graph answered 404 for a group."""

    default_message = (
        "The group was not found in Microsoft Entra ID: it may have been deleted. Choose another Sync Group."
    )


class DeltaExpired(MicrosoftError):
    """The stored delta link is no longer valid: a full sync is needed."""

    default_message = "Microsoft no longer knows the last change-tracking point: a full sync is needed."


class Throttled(MicrosoftError):
    """Graph kept answering 429 until the retry budget ran out."""

    default_message = "Microsoft is limiting requests from this app right now: try again in a few minutes."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServiceUnavailable(MicrosoftError):
    """Microsoft kept answering 500, 502, 503 or 504 until the retry budget ran out."""

    default_message = "Microsoft is temporarily unavailable: try again in a few minutes."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class NetworkError(MicrosoftError):
    """Microsoft could not be reached (connection refused, DNS failure, timeout)."""

    default_message = "Microsoft could not be reached; try again in a few minutes."


class SlowToAnswer(NetworkError):
    """Microsoft did not answer within the time the caller allows (a person waiting on a page allows a few seconds)."""

    default_message = "Microsoft is slow to answer right now: try again in a minute."


class TooManyWaiting(SlowToAnswer):
    """So many requests already wait on a slow Microsoft that this one was not sent."""

    default_message = ("Microsoft is slow to answer right now, and other requests are already waiting on it: "
                       "try again in a minute.")


class IncompleteListing(MicrosoftError):
    """A listing ended with fewer entries than the `@odata.count` Microsoft reported on its first page."""

    def __init__(self, reported: int, listed: int) -> None:
        super().__init__(
            f"Microsoft reported {reported:,} group members but listed only {listed:,}, so this sync removed "
            "nobody. This is usually a passing fault at Microsoft: the next run reads the group again.",
            status=200, code="incompleteListing")
        self.reported, self.listed = reported, listed


class MembershipMismatch(MicrosoftError):
    """The group's listing holds more users than Microsoft's own member list of the group explains by a lag."""

    def __init__(self, listed: int, missing: int) -> None:
        super().__init__(
            f"Microsoft listed {listed:,} users in the group, but its member list no longer holds {missing:,} of "
            "them, so this sync removed nobody. This is usually a passing fault at Microsoft, or many changes "
            "made a moment ago: the next run reads the group again.",
            status=200, code="membershipMismatch")
        self.listed, self.missing = listed, missing


class UnexpectedResponse(MicrosoftError):
    """Any other answer: the code is kept for the logs, the body is not."""


_AADSTS = re.compile(r"AADSTS(\d+)")

_TOKEN_ERRORS_BY_CODE: dict[int, type[MicrosoftError]] = {
    7000215: InvalidClientSecret,
    7000222: ExpiredClientSecret,
    700027: CertificateRefused,
    700016: ApplicationNotInTenant,
    90002: TenantNotFound,
    65001: ConsentRequired,
    70008: ConnectionExpired,
    700082: ConnectionExpired,
}

_TOKEN_ERRORS_BY_NAME: dict[str, type[MicrosoftError]] = {
    "invalid_client": InvalidClientSecret,
    "unauthorized_client": ApplicationNotInTenant,
    "invalid_tenant": TenantNotFound,
    "consent_required": ConsentRequired,
    "invalid_grant": ConnectionExpired,
    "interaction_required": ConnectionExpired,
}


def parse_json(content: bytes | str) -> Any:
    """Decode a JSON body, or return None when it is not JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return None


def aadsts_codes(body: dict[str, Any]) -> list[int]:
    """The AADSTS numbers of a token endpoint error body, from error_codes or the description."""
    codes = [code for code in body.get("error_codes") or () if isinstance(code, int)]
    if not codes:
        codes = [int(code) for code in _AADSTS.findall(str(body.get("error_description") or ""))]
    return codes


def token_error(status: int, content: bytes) -> MicrosoftError:
    """Translate a token endpoint error response into a typed error (by its AADSTS code)."""
    body = parse_json(content)
    if not isinstance(body, dict):
        return UnexpectedResponse(status=status)
    codes = aadsts_codes(body)
    error = str(body.get("error") or "")
    request_id = body.get("trace_id")
    code = f"AADSTS{codes[0]}" if codes else error or None
    if body.get("suberror") == "consent_required":
        return ConsentRequired(code=code, status=status, request_id=request_id)
    for number in codes:
        if number in _TOKEN_ERRORS_BY_CODE:
            return _TOKEN_ERRORS_BY_CODE[number](code=code, status=status, request_id=request_id)
    error_class = _TOKEN_ERRORS_BY_NAME.get(error, UnexpectedResponse)
    return error_class(code=code, status=status, request_id=request_id)


def graph_error_code(content: bytes) -> tuple[str | None, str | None]:
    """The `error.code` and request id of a Graph error body, or (None, None)."""
    body = parse_json(content)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None, None
    error = body["error"]
    inner = error.get("innerError") or error.get("innererror") or {}
    return error.get("code"), inner.get("request-id") if isinstance(inner, dict) else None
