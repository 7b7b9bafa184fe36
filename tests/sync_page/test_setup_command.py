"""The guide's steps 1-6 from a terminal and the Sync page: `python -m entra_setup`, then Load Groups."""
from html import unescape

import pytest

from fake_entra import demo
from tests.setup_command.helpers import run_setup
from tests.sync_page.conftest import page_url
from webapp import connections

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def quick_device_codes(entra):
    entra.control.set_device_code(interval=1)


def load_groups(client, team, tenant_id, client_id, client_secret):
    return client.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": tenant_id, "client_id": client_id, "client_secret": client_secret})


def test_the_printed_values_connect_a_team_on_the_sync_page(entra, signed_in, team):
    run = run_setup(entra, "--name", "Team Sync Contoso")
    assert run.status == 0, run.output
    assert run.values["Tenant ID"] == demo.TENANT_ID
    response = load_groups(signed_in, team, run.values["Tenant ID"], run.values["Client ID"],
                           run.values["Client Secret"])
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 200, html
    assert "Connected to" in html and "with your Enterprise App" in html
    assert "Engineering" in html and "Mentoring Circle" in html
    connection = connections.connection_of(team.id)
    assert (connection.tenant_id, connection.client_id) == (demo.TENANT_ID, run.values["Client ID"])
    assert run.values["Client Secret"] not in html


def test_running_again_finds_the_app_and_only_adds_a_secret(entra, signed_in, team):
    first = run_setup(entra, "--name", "Team Sync Contoso")
    second = run_setup(entra, "--name", "Team Sync Contoso")
    assert second.status == 0, second.output
    assert second.values["Client ID"] == first.values["Client ID"]
    assert f"found 'Team Sync Contoso', Client ID {first.values['Client ID']}" in second.output
    assert second.values["Client Secret"] != first.values["Client Secret"]
    for secret in (first.values["Client Secret"], second.values["Client Secret"]):
        response = load_groups(signed_in, team, demo.TENANT_DOMAIN, first.values["Client ID"], secret)
        assert response.status_code == 200, unescape(response.get_data(as_text=True))
