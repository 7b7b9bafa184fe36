"""Sync Group type-ahead (searched by Graph) and the Sync Users list (cached in Redis, paged, searched)."""
import logging
import time
from typing import Any

from flask import current_app, render_template, request

from webapp import connections, membership
from webapp.engine.reconcile import SyncRules, guard_threshold
from webapp.engine.team_side import load_leader_ids
from webapp.microsoft import MicrosoftError
from webapp.models import EntraConnection, Team
from webapp.paging import page_arg, page_numbers
from webapp.search import search_arg
from webapp.sync import PAGE, bp
from webapp.sync.context import (NOT_A_GROUP, entra_id_or_400, graph_client, group_name_or_400, microsoft_answered,
                                 microsoft_problem, passing, per_page, posted_form)
from webapp.sync.group_users import GroupUsers
from webapp.sync.statuses import members_not_in_group, page_rows
from webapp.teams import leader_required

GROUPS_SHOWN = 25
log = logging.getLogger(__name__)
NOT_CONNECTED = "Connect your Microsoft 365 tenant first."


@bp.get(PAGE + "/groups")
@leader_required
def groups(team: Team) -> str:
    """Groups whose name has a word starting with what was typed, asked of Graph (fast in any tenant size)."""
    connection = connections.connection_of(team.id)
    search = search_arg("group_q")
    found: list[dict[str, Any]] = []
    problem: str | None = None
    retry = False
    if connection is None:
        problem = NOT_CONNECTED
    else:
        try:
            found = graph_client(connection).search_groups(search, GROUPS_SHOWN)
            microsoft_answered(connection)
        except MicrosoftError as error:
            problem, retry = microsoft_problem(connection, error), passing(error)
    return render_template("sync/_group_options.html", team=team, groups=found, search=search, error=problem,
                           retry=retry, limit=GROUPS_SHOWN)


@bp.get(PAGE + "/group")
@leader_required
def group_field(team: Team) -> str:
    """The Sync Group field: the search box (`change=1`), or the chosen group with its Sync Users field."""
    form = posted_form(request.args)
    chosen = request.args.get("choose")
    if chosen:
        form.update(group_id=entra_id_or_400(chosen, NOT_A_GROUP),
                    group_name=group_name_or_400(request.args.get("choose_name", "")), user_ids=[])
    return render_template("sync/_group_field.html", team=team, form=form,
                           changing=request.args.get("change") == "1" or not form["group_id"])


def _cached_group_users(team: Team, connection: EntraConnection, group_id: str,
                        reload: bool) -> tuple[GroupUsers, dict[str, Any]]:
    """The group's users in Redis, fetched from Graph only when missing, expired or asked for."""
    group_users = GroupUsers(current_app.extensions["redis"], team.id, group_id)
    info, fetched = group_users.ensure(lambda: graph_client(connection), group_id, reload,
                                       wait=current_app.config["MICROSOFT_WEB_TIMEOUT_SECONDS"])
    if fetched:
        microsoft_answered(connection)
        log.info("Sync Users of team %s: %d users fetched with %d Graph requests", team.id, info["count"],
                 info["graph_requests"])
    return group_users, info


def list_page(team: Team, connection: EntraConnection, form: dict[str, Any], search: str, page: int,
              reload: bool = False) -> dict[str, Any]:
    """One page of the Sync Users list: group users first (name order), then members who would be removed."""
    group_users, info = _cached_group_users(team, connection, form["group_id"], reload)
    leaders = load_leader_ids(team.id)
    removals = (members_not_in_group(team.id, connection.tenant_id, group_users, search, leaders)
                if form["allow_deletion"] else [])
    size = per_page()
    in_group, users = group_users.page(search, (page - 1) * size, size)
    numbers = page_numbers(page, size, in_group + len(removals))
    start = (page - 1) * size
    rows = page_rows(team.id, connection.tenant_id, users, form["allow_deletion"], leaders, form["include_guests"])
    rows += removals[max(0, start - in_group):max(0, start + size - in_group)]
    return {"rows": rows, **numbers, "in_group": in_group, "guard": _guard(team, connection, len(removals)),
            "removal_count": len(removals), "info": info,
            "age_minutes": int((time.time() - info["fetched_at"]) // 60)}


def _guard(team: Team, connection: EntraConnection, removal_count: int) -> int | None:
    """The deletion guard's limit when these removals exceed it (the run would then wait for a review), else None."""
    if not removal_count:
        return None
    config = current_app.config
    team_size = membership.team_size(current_app.extensions["redis"], team.id)
    limit = guard_threshold(team_size, SyncRules(team.id, connection.tenant_id,
                                                 guard_percent=config["DELETION_GUARD_PERCENT"],
                                                 guard_minimum=config["DELETION_GUARD_MINIMUM"],
                                                 guard_maximum=config["DELETION_GUARD_MAXIMUM"]))
    return int(limit) if removal_count > limit else None


@bp.get(PAGE + "/users")
@leader_required
def users(team: Team) -> str:
    """The Sync Users field: the selection summary, and when open the list with statuses, search and pages."""
    form = posted_form(request.args)
    if request.args.get("clear") == "1":
        form["user_ids"] = []
    is_open = request.args.get("users_open") == "1"
    search = search_arg("user_q")
    context: dict[str, Any] = {"team": team, "form": form, "is_open": is_open, "search": search}
    connection = connections.connection_of(team.id)
    if is_open and form["group_id"]:
        if connection is None:
            context["error"] = NOT_CONNECTED
        else:
            try:
                context.update(list_page(team, connection, form, search, page_arg("users_page"),
                                         reload=request.args.get("reload") == "1"))
            except MicrosoftError as error:
                context.update(error=microsoft_problem(connection, error), retry=passing(error))
    return render_template("sync/_user_list.html", **context)
