"""Sign-in and sign-out for team leaders."""
from urllib.parse import urlsplit

import redis
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import login_manager
from webapp.models import User
from webapp.request_checks import has_control_character

bp = Blueprint("auth", __name__)

ATTEMPT_WINDOW_SECONDS = 15 * 60


def hash_password(password):
    return generate_password_hash(password)


@login_manager.user_loader
def load_user(user_id):
    return User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712


def safe_next(target):
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target or has_control_character(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _attempts_key():
    return f"login-failures:{request.remote_addr}"


def _too_many_attempts():
    limit = current_app.config["LOGIN_ATTEMPTS_PER_15_MINUTES"]
    try:
        return int(current_app.extensions["redis"].get(_attempts_key()) or 0) >= limit
    except redis.RedisError:
        current_app.logger.warning("login rate limit unavailable: Redis unreachable")
        return False


def _record_failure():
    try:
        pipe = current_app.extensions["redis"].pipeline()
        pipe.incr(_attempts_key())
        pipe.expire(_attempts_key(), ATTEMPT_WINDOW_SECONDS)
        pipe.execute()
    except redis.RedisError:
        pass


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("teams.index"))
    error = None
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        if _too_many_attempts():
            error = "Too many failed sign-in attempts. Wait 15 minutes and try again."
            status = 429
        else:
            user = User.get_or_none(User.email == email)
            if user and user.active and user.password_hash and check_password_hash(user.password_hash, password):
                login_user(user)
                return redirect(safe_next(request.args.get("next")) or url_for("teams.index"))
            _record_failure()
            error = "The email or password is not right."
            status = 401
    return render_template("auth/login.html", error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
