"""Create Your Own Enterprise App: check the three fields, try them on Microsoft, then save them (Load Groups)."""
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from flask import Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from entra_setup.powershell import script
from webapp import connections
from webapp.certificates import client_certificate, download_name, make_certificate, newest_certificate
from webapp.events import record_event
from webapp.microsoft import AppOnlyTokenProvider, MicrosoftError, Transport, enterprise_app_errors, tenant_guid
from webapp.microsoft.clients import graph_client
from webapp.microsoft.validation import is_domain
from webapp.models import Team
from webapp.sync import PAGE, bp
from webapp.sync.context import (busy_message, credential_context, enterprise_fields, saved_form, settings_of,
                                 web_limits)
from webapp.teams import leader_required

GROUPS_SHOWN = 25
log = logging.getLogger(__name__)


def _tenant_name(tenant: str, groups: Iterable[dict[str, Any]]) -> str:
    """A readable name for the tenant: the domain typed in, else the domain of a mail-enabled group."""
    if is_domain(tenant):
        return tenant.lower()
    for group in groups:
        if group.get("mail") and "@" in group["mail"]:
            return group["mail"].rsplit("@", 1)[1].lower()
    return tenant


def render_connection(team: Team, **context: Any) -> str:
    connection = connections.connection_of(team.id)
    context.setdefault("fields", enterprise_fields(connection))
    context.setdefault("ea_errors", {})
    context.update(credential_context(team, connection, context.get("credential")))
    return render_template("sync/_connection.html", team=team, connection=connection, **context)


def _secret_expiry(value: str) -> tuple[dt.datetime | None, str | None]:
    """The secret's end date as entered (YYYY-MM-DD, optional): (datetime or None, error or None)."""
    if not value:
        return None, None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d"), None
    except ValueError:
        return None, "Enter the date the secret expires as YYYY-MM-DD (the set-up command prints it)."


@bp.post(PAGE + "/enterprise-app")
@leader_required
def load_groups(team: Team) -> ResponseReturnValue:
    """Validate, get a token and the first groups with the entered app; save it only if Microsoft accepts it."""
    connection = connections.connection_of(team.id)
    fields = {"tenant_id": request.form.get("tenant_id", "").strip(),
              "client_id": request.form.get("client_id", "").strip(),
              "secret_expires": request.form.get("secret_expires", "").strip()}
    box = current_app.extensions["secret_box"]
    certificate = newest_certificate(team.id) if request.form.get("credential") == "certificate" else None
    secret = request.form.get("client_secret", "").strip()
    kept = connection if (certificate is None and not secret and connection is not None
                          and connection.method == connections.ENTERPRISE_APP
                          and connection.client_secret_encrypted is not None) else None
    keeps_secret = kept is not None
    secret_to_try = box.decrypt(kept.client_secret_encrypted) if kept is not None else secret
    errors = enterprise_app_errors(fields["tenant_id"], fields["client_id"],
                                   secret_to_try if certificate is None else "certificate")
    if request.form.get("credential") == "certificate" and certificate is None:
        errors["credential"] = "Make a certificate first, and add it to your app with the set-up command."
    expires_at, expiry_problem = _secret_expiry(fields["secret_expires"]) if certificate is None else (None, None)
    if expiry_problem:
        errors["secret_expires"] = expiry_problem
    if not errors:
        authority = current_app.config["ENTRA_AUTHORITY_URL"]
        credential = client_certificate(certificate, box) if certificate else None
        graph = graph_client(current_app.config["GRAPH_API_URL"], lambda transport: AppOnlyTokenProvider(
            authority, fields["tenant_id"], fields["client_id"], None if certificate else secret_to_try,
            transport=transport, certificate=credential), **web_limits())
        try:
            groups = graph.search_groups("", GROUPS_SHOWN)
            tenant_id = tenant_guid(authority, fields["tenant_id"], Transport(**web_limits()))
        except MicrosoftError as error:
            log.info("Enterprise app of team %s refused: %r", team.id, error)
            field = error.field if error.field != "client_secret" or certificate is None else "credential"
            errors = {field or "form": busy_message(error)}
    if errors:
        return render_connection(team, fields=fields, ea_errors=errors, show_enterprise=True,
                                 credential=request.form.get("credential", "secret")), 422
    if kept is not None and expires_at is None:
        expires_at = kept.credential_expires_at
    connections.save_enterprise_app(team.id, tenant_id, fields["client_id"],
                                    None if keeps_secret else secret, box,
                                    tenant_name=_tenant_name(fields["tenant_id"], groups),
                                    connected_by=current_user.id, certificate=certificate, expires_at=expires_at)
    record_event("connected", team.id, detail=f"Enterprise app {fields['client_id']}, tenant {tenant_id}, "
                                              f"{'certificate ' + certificate.thumbprint if certificate else 'secret'}")
    settings = render_template("sync/_settings.html", team=team, connection=connections.connection_of(team.id),
                               form=saved_form(settings_of(team)), errors={}, oob=True, groups=groups,
                               search="", limit=GROUPS_SHOWN)
    return render_connection(team, show_enterprise=True) + settings


@bp.post(PAGE + "/certificate")
@leader_required
def make_team_certificate(team: Team) -> str:
    """Make a new key pair for the team's Enterprise App; the one in use keeps working until Load Groups."""
    row = make_certificate(team.id, current_app.extensions["secret_box"])
    record_event("certificate_made", team.id, detail=f"Certificate {row.thumbprint}, expires {row.expires_at:%Y-%m-%d}")
    return render_connection(team, show_enterprise=True, credential="certificate")


@bp.get(PAGE + "/certificate.pem")
@leader_required
def download_certificate(team: Team) -> Response:
    """The public certificate, to give the set-up command (or upload in the Azure portal); never the key."""
    row = newest_certificate(team.id)
    if row is None:
        abort(404, description="This team has no certificate yet: make one on the Azure Entra Sync page.")
    return Response(row.certificate_pem, mimetype="application/x-pem-file",
                    headers={"Content-Disposition": f'attachment; filename="{download_name(team.id)}"'})


@bp.get(PAGE + "/register-app.ps1")
@leader_required
def powershell_script(team: Team) -> Response:
    """The Microsoft Graph PowerShell script doing the guide's steps 1-5, for an administrator to run."""
    return Response(script(), mimetype="text/plain",
                    headers={"Content-Disposition": 'attachment; filename="register-entra-team-sync-app.ps1"'})
