"""The team's choice to get (or not) the emails about failing syncs, reviews, the health check and expiry."""
from flask import request

from webapp.events import record_event
from webapp.models import SyncSettings, Team, utcnow
from webapp.sync import PAGE, bp
from webapp.sync.enterprise import render_connection
from webapp.teams import leader_required


@bp.post(PAGE + "/emails")
@leader_required
def leader_emails(team: Team) -> str:
    wanted = request.form.get("leader_emails") == "1"
    if SyncSettings.update(leader_emails=wanted, updated_at=utcnow()).where(SyncSettings.team == team).execute() == 0:
        SyncSettings.create(team=team, leader_emails=wanted)
    record_event("sync_settings_changed", team.id, detail=f"Leader emails {'on' if wanted else 'off'}")
    return render_connection(team, emails_saved=True)
