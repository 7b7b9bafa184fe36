"""Server-side sign-in sessions: the cookie carries a random token, the database its hash and timestamps.

A session ends at sign-out, when the account's password changes or the account is deactivated, after
SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after sign-in, whichever comes first.
"""
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from flask import current_app, session
from peewee import Select

from webapp.models import User, UserSession, utcnow

TOKEN_KEY = "session_token"
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=1)  # last-seen is written at most once a minute per session


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User) -> None:
    """A new session record and a fresh cookie session: nothing from before sign-in is carried over."""
    token = secrets.token_urlsafe(32)
    UserSession.create(user=user, token_hash=_hash(token))
    session.clear()
    session[TOKEN_KEY] = token


def current_user_of_session(user_id: int) -> User | None:
    """The active account whose live session this cookie holds, or None (the expired session is ended)."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str):
        return None
    record = UserSession.get_or_none((UserSession.token_hash == _hash(token)) & (UserSession.user == user_id))
    if record is None:
        session.clear()
        return None
    now = utcnow()
    idle = dt.timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    lifetime = dt.timedelta(hours=current_app.config["SESSION_MAX_HOURS"])
    if now - record.last_seen_at > idle or now - record.created_at > lifetime:
        record.delete_instance()
        session.clear()
        return None
    if now - record.last_seen_at >= LAST_SEEN_RESOLUTION:
        UserSession.update(last_seen_at=now).where(UserSession.id == record.id).execute()
    return User.get_or_none((User.id == user_id) & (User.active == True))  # noqa: E712


def end_all(user_ids: Iterable[int] | Select) -> int:
    """End every session of these accounts (ids, or a query selecting ids); returns how many ended."""
    return UserSession.delete().where(UserSession.user.in_(user_ids)).execute()
