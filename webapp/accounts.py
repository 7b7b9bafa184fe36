"""Creating users and leaders outside a request (commands, demo data, tests)."""
from werkzeug.security import generate_password_hash

from webapp.db import database
from webapp.models import Team, TeamLeader, User


def make_leader(email, team_id, password, name=""):
    """Create or promote the user with this email as leader (and member) of the team."""
    team = Team.get_by_id(team_id)
    email = email.strip().lower()
    with database.atomic():
        user = User.get_or_none(User.email == email)
        if user is None:
            user = User.create(email=email, name=name or email.split("@")[0], team=team)
        user.password_hash = generate_password_hash(password)
        user.active = True
        if user.team_id is None:
            user.team = team
        user.save()
        TeamLeader.get_or_create(team=team, user=user)
    return user
