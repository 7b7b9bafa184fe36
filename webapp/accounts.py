"""Creating users and leaders and setting passwords outside a request (commands, demo data, tests)."""
from webapp.auth import sessions
from webapp.auth.passwords import hash_password
from webapp.db import database
from webapp.models import Team, TeamLeader, User


def make_leader(email: str, team_id: int, password: str, name: str = "") -> User:
    """Create or promote the user with this email as leader (and member) of the team.

    Raises PasswordPolicyError when the password is refused; an existing account's sessions end."""
    team = Team.get_by_id(team_id)
    email = email.strip().lower()
    password_hash = hash_password(password)
    with database.atomic():
        user = User.get_or_none(User.email == email)
        if user is None:
            user = User.create(email=email, name=name or email.split("@")[0], team=team)
        else:
            sessions.end_all([user.id])
        user.password_hash = password_hash
        user.active = True
        if user.team_id is None:
            user.team = team
        user.save()
        TeamLeader.get_or_create(team=team, user=user)
    return user


def set_password(email: str, password: str) -> User | None:
    """Give the account a new password and end all its sessions; None when no account has this email.

    Raises PasswordPolicyError when the password is refused."""
    password_hash = hash_password(password)
    with database.atomic():
        user = User.get_or_none(User.email == email.strip().lower())
        if user is None:
            return None
        User.update(password_hash=password_hash).where(User.id == user.id).execute()
        sessions.end_all([user.id])
    return user
