"""Look someone up: a search over the whole tenant, the answer for one person, and Sync this person now."""
from typing import Any

from flask import current_app, flash, render_template, request
from flask.typing import ResponseReturnValue

from webapp import connections, membership
from webapp.engine import person
from webapp.engine.lifecycle import active_run, queue_run
from webapp.engine.team_sync import team_rules
from webapp.events import record_event
from webapp.microsoft import MicrosoftError, to_entra_user
from webapp.models import EntraConnection, SyncSettings, Team
from webapp.search import search_arg
from webapp.sync import PAGE, bp
from webapp.sync.answers import explain
from webapp.sync.context import (deletion_guard, entra_id_or_400, graph_client, microsoft_answered, microsoft_problem,
                                 settings_of)
from webapp.sync.page import _back_to_page
from webapp.teams import leader_required

PEOPLE_SHOWN = 10
NOT_A_PERSON = "This is not a user of Microsoft Entra: search for the person again."
NOT_READY = "Connect your Microsoft 365 tenant and Save a Sync Group first."


def _ready(team: Team) -> tuple[EntraConnection, SyncSettings] | None:
    """(connection, settings) when the team can be looked at, else None."""
    connection = connections.connection_of(team.id)
    settings = settings_of(team)
    if connection is None or not settings.group_id:
        return None
    return connection, settings


@bp.get(PAGE + "/lookup")
@leader_required
def lookup(team: Team) -> str:
    """People of the whole tenant whose name or email starts like the search (one Graph request)."""
    search = search_arg("person_q")
    context: dict[str, Any] = {"team": team, "search": search, "people": [], "error": None}
    ready = _ready(team)
    if ready is None:
        context["error"] = NOT_READY
    elif search:
        connection, _ = ready
        try:
            context["people"] = [to_entra_user(raw) for raw in
                                 graph_client(connection).search_users(search, PEOPLE_SHOWN)]
            microsoft_answered(connection)
        except MicrosoftError as error:
            context["error"] = microsoft_problem(connection, error)
    return render_template("sync/_lookup.html", **context)


@bp.get(PAGE + "/lookup/answer")
@leader_required
def answer(team: Team) -> str:
    """Every step that decides one person's fate, by the rules of a run (two to four Graph requests)."""
    entra_id = entra_id_or_400(request.args.get("person", "").strip(), NOT_A_PERSON)
    context: dict[str, Any] = {"team": team, "answer": None, "facts": None, "error": None, "requests": 0}
    ready = _ready(team)
    if ready is None:
        context["error"] = NOT_READY
        return render_template("sync/_answer.html", **context)
    connection, settings = ready
    graph = graph_client(connection)
    try:
        facts = person.read_person(graph, settings.group_id, entra_id)
        microsoft_answered(connection)
    except MicrosoftError as error:
        context["error"] = microsoft_problem(connection, error)
        return render_template("sync/_answer.html", **context)
    rules = team_rules(team.id, connection.tenant_id, settings, deletion_guard())
    team_size = membership.team_size(current_app.extensions["redis"], team.id)
    planned = person.plan_person(facts, team.id, connection.tenant_id, rules, team_size)
    tenant = connection.tenant_name or "your tenant"
    context.update(facts=facts, requests=graph.request_count,
                   answer=explain(facts, planned, team.id, tenant, settings.group_name or "the Sync Group", rules))
    return render_template("sync/_answer.html", **context)


@bp.post(PAGE + "/lookup/sync")
@leader_required
def sync_person(team: Team) -> ResponseReturnValue:
    """Sync this person now: a run of one person, through the worker and the team's lock."""
    if _ready(team) is None:
        flash(NOT_READY)
        return _back_to_page(team)
    entra_id = entra_id_or_400(request.form.get("person", "").strip(), NOT_A_PERSON)
    running = active_run(team.id)
    run = queue_run(team.id, "person", current_app.extensions["redis"], person_id=entra_id)
    if running is not None and run.id == running.id:
        flash("A sync is already running for this team: sync this person again when it ends.")
    else:
        record_event("person_synced", team.id, detail=f"Entra user {entra_id}")
        flash("Syncing this person now: the run is shown below.")
    return _back_to_page(team)
