"""Fixtures for the security tests: a member account that can sign in, and a second browser."""
import pytest

from tests.conftest import PASSWORD
from webapp.auth.passwords import hash_password
from webapp.models import User


@pytest.fixture
def make_client(app):
    """Another browser: a test client with cookies of its own."""
    return app.test_client


def sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def signed_out(client):
    """Whether the client's cookie no longer opens the portal (it is sent to the sign-in page)."""
    response = client.get("/teams/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def member_with_password(team):
    """A member of `team` whose account the team's sync created, who signs in to the platform with a password."""
    return User.create(email=f"learner.team{team.id}@example.com", name="Lee Learner", team=team,
                       synced_by_team=team, password_hash=hash_password(PASSWORD))
