"""The page itself, Save, Sync and Disconnect."""
import json
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from htmx_flask import request as htmx_request

from webapp import connections
from webapp.db import database
from webapp.engine.lifecycle import active_run, queue_run
from webapp.events import record_event
from webapp.events.settings import settings_change
from webapp.microsoft import MicrosoftError
from webapp.models import EntraConnection, SyncSettings, Team, utcnow
from webapp.runs import panel_state
from webapp.sync import PAGE, bp
from webapp.sync.context import (credential_context, enterprise_fields, graph_client, microsoft_problem, posted_form,
                                 saved_form, settings_of)
from webapp.sync.preview import needs_preview, preview
from webapp.teams import leader_required

OAUTH_MESSAGE = "entra_oauth_message"


def render_page(team: Team, **context: Any) -> str:
    connection = connections.connection_of(team.id)
    context.setdefault("form", saved_form(settings_of(team)))
    context.setdefault("errors", {})
    context.setdefault("fields", enterprise_fields(connection))
    context.setdefault("ea_errors", {})
    context.update(credential_context(team, connection, context.get("credential")))
    return render_template("sync/index.html", team=team, connection=connection, panel=panel_state(team.id),
                           oauth_message=session.pop(OAUTH_MESSAGE, None), **context)


@bp.get(PAGE + "/")
@leader_required
def index(team: Team) -> str:
    return render_page(team)


def _settings_fragment(team: Team, form: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200,
                       **context: Any) -> tuple[str, int]:
    connection = connections.connection_of(team.id)
    return render_template("sync/_settings.html", team=team, connection=connection, form=form,
                           errors=errors or {}, **context), status


def _checked_group(team: Team, connection: EntraConnection, form: dict[str, Any]) -> tuple[str | None, str | None]:
    """The group's name as Graph has it, or an error message; checked only when the group changes."""
    saved = settings_of(team)
    if not form["group_id"] or form["group_id"] == saved.group_id:
        return saved.group_name if form["group_id"] else "", None
    try:
        return graph_client(connection).get_group(form["group_id"])["displayName"], None
    except MicrosoftError as error:
        return None, microsoft_problem(connection, error)


def save_settings(team: Team, form: dict[str, Any]) -> str | None:
    """Store group, selection and checkboxes; returns an error message or None."""
    connection = connections.connection_of(team.id)
    if connection is None:
        return "Connect your Microsoft 365 tenant first."
    name, problem = _checked_group(team, connection, form)
    if problem:
        return problem
    values = {"group_id": form["group_id"] or None, "group_name": name or "",
              "selected_user_ids": json.dumps(form["user_ids"]) if form["user_ids"] and form["group_id"] else None,
              "auto_sync": form["auto_sync"], "allow_deletion": form["allow_deletion"],
              "include_guests": form["include_guests"], "updated_at": utcnow()}
    change = settings_change(settings_of(team), values)
    with database.atomic():
        if SyncSettings.update(**values).where(SyncSettings.team == team).execute() == 0:
            SyncSettings.create(team=team, **values)
    if change:
        record_event("sync_settings_changed", team.id, detail=change)
    form["group_name"] = name or ""
    return None


def _preview_first(team: Team, form: dict[str, Any], action: str) -> tuple[str, int] | None:
    """The settings fragment with what the next run will do, when the page asks for it (its form does), saving `form`
    changes who is added or removed, and the leader has not confirmed it yet; else None."""
    connection = connections.connection_of(team.id)
    asked = request.form.get("preview") == "1" and request.form.get("confirmed") != "1"
    if connection is None or not asked or not needs_preview(settings_of(team), form):
        return None
    name, problem = _checked_group(team, connection, form)
    if problem:
        return _settings_fragment(team, form, {"form": problem}, 422)
    form["group_name"] = name
    try:
        shown = preview(team, connection, form)
    except MicrosoftError as error:
        return _settings_fragment(team, form, {"form": microsoft_problem(connection, error)}, 422)
    return _settings_fragment(team, form, preview=shown, preview_action=action)


@bp.post(PAGE + "/")
@leader_required
def save(team: Team) -> ResponseReturnValue:
    form = posted_form()
    first = _preview_first(team, form, "sync.save")
    if first is not None:
        return first
    problem = save_settings(team, form)
    if problem:
        return _settings_fragment(team, form, {"form": problem}, 422)
    if not htmx_request.htmx:
        return redirect(url_for("sync.index", team_id=team.id), code=303)
    return _settings_fragment(team, saved_form(settings_of(team)), saved=True)


@bp.post(PAGE + "/sync")
@leader_required
def sync_now(team: Team) -> ResponseReturnValue:
    """Save what the form shows, then start a sync (or show the one already running)."""
    form = posted_form()
    first = _preview_first(team, form, "sync.sync_now")
    if first is not None:
        return first
    problem = save_settings(team, form)
    if not problem and not form["group_id"]:
        problem = "Choose a Sync Group first."
    if problem:
        return _settings_fragment(team, form, {"form": problem}, 422)
    running = active_run(team.id)
    run = queue_run(team.id, "manual", current_app.extensions["redis"])
    if running is not None and run.id == running.id:
        notice = "A sync is already running for this team: its progress is shown below."
    else:
        notice = "Sync started: its progress is shown below."
    if not htmx_request.htmx:
        flash(notice)
        return _back_to_page(team)
    settings, status = _settings_fragment(team, saved_form(settings_of(team)))
    panel = render_template("runs/_panel.html", team=team, panel=panel_state(team.id), notice=notice, oob=True)
    return settings + panel, status, {"HX-Trigger": "sync-started"}


@bp.post(PAGE + "/disconnect")
@leader_required
def disconnect(team: Team) -> ResponseReturnValue:
    connections.disconnect(team.id)
    record_event("disconnected", team.id)
    flash("Disconnected from Microsoft. Connect again to choose a Sync Group.")
    return _back_to_page(team)


def _back_to_page(team: Team) -> ResponseReturnValue:
    target = url_for("sync.index", team_id=team.id)
    if htmx_request.htmx:
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)

