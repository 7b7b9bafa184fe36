"""Team Leader → Manage Team: choosing the team and checking who may see it."""
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from peewee import ModelSelect
from playhouse.flask_utils import get_object_or_404

from webapp.models import Team, TeamLeader, User

bp = Blueprint("teams", __name__)


def led_teams(user: User) -> ModelSelect:
    return Team.select().join(TeamLeader).where(TeamLeader.user == user).order_by(Team.name)


def led_team_or_404(team_id: int) -> Team:
    """The team with this id if the signed-in user leads it, else 404."""
    return get_object_or_404(Team.select().join(TeamLeader),
                             (Team.id == team_id) & (TeamLeader.user == current_user.id))


def leader_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Resolve the `team_id` URL part to a Team the signed-in user leads, else 404."""

    @wraps(view)
    def wrapped(team_id: int, **kwargs: Any) -> ResponseReturnValue:
        return view(team=led_team_or_404(team_id), **kwargs)

    return login_required(wrapped)


@bp.route("/")
@bp.route("/teams/")
@login_required
def index() -> ResponseReturnValue:
    """Manage Team: straight to the team when there is one, a picker otherwise."""
    teams = list(led_teams(current_user))
    if len(teams) == 1:
        return redirect(url_for("members.index", team_id=teams[0].id))
    return render_template("teams/index.html", teams=teams)
