"""RQ jobs: a team's sync run and the scheduler's tick; they take ids and build their own context."""

import datetime as dt
import functools
import logging
import signal
import time

import redis as redis_lib
from flask import Flask
from peewee import fn
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import ShutDownImminentException
from rq.job import Retry

from webapp import config as settings_module
from webapp import create_app, membership, metrics
from webapp.connections import clear_error, connection_of, graph_client_from_config, note_failure
from webapp.crypto import SecretBox
from webapp.db import database
from webapp.engine import lifecycle
from webapp.engine.lifecycle import HeldRun, LockLost
from webapp.engine.schedule import TeamState, auto_sync_states, due_teams
from webapp.engine.team_sync import SyncNotReady, SyncOptions, TeamSync
from webapp.microsoft import GraphClient, MicrosoftError
from webapp.models import EntraConnection, SyncRun, User, utcnow
from webapp.notify.events import after_run
from worker.health import queue_due_checks

log = logging.getLogger(__name__)

ANOTHER_RUN = "Another sync of this team was already running."
NOT_CONNECTED = "The team is not connected to Microsoft: connect it on the Azure Entra Sync page."
UNEXPECTED = "The sync stopped on an unexpected error. It will be tried again."
LOCK_LOST = "The sync lost its hold on the team (Redis was unreachable too long) and stopped writing."
REDIS_LOST = "The sync stopped because the job queue (Redis) could not be reached. It will be tried again."
HANDED_BACK = ("The worker was restarting and the sync could not finish in time; it stopped and is tried again "
               "within a minute.")
TENANT_WAIT_SECONDS = 0.1
TENANT_WAIT_TURNS = 1_000_000  # RQ's count of Retry turns: a run waits its turn however long its tenant is busy


class SyncFailed(Exception):
    """Raised after a failed run is recorded, so that RQ counts its job as failed too."""


@functools.cache
def worker_app() -> Flask:
    """The portal's app, built by create_app from the environment as the web builds it; once a process."""
    return create_app()


def context() -> tuple[dict, SecretBox, redis_lib.Redis]:
    """Settings, secret box and Redis for a job, from the worker's app."""
    app = worker_app()
    job = get_current_job()
    redis = job.connection if job else settings_module.redis_client(app.config)
    return app.config, app.extensions["secret_box"], redis


def sync_team(team_id: int, run_id: int, reviewed_run_id: int | None = None,
              person_id: str | None = None) -> str | Retry:
    """Sync one team's members with its Sync Group (or one person of the tenant), at most one run per team at a
    time and TENANT_SYNC_LIMIT per Entra tenant: a run that finds its tenant's slots taken stays queued and its job
    goes to the back of the queue (RQ's Retry), without calling Microsoft."""
    config, secret_box, redis = context()
    with database.connection_context():
        held = HeldRun(redis, team_id, run_id, config["SYNC_LOCK_SECONDS"], get_current_job())
        if not held.acquire():
            lifecycle.fail_run(run_id, ANOTHER_RUN)
            raise SyncFailed(f"Sync run {run_id} of team {team_id}: {ANOTHER_RUN}")
        try:
            connection = connection_of(team_id)
            if connection is not None and not held.take_tenant_slot(connection.tenant_id, config["TENANT_SYNC_LIMIT"]):
                status = "waiting"
            elif lifecycle.begin_run(team_id, run_id):
                status = _work(held, connection, reviewed_run_id, person_id, config, secret_box)
            else:
                status = "not queued"
        finally:
            held.release()
        if status == "interrupted":
            lifecycle.retry_interrupted(team_id, redis)
    if status in ("failed", "interrupted"):
        raise SyncFailed(f"Sync run {run_id} of team {team_id} {status}")
    if status == "waiting":
        time.sleep(TENANT_WAIT_SECONDS)  # when only waiting runs are queued, the workers do not spin on them
        return Retry(max=TENANT_WAIT_TURNS)
    return status


def _work(held: HeldRun, connection: EntraConnection | None, reviewed_run_id: int | None, person_id: str | None,
          config: dict, secret_box: SecretBox) -> str:
    """Run the sync and record how it ended, in the leader's words; returns the run's status."""
    team_id, run_id = held.team_id, held.run_id
    ids = {"team_id": team_id, "run_id": run_id}
    log.info("Sync run %s of team %s started", run_id, team_id, extra=ids)
    graph = None
    status, error, mode = "failed", None, None
    try:
        if connection is None:
            raise SyncNotReady(NOT_CONNECTED)
        graph = graph_client_from_config(connection, secret_box, config, redis=held.redis)
        status, mode = _sync(held, connection, graph, config, reviewed_run_id, person_id)
    except MicrosoftError as exc:
        error = exc.message
        note_failure(connection, exc)
        log.warning("Sync run %s of team %s failed: %r", run_id, team_id, exc, extra=ids)
    except SyncNotReady as exc:
        error = exc.message
    except LockLost:
        error = LOCK_LOST
    except RedisError as exc:
        error = REDIS_LOST
        log.warning("Sync run %s of team %s stopped: Redis unreachable (%s)", run_id, team_id, type(exc).__name__,
                    extra=ids)
    except ShutDownImminentException:
        status, error = "interrupted", HANDED_BACK
        log.warning("Sync run %s of team %s stopped: the worker is shutting down", run_id, team_id, extra=ids)
    except Exception:
        error = UNEXPECTED
        log.exception("Sync run %s of team %s failed", run_id, team_id, extra=ids)
    finally:
        signal.alarm(0)  # the shutdown alarm (see worker.rq_worker) must not cut the recording of the run short
        _record_end(held, connection, graph, status, error, mode, config)
    log.info("Sync run %s of team %s ended: %s", run_id, team_id, status, extra=ids)
    return status


def _sync(held: HeldRun, connection: EntraConnection, graph: GraphClient, config: dict, reviewed_run_id: int | None,
          person_id: str | None) -> tuple[str, str]:
    """The sync itself; returns (status, mode)."""
    team_sync = TeamSync(held, connection, graph, SyncOptions.from_config(config))
    if person_id is not None:
        plan, _, mode = team_sync.one_person(person_id)
    else:
        plan, _, mode = team_sync.run(reviewed_run_id)
    held.flush()
    if connection.error:
        clear_error(connection.id)
    return ("needs_review" if plan.needs_review else "succeeded"), mode


def _record_end(held: HeldRun, connection: EntraConnection | None, graph: GraphClient | None, status: str,
                error: str | None, mode: str | None, config: dict) -> None:
    """Record the run's end, count it, and (unless a restart interrupted it) move Auto Sync on and tell the leader."""
    team_id, run_id = held.team_id, held.run_id
    lifecycle.end_run(run_id, status, error, mode, graph.request_count if graph is not None else None)
    failed = status in ("failed", "interrupted")
    if failed:
        _note_membership_change(held.redis, team_id)
    _count_run(held.redis, run_id, status, graph)
    if status != "interrupted":
        lifecycle.record_schedule(team_id, connection.method if connection else None, failed,
                                  config["OAUTH_SYNC_MINUTES"], config["ENTERPRISE_APP_SYNC_MINUTES"])
        after_run(config, team_id, run_id)


def _count_run(redis: redis_lib.Redis, run_id: int, status: str, graph: GraphClient | None) -> None:
    """Add the ended run to the metrics every worker shares (in Redis)."""
    run = SyncRun.select(SyncRun.created_at, SyncRun.started_at, SyncRun.finished_at).where(SyncRun.id == run_id).get()
    try:
        metrics.record_run(redis, status, (run.finished_at - run.started_at).total_seconds(),
                           (run.started_at - run.created_at).total_seconds(), graph.request_count if graph else 0,
                           graph.throttled_count if graph else 0)
    except RedisError:
        log.warning("Could not count run %s in the metrics (Redis unreachable)", run_id, extra={"run_id": run_id})


def _note_membership_change(redis: redis_lib.Redis, team_id: int) -> None:
    """After a failed run, which may have changed some members, let caches derived from the team's members
    know they may be stale (a run that ends normally marks the change itself)."""
    try:
        membership.changed(redis, team_id)
    except RedisError:
        log.warning("Could not mark team %s as changed in Redis", team_id)


def tick() -> list[int]:
    """Every minute: queue again the runs Redis lost, fail runs whose worker stopped and try them again, queue the
    automatic syncs and health checks that are due, forget old runs."""
    config, _, redis = context()
    with database.connection_context():
        lifecycle.requeue_lost_runs(redis, dt.timedelta(hours=config["QUEUED_RUN_REQUEUE_HOURS"]))
        stale_teams = {row[0] for row in SyncRun.select(SyncRun.team).where(
            SyncRun.status.in_(lifecycle.ACTIVE)).tuples()}
        for team_id in stale_teams:
            if lifecycle.reap_stale_runs(team_id, redis):
                lifecycle.retry_interrupted(team_id, redis)
        states = auto_sync_states()
        due = due_teams(states, utcnow(), config["OAUTH_SYNC_MINUTES"], config["ENTERPRISE_APP_SYNC_MINUTES"])
        started = lifecycle.queue_auto_runs(due, redis, _short_runs(states, due, config["IN_PROCESS_SYNC_MEMBERS"]))
        queue_due_checks(redis, config)
        lifecycle.prune_history()
    return started


def _short_runs(states: list[TeamState], due: list[int], most_members: int) -> set[int]:
    """The due teams whose run is expected short, to be worked without a fork: they have synced before (a later run
    follows changes) and have at most `most_members` members."""
    synced = {state.team_id for state in states if state.last_finished_at is not None}
    candidates = [team_id for team_id in due if team_id in synced]
    if not candidates or most_members <= 0:
        return set()
    sizes = dict(User.select(User.team, fn.COUNT(User.id)).where(User.team.in_(candidates)).group_by(User.team)
                 .tuples())
    return {team_id for team_id in candidates if sizes.get(team_id, 0) <= most_members}
