"""The daily health check of every connection (Auto Sync on or off): a fresh token and a read of the Sync Group."""
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import redis
from rq import Queue

from webapp.connections import ENTERPRISE_APP, NEEDS_LEADER, clear_error, graph_client_from_config, mark_error
from webapp.db import database
from webapp.microsoft import GroupNotFound, MicrosoftError
from webapp.models import EntraConnection, SyncSettings, utcnow
from webapp.notify.events import after_health_check

log = logging.getLogger(__name__)
QUEUE = "sync"


def queue_due_checks(redis: redis.Redis, config: Mapping[str, Any], now: dt.datetime | None = None) -> list[int]:
    """Queue the check of each connection not checked for HEALTH_CHECK_MINUTES; returns their ids."""
    now = now or utcnow()
    before = now - dt.timedelta(minutes=config["HEALTH_CHECK_MINUTES"])
    due = [row_id for (row_id,) in EntraConnection.select(EntraConnection.id).where(
        EntraConnection.health_checked_at.is_null() | (EntraConnection.health_checked_at <= before)).tuples()]
    if not due:
        return due
    # Marked when queued, so the next minute's tick does not queue it again; one query and one pipeline for all.
    EntraConnection.update(health_checked_at=now).where(EntraConnection.id.in_(due)).execute()
    Queue(QUEUE, connection=redis).enqueue_many([Queue.prepare_data("worker.health.check_connection", (connection_id,),
                                                                    timeout=120, result_ttl=3600)
                                                 for connection_id in due])
    return due


def group_gone(settings: SyncSettings, connection: EntraConnection) -> str:
    return (f"The Sync Group {settings.group_name or settings.group_id} no longer exists in "
            f"{connection.tenant_name or connection.tenant_id}, or the app can no longer see it: choose another "
            "Sync Group.")


def check_connection(connection_id: int) -> str:
    """Get a token (an Enterprise App anew: a cached token would hide a revoked consent or an expired secret), read
    the Sync Group, and show what is wrong on the page, with the remedy, before the next sync needs it."""
    from worker.jobs import context

    config, secret_box, redis = context()
    with database.connection_context():
        entra = EntraConnection.get_or_none(EntraConnection.id == connection_id)
        if entra is None:
            return "gone"
        settings = SyncSettings.get_or_none(SyncSettings.team == entra.team_id)
        problem = None
        try:
            # An app signs in anew; a delegated connection renews through the shared token's lock, since each
            # renewal rotates its refresh token.
            graph = graph_client_from_config(entra, secret_box, config,
                                             redis=None if entra.method == ENTERPRISE_APP else redis)
            if settings is not None and settings.group_id:
                graph.get_group(settings.group_id)
            else:
                graph.search_groups("", 1)
        except GroupNotFound:
            assert settings is not None  # only reading the Sync Group raises it
            problem = group_gone(settings, entra)
        except MicrosoftError as error:
            if not isinstance(error, NEEDS_LEADER):
                log.info("Health check of connection %s inconclusive: %r", connection_id, error)
                return "inconclusive"
            problem = error.message
        if problem:
            mark_error(entra.id, problem)
        elif entra.error:
            clear_error(entra.id)
        after_health_check(config, EntraConnection.get_by_id(entra.id), problem)
    log.info("Health check of connection %s: %s", connection_id, problem or "healthy")
    return "problem" if problem else "healthy"
