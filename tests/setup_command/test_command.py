"""`python -m entra_setup` against fake_entra: sign-in by device code, its failures, rights, reruns and undo."""
import base64
import json
import signal
import time

import pytest
import requests

from fake_entra import demo
from tests.setup_command.helpers import finish, run_setup, start_command

NAME = "Team Sync Command Test"


@pytest.fixture(autouse=True)
def quick_device_codes(fake_entra):
    fake_entra.control.set_device_code(interval=1)


def app_token(fake_entra, client_id, secret):
    return requests.post(f"{fake_entra.base_url}/{demo.TENANT_ID}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": "https://graph.microsoft.com/.default"}, timeout=30)


def test_the_app_gets_least_privilege_with_admin_consent_and_a_working_secret(fake_entra):
    run = run_setup(fake_entra, "--name", NAME)
    assert run.status == 0, run.output
    token = app_token(fake_entra, run.values["Client ID"], run.values["Client Secret"])
    assert token.status_code == 200, token.text
    claims = token.json()["access_token"].split(".")[1]
    roles = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["roles"]
    assert roles == ["GroupMember.Read.All", "User.Read.All"]
    group = requests.get(f"{fake_entra.graph_url}/groups/{demo.group_id('Engineering')}/transitiveMembers/"
                         "microsoft.graph.user?$count=true", timeout=30, headers={
                             "Authorization": f"Bearer {token.json()['access_token']}", "ConsistencyLevel": "eventual"})
    assert group.status_code == 200 and group.json()["value"]
    assert "Secret expires" in run.values and "shown this once" in run.output


def test_the_guides_extra_permissions_only_on_request(fake_entra):
    run = run_setup(fake_entra, "--name", NAME, "--guide-permissions")
    assert "GroupMember.Read.All, User.Read.All, Group.Read.All, User.Export.All" in run.output


def test_a_code_nobody_enters_expires_with_a_plain_message(fake_entra):
    fake_entra.control.set_device_code(lifetime=2, interval=1)
    process, url, code, seen = start_command(fake_entra, "--name", NAME)
    run = finish(process, seen)
    assert run.status == 1
    assert "The code expired before anyone signed in with it. Run the command again." in run.output
    assert "Nothing was changed in your tenant." in run.output


def test_declining_the_sign_in_changes_nothing(fake_entra):
    run = run_setup(fake_entra, "--name", NAME, accept=False)
    assert run.status == 1
    assert "The sign-in was declined. Nothing was changed." in run.output


def test_ctrl_c_while_waiting_cancels(fake_entra):
    process, url, code, seen = start_command(fake_entra, "--name", NAME)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    run = finish(process, seen)
    assert run.status == 130
    assert "Stopped: cancelled." in run.output and "Nothing was changed in your tenant." in run.output


def test_without_admin_rights_it_says_what_was_made_and_how_to_finish_or_undo(fake_entra):
    # An administrator allowed the command-line tools earlier; a user without an admin role runs the command.
    fake_entra.control.grant_consent(demo.TENANT_ID, demo.GRAPH_COMMAND_LINE_CLIENT_ID,
                                     delegated=("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"))
    run = run_setup(fake_entra, "--name", NAME, email=demo.MEMBER_EMAIL)
    assert run.status == 1
    assert ("Stopped: Microsoft refused to grant admin consent for the application permissions: the account you "
            "signed in with lacks the administrator role for it.") in run.output
    assert "Already done:" in run.output and "created 'Team Sync Command Test'" in run.output
    assert f"run this command with --delete --name '{NAME}'" in run.output
    finished = run_setup(fake_entra, "--name", NAME)
    assert finished.status == 0, finished.output
    assert "found 'Team Sync Command Test'" in finished.output
    assert app_token(fake_entra, finished.values["Client ID"], finished.values["Client Secret"]).status_code == 200
    undone = run_setup(fake_entra, "--name", NAME, "--delete")
    assert undone.status == 0 and "Deleted the app registration" in undone.output
    refused = app_token(fake_entra, finished.values["Client ID"], finished.values["Client Secret"])
    assert refused.json()["error_codes"] == [700016]


def test_a_bad_certificate_file_stops_before_the_sign_in(fake_entra, tmp_path):
    path = tmp_path / "not-a-certificate.pem"
    path.write_text("hello")
    process, url, code, seen = start_command(fake_entra, "--name", NAME, "--certificate", str(path))
    run = finish(process, seen)
    assert run.status == 1 and code is None
    assert "is not a PEM certificate" in run.output
    assert fake_entra.control.counts() == {}
