"""Sync runs: the live panel on the Azure Entra Sync page, history, per-user outcomes, CSV and Confirm removals."""
import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request,
                   stream_with_context, url_for)
from flask.typing import ResponseReturnValue
from htmx_flask import request as htmx_request
from playhouse.flask_utils import get_object_or_404

from webapp.engine.lifecycle import queue_run, stale_runs
from webapp.events import record_event
from webapp.models import SyncRun, Team
from webapp.paging import page_arg, page_of
from webapp.runs import queries
from webapp.search import search_arg
from webapp.teams import leader_required

bp = Blueprint("runs", __name__, url_prefix="/teams/<id:team_id>/runs")


@bp.app_context_processor
def _labels() -> dict[str, dict[str, str]]:
    return {"run_status_labels": queries.STATUS_LABELS, "run_trigger_labels": queries.TRIGGER_LABELS,
            "run_mode_labels": queries.MODE_LABELS, "outcome_labels": queries.ACTION_LABELS}


def panel_state(team_id: int) -> dict[str, Any]:
    """What the runs panel shows; runs whose worker stopped are shown failed without writing it down."""
    requeue_within = dt.timedelta(hours=current_app.config["QUEUED_RUN_REQUEUE_HOURS"])
    return queries.panel_state(team_id, stale_runs(team_id, current_app.extensions["redis"], requeue_within))


def _run_or_404(team: Team, run_id: int) -> SyncRun:
    return get_object_or_404(queries.team_runs(team.id), SyncRun.id == run_id)


@bp.get("/panel")
@leader_required
def panel(team: Team) -> str:
    """The panel fragment; it polls itself while a run is queued or running."""
    return render_template("runs/_panel.html", team=team, panel=panel_state(team.id))


@bp.get("/")
@leader_required
def index(team: Team) -> str:
    history = page_of(queries.team_runs(team.id).order_by(queries.SyncRun.id.desc()), page_arg(),
                              queries.RUNS_PER_PAGE)
    template = "runs/_history.html" if htmx_request.htmx else "runs/index.html"
    return render_template(template, team=team, history=history)


@bp.get("/<id:run_id>")
@leader_required
def show(team: Team, run_id: int) -> str:
    run = _run_or_404(team, run_id)
    search, action = search_arg(), request.args.get("action", "")
    if action and action not in queries.ACTION_LABELS:
        abort(400, description="There is no such outcome to show; choose one from the list.")
    outcomes = page_of(queries.outcome_query(run, search, action), page_arg(),
                               current_app.config["MEMBERS_PER_PAGE"])
    reviewable = queries.reviewable(run)
    held, held_total = queries.would_remove(run) if reviewable else ([], 0)
    context = {"team": team, "run": run, "outcomes": outcomes, "search": search, "action": action,
               "reviewable": reviewable, "held": held, "held_total": held_total}
    if htmx_request.htmx and htmx_request.htmx.target == "outcome-list":
        return render_template("runs/_outcomes.html", **context)
    return render_template("runs/show.html", **context)


@bp.get("/<id:run_id>/outcomes.csv")
@leader_required
def outcomes_csv(team: Team, run_id: int) -> Response:
    """Every per-user outcome of the run as CSV, streamed."""
    run = _run_or_404(team, run_id)

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in queries.csv_rows(run):
            writer.writerow(row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"team-{team.id}-sync-run-{run.id}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.post("/<id:run_id>/confirm")
@leader_required
def confirm(team: Team, run_id: int) -> ResponseReturnValue:
    """Confirm removals: a run that removes the reviewed users, if the group has not changed since."""
    run = _run_or_404(team, run_id)
    if queries.reviewable(run):
        queue_run(team.id, "confirm", current_app.extensions["redis"], reviewed_run_id=run.id)
        record_event("removals_confirmed", team.id, detail=f"held by sync run #{run.id}")
        message = "Removals confirmed: a sync is removing them now, if the group has not changed since."
    else:
        message = "These removals can no longer be confirmed: a newer sync has run. Review its result instead."
    if htmx_request.htmx:
        return render_template("runs/_panel.html", team=team, panel=panel_state(team.id), notice=message)
    flash(message)
    return redirect(url_for("sync.index", team_id=team.id), code=303)
