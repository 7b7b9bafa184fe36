"""Fixtures for the security tests: the app pointed at fake_entra, a connected team and a finished run."""
import pytest

from fake_entra import demo
from tests.sync_page.conftest import entra  # noqa: F401  (the fixture)
from webapp import connections
from webapp.models import SyncOutcome, SyncRun, utcnow


@pytest.fixture
def connected(entra, app, team):  # noqa: F811
    """The team connected to the demo tenant with its enterprise app."""
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"])
    return entra


@pytest.fixture
def run(team):
    """A finished run of the team with one outcome."""
    run = SyncRun.create(team=team, trigger="manual", status="succeeded", finished_at=utcnow())
    SyncOutcome.create(run=run, action="added", name="Member 00001", email="member1@example.com")
    return run
