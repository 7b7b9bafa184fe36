"""Team Leader → Manage Team: choosing the team and checking who may see it."""
from functools import wraps

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from webapp.models import Team, TeamLeader

bp = Blueprint("teams", __name__)


def led_teams(user):
    return Team.select().join(TeamLeader).where(TeamLeader.user == user).order_by(Team.name)


def leader_required(view):
    """Resolve the `team_id` URL part to a Team the signed-in user leads, else 404."""

    @wraps(view)
    def wrapped(team_id, **kwargs):
        team = (Team.select().join(TeamLeader)
                .where((Team.id == team_id) & (TeamLeader.user == current_user.id)).first())
        if team is None:
            abort(404)
        return view(team=team, **kwargs)

    return login_required(wrapped)


@bp.route("/")
@bp.route("/teams/")
@login_required
def index():
    """Manage Team: straight to the team when there is one, a picker otherwise."""
    teams = list(led_teams(current_user))
    if len(teams) == 1:
        return redirect(url_for("members.index", team_id=teams[0].id))
    return render_template("teams/index.html", teams=teams)
