"""What an operator looks at: /health for uptime checks, /metrics for Prometheus (behind METRICS_TOKEN), and the
queue, worker and per-team facts the `flask status` command prints."""
import hmac
from collections.abc import Mapping
from typing import Any

import redis
from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from peewee import PeeweeException, fn
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from webapp import metrics
from webapp.db import database
from webapp.engine.lifecycle import QUEUE
from webapp.engine.schedule import auto_sync_states, next_due
from webapp.models import SyncRun, SyncSettings, Team

bp = Blueprint("operations", __name__)


def _database_answers() -> bool:
    try:
        with database.connection_context():
            database.execute_sql("SELECT 1")
    except PeeweeException:
        return False
    return True


def _redis_answers() -> bool:
    try:
        return bool(current_app.extensions["redis"].ping())
    except redis.RedisError:
        return False


@bp.get("/health")
def health() -> ResponseReturnValue:
    """200 when the database and Redis both answer, else 503; names nothing but the two and their state."""
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    body = {name: "ok" if answered else "unreachable" for name, answered in checks.items()}
    return jsonify(status="ok" if all(checks.values()) else "unavailable", **body), 200 if all(checks.values()) else 503


@bp.get("/metrics")
def metrics_page() -> Response:
    """Prometheus text format, for a bearer of METRICS_TOKEN; without the setting there is no such page."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)
    offered = request.headers.get("Authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return Response("A bearer token is needed.\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                        mimetype="text/plain")
    redis = current_app.extensions["redis"]
    queue = queue_overview(redis)
    with database.connection_context():
        active = {status: SyncRun.select().where(SyncRun.status == status).count() for status in ("queued", "running")}
    gauges = {"entra_sync_queue_depth": ("Jobs waiting in the sync queue.", queue["waiting"]),
              "entra_sync_workers": ("Workers registered with Redis.", len(queue["workers"])),
              "entra_sync_runs_queued": ("Sync runs queued now.", active["queued"]),
              "entra_sync_runs_running": ("Sync runs running now.", active["running"])}
    return Response(metrics.exposition(redis, gauges), mimetype="text/plain; version=0.0.4")


def queue_overview(redis: redis.Redis) -> dict[str, Any]:
    """The sync queue: jobs waiting, started and failed (as RQ counts them), and each worker with its job."""
    queue = Queue(QUEUE, connection=redis)
    workers = [{"name": worker.name, "state": worker.get_state(),
                "job": job.description if (job := worker.get_current_job()) else ""}
               for worker in Worker.all(connection=redis)]
    return {"waiting": queue.count, "started": StartedJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count, "workers": workers}


def team_overview(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per team: its last ended run and result, when Auto Sync runs it next, and its failures in a row; in a
    fixed number of queries whatever the number of teams."""
    states = {state.team_id: state for state in auto_sync_states()}
    last_ids = (SyncRun.select(fn.MAX(SyncRun.id)).where(SyncRun.finished_at.is_null(False)).group_by(SyncRun.team))
    last_runs = {run.team_id: run for run in SyncRun.select().where(SyncRun.id.in_(last_ids))}
    failures = dict(SyncSettings.select(SyncSettings.team, SyncSettings.failure_count).tuples())
    teams = []
    for team in Team.select().order_by(Team.id):
        last = last_runs.get(team.id)
        state = states.get(team.id)
        if state is None:
            due = "Auto Sync off"
        elif state.running:
            due = "running now"
        else:
            when = next_due(state, config["OAUTH_SYNC_MINUTES"], config["ENTERPRISE_APP_SYNC_MINUTES"])
            due = f"{when:%Y-%m-%d %H:%M} UTC" if when else "at the next tick"
        result = "" if last is None else ("interrupted" if last.interrupted else last.status)
        teams.append({"id": team.id, "name": team.name, "last_run": last.id if last else None, "result": result,
                      "finished": f"{last.finished_at:%Y-%m-%d %H:%M} UTC" if last else "",
                      "next_due": due, "failures": failures.get(team.id, 0)})
    return teams
