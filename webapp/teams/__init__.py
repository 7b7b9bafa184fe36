"""Team Leader → Manage Team: choosing the team and checking who may see it."""
from functools import wraps

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from playhouse.flask_utils import get_object_or_404

from webapp.models import Team, TeamLeader

bp = Blueprint("teams", __name__)


def led_teams(user):
    return Team.select().join(TeamLeader).where(TeamLeader.user == user).order_by(Team.name)


def led_team_or_404(team_id):
    """The team with this id if the signed-in user leads it, else 404."""
    return get_object_or_404(Team.select().join(TeamLeader), (Team.id == team_id) & (TeamLeader.user == current_user.id))


def leader_required(view):
    """Resolve the `team_id` URL part to a Team the signed-in user leads, else 404."""

    @wraps(view)
    def wrapped(team_id, **kwargs):
        return view(team=led_team_or_404(team_id), **kwargs)

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
