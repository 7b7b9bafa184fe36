"""Sign-in attempt limits (Flask-Limiter on Redis): per account (the email entered) and per client address.

Every sign-in POST is counted atomically in Redis before its password is checked, so parallel guesses cannot
slip past the limit. While Redis cannot be reached, sign-in is refused with a 503 rather than left unlimited.
"""
from collections.abc import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter

from webapp.config import redis_options

WINDOW = "15 minutes"

limiter = Limiter(key_func=lambda: request.remote_addr or "unknown", strategy="moving-window",
                  key_prefix="sign-in-limits")


def init_limiter(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    seconds = app.config["REDIS_WEB_TIMEOUT_SECONDS"]
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": seconds, "socket_connect_timeout": seconds,
                                                        **redis_options(app.config["RATELIMIT_STORAGE_URI"],
                                                                        app.config)})
    limiter.init_app(app)


def submitted_account() -> str:
    """The email entered, normalised the way accounts are looked up."""
    return "account:" + request.form.get("email", "").strip().lower()[:320]


def client_address() -> str:
    return "client:" + (request.remote_addr or "unknown")


def per_account() -> str:
    return f"{current_app.config['LOGIN_ATTEMPTS_PER_15_MINUTES']} per {WINDOW}"


def per_client() -> str:
    return f"{current_app.config['LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES']} per {WINDOW}"


def sign_in_limits(view: Callable) -> Callable:
    """Both limits, on POST only (showing the form is free)."""
    view = limiter.limit(per_client, key_func=client_address, methods=["POST"], scope="sign-in-client")(view)
    return limiter.limit(per_account, key_func=submitted_account, methods=["POST"], scope="sign-in-account")(view)
