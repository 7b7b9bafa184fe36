"""Checks on the enterprise app form before anything is sent to Microsoft; each returns a message or None."""

import re

from .errors import FIELD_CLIENT_ID, FIELD_CLIENT_SECRET, FIELD_TENANT_ID, InvalidClientSecret

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE)
_TOP_LEVEL = re.compile(r"[a-z]{2,63}", re.IGNORECASE)
_MULTI_TENANT_ALIASES = {"common", "organizations", "consumers"}
_NIL_GUID = "00000000-0000-0000-0000-000000000000"


def is_guid(value: str) -> bool:
    """Whether `value` is a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47."""
    return bool(_GUID.fullmatch(value))


def is_domain(value: str) -> bool:
    """Whether `value` is a DNS name such as contoso.onmicrosoft.com or example.com."""
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and bool(_TOP_LEVEL.fullmatch(labels[-1]))
    )


def tenant_id_error(value: str | None) -> str | None:
    """The plain message for a Tenant ID that cannot be sent to Microsoft, else None."""
    value = (value or "").strip()
    if not value:
        return "Enter the Directory (tenant) ID."
    if value.lower() in _MULTI_TENANT_ALIASES:
        return "Enter your organisation's own Directory (tenant) ID, not \u201c" + value + "\u201d."
    if value == _NIL_GUID:
        return "Tenant not found: check the Directory (tenant) ID."
    if not (is_guid(value) or is_domain(value)):
        return "The Tenant ID is a GUID or a domain such as contoso.onmicrosoft.com."
    return None


def client_id_error(value: str | None) -> str | None:
    """The plain message for a Client ID that is not a GUID, else None."""
    value = (value or "").strip()
    if not value:
        return "Enter the Application (client) ID."
    if not is_guid(value):
        return "The Client ID is a GUID: copy the Application (client) ID from the app's Overview page."
    return None


def client_secret_error(value: str | None) -> str | None:
    """The plain message for an empty secret or a Secret ID pasted instead of the Value, else None."""
    value = (value or "").strip()
    if not value:
        return "Enter the client secret."
    if is_guid(value):
        return InvalidClientSecret.default_message
    return None


def enterprise_app_errors(tenant_id: str, client_id: str, client_secret: str) -> dict[str, str]:
    """Messages by form field for everything wrong with the three fields; empty when all are usable."""
    checks = (
        (FIELD_TENANT_ID, tenant_id_error(tenant_id)),
        (FIELD_CLIENT_ID, client_id_error(client_id)),
        (FIELD_CLIENT_SECRET, client_secret_error(client_secret)),
    )
    return {field: message for field, message in checks if message}
