"""The Azure Entra Sync page."""
from flask import Blueprint, render_template

from webapp.teams import leader_required

bp = Blueprint("sync", __name__, url_prefix="/teams/<int:team_id>/entra-sync")


@bp.get("/")
@leader_required
def index(team):
    return render_template("sync/index.html", team=team)
