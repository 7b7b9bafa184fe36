"""Loading tenants, apps and consent from a JSON data file (--data)."""

from __future__ import annotations

import time

from fake_entra.directory import App, Directory, Secret, Tenant, make_group, make_user

# The file's shape, so a data set can be written by hand:
# {"tenants": [{"id", "domain", "name", "users": [{Graph properties, "password"?, "admin"?}],
#               "groups": [{Graph properties, "members": [object ids]}],
#               "objects": [{"@odata.type": orgContact | device | servicePrincipal, "id", "displayName", ...}]}],
#  "apps": [{"client_id", "display_name", "home_tenant_id", "multi_tenant"?, "redirect_uris"?,
#            "secrets": [{"secret_id", "value", "expires_in_days"}], "delegated_permissions"?,
#            "application_permissions"?}],
#  "consents": [{"tenant_id", "client_id", "application"?, "delegated"?}]}

DAY = 86400.0


def load_data(directory: Directory, data: dict) -> None:
    """Add the file's tenants, then apps, then consent grants (shape in the module comment)."""
    for spec in data.get("tenants", []):
        tenant = directory.add_tenant(Tenant(spec["id"], spec["domain"], spec.get("name", spec["domain"])))
        for user in spec.get("users", []):
            props = {k: v for k, v in user.items() if k not in ("id", "displayName", "userPrincipalName",
                                                                "password", "admin")}
            tenant.add_user(make_user(user["id"], user["displayName"], user["userPrincipalName"], **props),
                            user.get("password"), bool(user.get("admin")))
        for obj in spec.get("objects", []):
            tenant.add_other(dict(obj))
        for group in spec.get("groups", []):
            props = {k: v for k, v in group.items() if k not in ("id", "displayName", "members")}
            tenant.add_group(make_group(group["id"], group["displayName"], **props))
        for group in spec.get("groups", []):
            for member_id in group.get("members", []):
                tenant.add_member(group["id"], member_id)
    for spec in data.get("apps", []):
        secrets = [Secret(s["secret_id"], s["value"], time.time() + float(s.get("expires_in_days", 365)) * DAY)
                   for s in spec.get("secrets", [])]
        directory.add_app(App(spec["client_id"], spec.get("display_name", spec["client_id"]), spec["home_tenant_id"],
                              multi_tenant=bool(spec.get("multi_tenant")),
                              redirect_uris=list(spec.get("redirect_uris", [])), secrets=secrets,
                              delegated_permissions=set(spec.get("delegated_permissions", [])),
                              application_permissions=set(spec.get("application_permissions", []))))
    for grant in data.get("consents", []):
        consent = directory.require_tenant(grant["tenant_id"]).consent_for(grant["client_id"])
        consent.application |= set(grant.get("application", []))
        consent.delegated |= set(grant.get("delegated", []))
