"""Sign-in and sign-out for team leaders."""
import logging
from urllib.parse import urlsplit

import redis
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_required, login_url, login_user, logout_user
from htmx_flask import request as htmx_request

from webapp import login_manager
from webapp.auth import passwords, sessions
from webapp.auth.limits import sign_in_limits
from webapp.events import record_event
from webapp.models import User
from webapp.request_checks import has_control_character

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

TOO_MANY = "Too many failed sign-in attempts. Wait 15 minutes and try again."
LIMITS_DOWN = ("Sign-in is unavailable for a moment: the service that counts sign-in attempts (Redis) cannot be "
               "reached. Try again in a minute, and tell your operator if it persists.")
WRONG = "The email or password is not right."
MAX_EMAIL = 320


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return sessions.current_user_of_session(int(user_id))


@login_manager.unauthorized_handler
def _sign_in_first() -> ResponseReturnValue:
    """To the sign-in page, then back; an htmx request (a poll, a search) of an ended session moves the whole page."""
    flash(login_manager.login_message)
    if htmx_request.htmx:
        page = request.headers.get("HX-Current-URL") or request.url
        return "", 401, {"HX-Redirect": login_url("auth.login", next_url=page)}
    return redirect(login_url("auth.login", next_url=request.url))


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target or has_control_character(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _attempted_email(email: str) -> str:
    """What the log keeps of an email that matches no account: only something shaped like an email (a password
    typed into the email field must not end up in the log)."""
    local, at, domain = email.partition("@")
    if at and local and "." in domain and " " not in email and len(email) <= MAX_EMAIL:
        return email
    return ""


def _check(email: str, password: str) -> User | None:
    """The account these credentials sign in to; every answer costs one password check."""
    user = User.get_or_none(User.email == email)
    usable = user is not None and user.active
    if not passwords.verify(user.password_hash if usable else None, password):
        record_event("sign_in_failed", user=user, email=_attempted_email(email),
                     detail="" if usable else ("unknown account" if user is None else "account deactivated"))
        return None
    if passwords.needs_rehash(user.password_hash):
        User.update(password_hash=passwords.upgraded_hash(password)).where(User.id == user.id).execute()
    return user


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limits
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("teams.index"))
    error = None
    status = 200
    if request.method == "POST":
        user = _check(request.form.get("email", "").strip().lower(), request.form.get("password", ""))
        if user is not None:
            target = safe_next(request.args.get("next"))
            sessions.start(user)
            login_user(user)
            record_event("sign_in", user=user)
            return redirect(target or url_for("teams.index"))
        error, status = WRONG, 401
    return render_template("auth/login.html", error=error), status


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(error: RateLimitExceeded) -> ResponseReturnValue:
    return render_template("auth/login.html", error=TOO_MANY), 429


@bp.errorhandler(redis.RedisError)
def _limits_unavailable(error: redis.RedisError) -> ResponseReturnValue:
    log.error("Sign-in refused: the sign-in attempt counter (Redis) is unreachable: %s", error.__class__.__name__)
    return render_template("auth/login.html", error=LIMITS_DOWN), 503


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    user = current_user._get_current_object()
    sessions.end_all([user.id])
    record_event("sign_out", user=user)
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
