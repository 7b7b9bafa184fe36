"""Security events: the team's page (newest first, paged) and record_event for the views that act."""
from flask import Blueprint, render_template
from htmx_flask import request as htmx_request
from peewee import Select

from webapp.events.record import ACTIONS, record_event
from webapp.models import SecurityEvent, Team, TeamLeader
from webapp.paging import page_arg, page_of
from webapp.teams import leader_required

__all__ = ["bp", "record_event"]

bp = Blueprint("events", __name__, url_prefix="/teams/<id:team_id>/events")

EVENTS_PER_PAGE = 50


@bp.app_context_processor
def _labels() -> dict[str, dict[str, str]]:
    return {"security_event_labels": ACTIONS}


def team_events(team_id: int) -> Select:
    """The team's events: those acting on the team, and sign-ins and sign-outs of its leaders' accounts."""
    leaders = TeamLeader.select(TeamLeader.user).where(TeamLeader.team == team_id)
    account_events = SecurityEvent.team.is_null() & SecurityEvent.user.in_(leaders)
    return SecurityEvent.select().where((SecurityEvent.team == team_id) | account_events)


@bp.get("/")
@leader_required
def index(team: Team) -> str:
    events = page_of(team_events(team.id).order_by(SecurityEvent.id.desc()), page_arg(), EVENTS_PER_PAGE)
    template = "events/_list.html" if htmx_request.htmx else "events/index.html"
    return render_template(template, team=team, events=events)
