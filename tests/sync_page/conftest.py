"""Fixtures for the Azure Entra Sync page: the app pointed at fake_entra, and walking its sign-in."""
from urllib.parse import urlsplit

import pytest

from fake_entra import demo


@pytest.fixture
def entra(app, fake_entra):
    """The app talking to the fake Microsoft with the demo portal app registration."""
    app.config.update(ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url,
                      MS_CLIENT_ID=demo.PORTAL_CLIENT_ID, MS_CLIENT_SECRET=demo.PORTAL_CLIENT_SECRET)
    return fake_entra


def page_url(team, suffix=""):
    return f"/teams/{team.id}/entra-sync/{suffix}"


def start_connect(client, team, mode="switch"):
    """Press Connect Microsoft OAuth (or Reconnect); returns Microsoft's authorize URL."""
    response = client.post(page_url(team, "connect"), data={"mode": mode})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def return_to_portal(client, callback_url):
    """Feed Microsoft's redirect back to the portal and follow it to the page."""
    parts = urlsplit(callback_url)
    assert parts.path == "/entra/oauth/callback"
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=True)


def connect_oauth(client, team, entra, email=demo.ADMIN_EMAIL, mode="switch", **sign_in):
    """The whole Connect Microsoft OAuth round trip; returns the page the leader lands on."""
    return return_to_portal(client, entra.sign_in(start_connect(client, team, mode), email, **sign_in))
