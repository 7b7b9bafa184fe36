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


def test_with_the_pages_certificate_instead_of_a_secret(entra, signed_in, team, tmp_path):
    made = signed_in.post(page_url(team, "certificate"), headers=HTMX)
    html = unescape(made.get_data(as_text=True))
    assert made.status_code == 200 and "Download certificate" in html
    download = signed_in.get(page_url(team, "certificate.pem"))
    assert download.headers["Content-Disposition"] == f'attachment; filename="entra-team-sync-team-{team.id}.pem"'
    pem = download.get_data(as_text=True)
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" not in pem
    path = tmp_path / f"entra-team-sync-team-{team.id}.pem"
    path.write_text(pem)

    run = run_setup(entra, "--name", "Team Sync Certificate", "--certificate", str(path))
    assert run.status == 0, run.output
    assert "Client Secret" not in run.values and run.values["Certificate"] in html
    response = signed_in.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": run.values["Tenant ID"], "client_id": run.values["Client ID"], "credential": "certificate"})
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert "with your Enterprise App" in page and f"Certificate {run.values['Certificate']}" in page
    assert "The certificate expires on" in page
    assert "Engineering" in page and "PRIVATE KEY" not in page
    connection = connections.connection_of(team.id)
    assert connection.certificate.thumbprint == run.values["Certificate"]
    assert connection.client_secret_encrypted is None
    assert "PRIVATE KEY" not in connection.certificate.private_key_encrypted


def test_a_certificate_the_app_does_not_hold_is_refused_next_to_the_credential(entra, signed_in, team):
    signed_in.post(page_url(team, "certificate"), headers=HTMX)
    response = signed_in.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": demo.TENANT_ID, "client_id": demo.ENTERPRISE_APP_CLIENT_ID, "credential": "certificate"})
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Microsoft does not accept this team's certificate for the app" in html.split('id="ea-credential-error">')[1]
    assert connections.connection_of(team.id) is None
