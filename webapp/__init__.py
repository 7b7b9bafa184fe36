"""Entra Team Sync: the Flask application factory."""
import logging
import threading
from collections.abc import Mapping
from typing import Any

import redis
from flask import Flask
from flask.typing import ResponseReturnValue
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from werkzeug.exceptions import ServiceUnavailable

from webapp import config as settings
from webapp import db, edge, embedded_redis, logs, request_checks, request_log, templating
from webapp.crypto import SecretBox, development_key

login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
log = logging.getLogger(__name__)
QUEUE_UNAVAILABLE = ("The job queue (Redis) cannot be reached right now. Nothing was changed; try again in a minute, "
                     "and tell your operator if it persists.")


def redis_url(app_config: Mapping[str, Any]) -> str:
    """REDIS_URL, or the embedded server shared by this instance's processes."""
    return app_config.get("REDIS_URL") or embedded_redis.shared_url(app_config["INSTANCE_DIR"])


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal; tests and commands pass overrides for any setting."""
    root = settings.ROOT
    app = Flask(__name__, template_folder=str(root / "templates"), static_folder=str(root / "static"))
    app.config.update(settings.load())
    app.config["INSTANCE_DIR"] = settings.INSTANCE
    app.config.update(overrides or {})

    if not app.config.get("ENCRYPTION_KEY"):
        app.config["ENCRYPTION_KEY"] = development_key(app.config["INSTANCE_DIR"])
    app.extensions["secret_box"] = SecretBox(app.config["ENCRYPTION_KEY"])
    app.config["REDIS_URL"] = redis_url(app.config)
    redis_seconds = app.config["REDIS_WEB_TIMEOUT_SECONDS"]
    app.extensions["redis"] = settings.redis_client(app.config, socket_timeout=redis_seconds,
                                                    socket_connect_timeout=redis_seconds)
    app.extensions["microsoft_gate"] = threading.BoundedSemaphore(app.config["MICROSOFT_WEB_CALLS"])

    db.init_app(app)
    logs.setup(app.config["LOG_FORMAT"])
    request_log.init_app(app)
    edge.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    csrf.init_app(app)
    htmx.init_app(app)
    request_checks.init_app(app)
    templating.init_app(app)

    from webapp import auth, events, members, operations, runs, sync, teams
    from webapp.auth.limits import init_limiter

    init_limiter(app)
    for area in (auth, teams, members, sync, runs, events, operations):
        app.register_blueprint(area.bp)

    from webapp.cli import register as register_commands

    register_commands(app)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(error: redis.RedisError) -> ResponseReturnValue:
        log.error("Redis unreachable: %s", error.__class__.__name__)
        return request_checks.answer(ServiceUnavailable(), "Background service unavailable", QUEUE_UNAVAILABLE)

    return app

