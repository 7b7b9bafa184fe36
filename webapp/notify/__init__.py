"""Emails to a team's leaders: one per event (a key recorded before sending), SMTP or, by default, a folder and the log.

No Flask: the worker sends them. The events: a run failed twice in a row, a run stopped for review, the health
check failed, the credential is about to expire."""
import logging
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from peewee import IntegrityError

from webapp.db import database
from webapp.models import LeaderEmail, SyncSettings, Team, TeamLeader, User, utcnow

log = logging.getLogger(__name__)


def emails_on(team_id: int) -> bool:
    """Whether the team's leaders get these emails (on unless a leader turned them off)."""
    settings = SyncSettings.get_or_none(SyncSettings.team == team_id)
    return settings is None or settings.leader_emails


def leader_addresses(team_id: int) -> list[str]:
    return [email for (email,) in User.select(User.email).join(TeamLeader).where(
        (TeamLeader.team == team_id) & User.active).order_by(User.email).tuples()]


def page_link(config: Mapping[str, Any], team_id: int) -> str:
    """The Azure Entra Sync page of the team, as the email links it."""
    return f"{config['PORTAL_URL']}/teams/{team_id}/entra-sync/"


def tell_leaders(config: Mapping[str, Any], team_id: int, event: str, subject: str, text: str) -> bool:
    """Email the team's leaders about `event` unless it was emailed before or the team turned emails off; True
    if a message went out. The key is stored first, so retries and parallel workers send it once."""
    if not emails_on(team_id):
        return False
    recipients = leader_addresses(team_id)
    if not recipients:
        return False
    team = Team.get_by_id(team_id)
    try:
        with database.atomic():
            LeaderEmail.create(team=team_id, event=event[:200], subject=subject[:255], sent_at=utcnow())
    except IntegrityError:
        return False
    message = EmailMessage()
    message["Subject"] = f"{team.name}: {subject}"
    message["From"] = config["MAIL_FROM"]
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = make_msgid(domain="entra-team-sync")
    message.set_content(f"{text}\n\nOpen the Azure Entra Sync page: {page_link(config, team_id)}\n\n"
                        "You get this email as a leader of the team. Any leader can turn these emails off on that "
                        "page.\n")
    deliver(config, message)
    return True


def forget(team_id: int, prefix: str) -> None:
    """Let events starting with `prefix` be emailed again (the problem they were about is gone)."""
    LeaderEmail.delete().where((LeaderEmail.team == team_id) & LeaderEmail.event.startswith(prefix)).execute()


def deliver(config: Mapping[str, Any], message: EmailMessage) -> None:
    """Send through SMTP_HOST; without one, write the message to MAIL_FOLDER and say so in the log."""
    if config.get("SMTP_HOST"):
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(message)
        log.info("Emailed %s: %s", message["To"], message["Subject"])
        return
    folder = Path(config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{message['Message-ID'].strip('<>').split('@')[0]}.eml"
    (folder / name).write_bytes(bytes(message))
    log.info("Email to %s written to %s: %s", message["To"], folder / name, message["Subject"])
