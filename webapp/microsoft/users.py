"""What the sync needs from a Graph user: object id, email, names, job, department, enabled, guest."""

from typing import Any, NamedTuple

USER_FIELDS = (
    "id", "displayName", "givenName", "surname", "mail", "userPrincipalName",
    "accountEnabled", "userType", "jobTitle", "department",
)

GUEST_MARKER = "#EXT#"


class EntraUser(NamedTuple):
    """A user of the Sync Group as the sync sees it (a tuple: 100,000 of them are built per sync)."""

    object_id: str
    email: str | None
    display_name: str
    given_name: str | None
    surname: str | None
    job_title: str | None
    department: str | None
    enabled: bool
    is_guest: bool
    email_proven: bool = False  # the address is in a domain the tenant verified (its userPrincipalName's)


def _text(value: object) -> str | None:
    """A stripped string without NUL characters (no database stores them), or None for null, empty or non-string
    values."""
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    return None


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def proven(email: str | None, upn: str | None) -> bool:
    """Whether the tenant provably owns `email`: its domain is the domain of the user's userPrincipalName, which
    is always a domain the tenant verified. A guest's `#EXT#` name proves nothing; `mail` alone can be anything."""
    if not email or not upn or "@" not in email or GUEST_MARKER in upn.upper():
        return False
    return _domain(email) == _domain(upn)


def _address(mail: str | None, upn: str | None) -> str | None:
    """`mail`, else a userPrincipalName that is not a guest's `#EXT#` name (not an address)."""
    if mail:
        return mail
    if upn and GUEST_MARKER not in upn.upper():
        return upn
    return None


def to_entra_user(graph_user: dict[str, Any]) -> EntraUser:
    """Normalise one Graph user dict; an unknown `accountEnabled` counts as enabled so it never removes anyone."""
    get = graph_user.get
    given_name, surname = _text(get("givenName")), _text(get("surname"))
    upn = _text(get("userPrincipalName"))
    email = _address(_text(get("mail")), upn)
    display_name = (_text(get("displayName")) or " ".join(part for part in (given_name, surname) if part)
                    or email or graph_user["id"])
    is_guest = get("userType") == "Guest" or (upn is not None and GUEST_MARKER in upn.upper())
    return EntraUser(graph_user["id"], email, display_name, given_name, surname, _text(get("jobTitle")),
                     _text(get("department")), get("accountEnabled") is not False, is_guest, proven(email, upn))
