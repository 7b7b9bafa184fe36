"""What the sync needs from a Graph user: object id, email, names, job, department, enabled, guest."""

from dataclasses import dataclass

USER_FIELDS = (
    "id", "displayName", "givenName", "surname", "mail", "userPrincipalName",
    "accountEnabled", "userType", "jobTitle", "department",
)

GUEST_MARKER = "#EXT#"


@dataclass(frozen=True, slots=True)
class EntraUser:
    """A user of the Sync Group as the sync sees it."""

    object_id: str
    email: str | None
    display_name: str
    given_name: str | None
    surname: str | None
    job_title: str | None
    department: str | None
    enabled: bool
    is_guest: bool


def _text(value):
    """A stripped string, or None for null, empty or non-string values."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def user_email(graph_user):
    """`mail`, else `userPrincipalName` unless it is a guest's `#EXT#` name, which is not an address."""
    mail = _text(graph_user.get("mail"))
    if mail:
        return mail
    upn = _text(graph_user.get("userPrincipalName"))
    if upn and GUEST_MARKER not in upn.upper():
        return upn
    return None


def to_entra_user(graph_user):
    """Normalise one Graph user dict; an unknown `accountEnabled` counts as enabled so it never removes anyone."""
    given_name = _text(graph_user.get("givenName"))
    surname = _text(graph_user.get("surname"))
    email = user_email(graph_user)
    full_name = " ".join(part for part in (given_name, surname) if part)
    upn = _text(graph_user.get("userPrincipalName")) or ""
    return EntraUser(
        object_id=graph_user["id"],
        email=email,
        display_name=_text(graph_user.get("displayName")) or full_name or email or graph_user["id"],
        given_name=given_name,
        surname=surname,
        job_title=_text(graph_user.get("jobTitle")),
        department=_text(graph_user.get("department")),
        enabled=graph_user.get("accountEnabled") is not False,
        is_guest=graph_user.get("userType") == "Guest" or GUEST_MARKER in upn.upper(),
    )
