"""Create Your Own Enterprise App: check the three fields, try them on Microsoft, then save them (Load Groups)."""
import logging
from urllib.parse import quote

from flask import current_app, render_template, request
from flask_login import current_user

from webapp import connections
from webapp.events import record_event
from webapp.microsoft import (AppOnlyTokenProvider, GraphClient, MicrosoftError, Transport, UnexpectedResponse,
                              enterprise_app_errors)
from webapp.microsoft.errors import FIELD_TENANT_ID, parse_json
from webapp.microsoft.validation import is_domain, is_guid
from webapp.sync import PAGE, bp
from webapp.sync.context import busy_message, enterprise_fields, saved_form, settings_of, web_limits
from webapp.teams import leader_required

GROUPS_SHOWN = 25
log = logging.getLogger(__name__)


def _tenant_name(tenant, groups):
    """A readable name for the tenant: the domain typed in, else the domain of a mail-enabled group."""
    if is_domain(tenant):
        return tenant.lower()
    for group in groups:
        if group.get("mail") and "@" in group["mail"]:
            return group["mail"].rsplit("@", 1)[1].lower()
    return tenant


def tenant_guid(authority_url, tenant, transport):
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


def render_connection(team, **context):
    connection = connections.connection_of(team.id)
    context.setdefault("fields", enterprise_fields(connection))
    context.setdefault("ea_errors", {})
    return render_template("sync/_connection.html", team=team, connection=connection, **context)


@bp.post(PAGE + "/enterprise-app")
@leader_required
def load_groups(team):
    """Validate, get a token and the first groups with the entered app; save it only if Microsoft accepts it."""
    connection = connections.connection_of(team.id)
    fields = {"tenant_id": request.form.get("tenant_id", "").strip(),
              "client_id": request.form.get("client_id", "").strip()}
    secret = request.form.get("client_secret", "").strip()
    keeps_secret = (not secret and connection is not None and connection.method == connections.ENTERPRISE_APP
                    and connection.client_secret_encrypted is not None)
    box = current_app.extensions["secret_box"]
    secret_to_try = box.decrypt(connection.client_secret_encrypted) if keeps_secret else secret
    errors = enterprise_app_errors(fields["tenant_id"], fields["client_id"], secret_to_try)
    if not errors:
        authority = current_app.config["ENTRA_AUTHORITY_URL"]
        transport = Transport(**web_limits())
        provider = AppOnlyTokenProvider(authority, fields["tenant_id"], fields["client_id"], secret_to_try,
                                        transport=transport)
        graph = GraphClient(current_app.config["GRAPH_API_URL"], provider, transport=Transport(**web_limits()))
        try:
            groups = graph.search_groups("", GROUPS_SHOWN)
            tenant_id = tenant_guid(authority, fields["tenant_id"], transport)
        except MicrosoftError as error:
            log.info("Enterprise app of team %s refused: %r", team.id, error)
            errors = {error.field or "form": busy_message(error)}
    if errors:
        return render_connection(team, fields=fields, ea_errors=errors, show_enterprise=True), 422
    connections.save_enterprise_app(team.id, tenant_id, fields["client_id"],
                                    None if keeps_secret else secret, box,
                                    tenant_name=_tenant_name(fields["tenant_id"], groups),
                                    connected_by=current_user.id)
    record_event("connected", team.id, detail=f"Enterprise app {fields['client_id']}, tenant {tenant_id}")
    settings = render_template("sync/_settings.html", team=team, connection=connections.connection_of(team.id),
                               form=saved_form(settings_of(team)), errors={}, oob=True, groups=groups,
                               search="", limit=GROUPS_SHOWN)
    return render_connection(team, show_enterprise=True) + settings

