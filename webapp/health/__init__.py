"""Connection health: when the credential expires and what the leader should do about it (no Flask, no I/O)."""
import datetime as dt
from typing import Any

from webapp.models import EntraConnection, utcnow

WARNING_DAYS = (30, 14, 7, 1)
RENEW = ("Renew it now: run python -m entra_setup again with the same --name (with a new certificate from this page, "
         "or for a new client secret), then Load Groups.")


def days_left(expires_at: dt.datetime, now: dt.datetime | None = None) -> int:
    """Whole days until the credential ends (0 on its last day, negative once it has ended)."""
    now = now or utcnow()
    return (expires_at.date() - now.date()).days if expires_at > now else -1 - (now - expires_at).days


def warning_step(days: int) -> int | None:
    """The smallest warning threshold (30, 14, 7, 1 days) the credential is within, else None."""
    reached = [limit for limit in WARNING_DAYS if days <= limit]
    return min(reached) if reached else None


def credential_expiry(connection: EntraConnection | None, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """What the page says about an Enterprise App's credential end: date, days left, level and advice; None when
    the end is not known (OAuth, or a secret whose date nobody entered)."""
    if connection is None or connection.credential_expires_at is None:
        return None
    kind = "certificate" if connection.certificate_id is not None else "client secret"
    days = days_left(connection.credential_expires_at, now)
    when = f"{connection.credential_expires_at:%Y-%m-%d}"
    if days < 0:
        return {"level": "bad", "days": days, "date": when,
                "message": f"The {kind} expired on {when}: the sync cannot sign in. {RENEW}"}
    if warning_step(days) is not None:
        left = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return {"level": "warn", "days": days, "date": when,
                "message": f"The {kind} expires {left} ({when}). {RENEW}"}
    return {"level": "ok", "days": days, "date": when, "message": f"The {kind} expires on {when}."}
