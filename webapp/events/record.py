"""Writing a security event: one structured (JSON) log line and one database row.

Only facts go in: who, which team, what, from which client address, when, and a short detail that never holds
a password, secret, token or code.
"""
import json
import logging

from flask import has_request_context, request
from flask_login import current_user

from webapp.models import SecurityEvent, User

log = logging.getLogger("webapp.security")

ACTIONS = {
    "sign_in": "Signed in",
    "sign_in_failed": "Sign-in failed",
    "sign_out": "Signed out",
    "password_set": "Password set",
    "connected": "Connected to Microsoft",
    "disconnected": "Disconnected from Microsoft",
    "certificate_made": "Made a certificate for the Enterprise App",
    "sync_settings_changed": "Changed the sync settings",
    "member_edited": "Edited a member",
    "member_removed": "Removed a member",
    "member_restored": "Restored a member",
    "removals_confirmed": "Confirmed removals",
    "person_synced": "Synced one person now",
}


def _acting_user() -> User | None:
    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def record_event(action: str, team_id: int | None = None, detail: str = "", user: User | None = None,
                 email: str = "") -> SecurityEvent:
    """Log and store one event; `user` defaults to the signed-in leader, `email` to that user's email."""
    if action not in ACTIONS:
        raise ValueError(f"unknown security event {action!r}")
    user = user or _acting_user()
    email = (user.email if user is not None else email)[:320]
    address = (request.remote_addr or "") if has_request_context() else ""
    event = SecurityEvent.create(action=action, team=team_id, user=user.id if user is not None else None,
                                 email=email, client_address=address[:64], detail=detail[:500])
    fields = {"event": action, "who": email or None, "user_id": event.user_id, "team_id": team_id,
              "from": address or None, "when": event.created_at.isoformat() + "Z", "detail": detail[:500]}
    log.info(json.dumps(fields, ensure_ascii=False), extra={"fields": fields})
    return event
