"""The PowerShell script and the command name the same permissions, scope and steps (both come from one declaration)."""
import re

import pytest
import requests

from entra_setup import declaration
from entra_setup.powershell import script
from fake_entra import demo
from tests.setup_command.helpers import run_setup


@pytest.fixture(autouse=True)
def quick_device_codes(fake_entra):
    fake_entra.control.set_device_code(interval=1)


def test_the_script_and_the_command_do_the_same_steps_with_the_same_permissions_and_scope(fake_entra):
    text = script()
    run = run_setup(fake_entra, "--name", "Drift Check")
    assert run.status == 0, run.output
    command_steps = re.findall(r"^  ✓ (.+?): ", run.output, re.M)
    script_steps = [line[2:] for line in text.splitlines() if line.startswith("# ") and line[2:] in
                    dict(declaration.STEPS).values()]
    assert command_steps == script_steps == [title for _, title in declaration.STEPS]

    script_permissions = re.search(r"^\$Permissions = @\((.*)\)$", text, re.M).group(1)
    assert re.findall(r"'([^']+)'", script_permissions) == ["GroupMember.Read.All", "User.Read.All"]
    token = requests.post(f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": run.values["Client ID"],
        "client_secret": run.values["Client Secret"], "scope": "https://graph.microsoft.com/.default"}).json()
    applications = requests.get(f"{fake_entra.graph_url}/servicePrincipals?$filter=appId eq "
                                f"'{run.values['Client ID']}'", timeout=30,
                                headers={"Authorization": f"Bearer {token['access_token']}"})
    assert applications.status_code == 403  # the app itself may only read groups and users
    assert f"Value = '{declaration.SCOPE['value']}'" in text
    assert f"api://{run.values['Client ID']}/{declaration.SCOPE['value']}" in run.output
    for name in ("Connect-MgGraph", "New-MgApplication", "New-MgServicePrincipal",
                 "New-MgServicePrincipalAppRoleAssignment", "Update-MgApplication", "Add-MgApplicationPassword"):
        assert name in text


def test_the_guides_extra_permissions_only_on_request():
    assert "'User.Export.All'" not in script()
    assert "'Group.Read.All', 'User.Export.All'" in script(guide_permissions=True)


def test_the_sync_page_offers_the_script(app, signed_in, team):
    page = signed_in.get(f"/teams/{team.id}/entra-sync/").get_data(as_text=True)
    assert f"/teams/{team.id}/entra-sync/register-app.ps1" in page and "python -m entra_setup" in page
    download = signed_in.get(f"/teams/{team.id}/entra-sync/register-app.ps1")
    assert download.get_data(as_text=True) == script()
    assert "attachment" in download.headers["Content-Disposition"]
