"""A tenant's GUID, from the GUID itself or a domain of the tenant."""
from urllib.parse import quote

from .errors import FIELD_TENANT_ID, UnexpectedResponse, parse_json
from .http import Transport
from .validation import is_guid


def tenant_guid(authority_url: str, tenant: str, transport: Transport) -> str:
    """The tenant's GUID: a domain is resolved through its OpenID configuration, whose issuer names the GUID."""
    if is_guid(tenant):
        return tenant.lower()
    url = f"{authority_url}/{quote(tenant, safe='')}/v2.0/.well-known/openid-configuration"
    response = transport.request("GET", url, headers={"Accept": "application/json"})
    body = parse_json(response.content) if response.status_code == 200 else None
    parts = str((body or {}).get("issuer", "")).rstrip("/").split("/")
    if len(parts) < 2 or not is_guid(parts[-2]):
        raise UnexpectedResponse(status=response.status_code, field=FIELD_TENANT_ID)
    return parts[-2].lower()
