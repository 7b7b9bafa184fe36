"""Which events email the leaders, in their words; a message that cannot be delivered is logged and tried again
by the next event of the same kind (its key is released)."""
import logging
import smtplib
from collections.abc import Mapping
from typing import Any

from webapp.health import RENEW, credential_expiry, warning_step
from webapp.models import EntraConnection, SyncRun, SyncSettings
from webapp.notify import forget, tell_leaders

log = logging.getLogger(__name__)


def _safely(config: Mapping[str, Any], team_id: int, event: str, subject: str, text: str) -> bool:
    try:
        return tell_leaders(config, team_id, event, subject, text)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("Email to the leaders of team %s not delivered (%s): %s", team_id, subject,
                    error.__class__.__name__)
        forget(team_id, event)
        return False


def after_run(config: Mapping[str, Any], team_id: int, run_id: int) -> None:
    """A run that stopped for review, or the second failed run in a row (not the third: one email per streak)."""
    run = SyncRun.get_by_id(run_id)
    if run.status == "needs_review":
        _safely(config, team_id, f"needs-review:{run_id}", "a sync is waiting for your review",
                "A sync stopped before removing anyone and waits for a leader to Confirm removals."
                f"\n\n{run.notice or ''}")
    settings = SyncSettings.get_or_none(SyncSettings.team == team_id)
    if run.status == "failed" and settings is not None and settings.failure_count == 2:
        _safely(config, team_id, f"failed-twice:{run_id}", "the sync failed twice in a row",
                f"The last two syncs of the team failed. The latest said:\n\n{run.error}")


def after_health_check(config: Mapping[str, Any], connection: EntraConnection, problem: str | None) -> None:
    """The check found a problem (one email until it is fixed), or found none (a later problem emails again)."""
    if problem is None:
        forget(connection.team_id, f"health:{connection.id}:")
    else:
        _safely(config, connection.team_id, f"health:{connection.id}:{problem[:150]}",
                "the Microsoft connection needs attention",
                f"The daily check of the team's connection to Microsoft failed, so the next sync would too:\n\n"
                f"{problem}")
    expiry = credential_expiry(connection)
    if expiry is None or expiry["level"] == "ok":
        return
    step = "expired" if expiry["days"] < 0 else warning_step(expiry["days"])
    _safely(config, connection.team_id, f"expiry:{connection.id}:{expiry['date']}:{step}",
            "the Microsoft credential expired" if step == "expired" else
            f"the Microsoft credential expires in {expiry['days']} day{'s' if expiry['days'] != 1 else ''}",
            expiry["message"] if step != "expired" else f"{expiry['message']}\n\n{RENEW}")
