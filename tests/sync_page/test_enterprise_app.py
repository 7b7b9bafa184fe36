"""Create Your Own Enterprise App: input checks, Microsoft's answers next to the field at fault, the saved secret."""
import uuid
from html import unescape

import pytest

from fake_entra import demo
from tests.sync_page.conftest import page_url
from webapp import connections
from webapp.models import SyncSettings

HTMX = {"HX-Request": "true"}


def load_groups(client, team, tenant_id=demo.TENANT_ID, client_id=demo.ENTERPRISE_APP_CLIENT_ID,
                client_secret=demo.ENTERPRISE_APP_SECRET):
    return client.post(page_url(team, "enterprise-app"), headers=HTMX, data={
        "tenant_id": tenant_id, "client_id": client_id, "client_secret": client_secret})


def field_error(html, field):
    """The message shown under one field of the form."""
    marker = f'id="ea-{field}-error">'
    assert marker in html, f"no error shown for {field}"
    return unescape(html.split(marker, 1)[1].split("</span>", 1)[0])


def test_input_is_checked_before_anything_is_sent(entra, signed_in, team):
    entra.control.reset_counts()
    response = load_groups(signed_in, team, tenant_id="organizations", client_id="my-app",
                           client_secret=demo.ENTERPRISE_APP_SECRET_ID)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not \u201corganizations\u201d" in field_error(html, "tenant_id")
    assert "The Client ID is a GUID" in field_error(html, "client_id")
    assert field_error(html, "client_secret") == ("The client secret is wrong. Paste the secret's Value, not its "
                                                  "Secret ID.")
    assert entra.control.counts() == {}
    assert connections.connection_of(team.id) is None


@pytest.mark.parametrize("change, field, message", [
    ({"client_secret": "wrong~secret.value"}, "client_secret",
     "The client secret is wrong. Paste the secret's Value, not its Secret ID."),
    ({"client_secret": demo.ENTERPRISE_APP_EXPIRED_SECRET}, "client_secret",
     "The client secret has expired: create a new one in Certificates & secrets."),
    ({"client_id": str(uuid.UUID(int=7))}, "client_id", "No application with this Client ID exists in this tenant."),
    ({"tenant_id": demo.FABRIKAM_TENANT_ID}, "client_id", "No application with this Client ID exists in this tenant."),
    ({"tenant_id": str(uuid.UUID(int=42))}, "tenant_id", "Tenant not found: check the Directory (tenant) ID."),
])
def test_microsofts_refusals_are_shown_next_to_the_field(entra, signed_in, team, change, field, message):
    response = load_groups(signed_in, team, **change)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, field) == message
    assert change.get("client_secret", "~none~") not in html
    assert connections.connection_of(team.id) is None


def test_a_missing_permission_says_which_one_to_grant(entra, signed_in, team):
    entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, "application")
    html = load_groups(signed_in, team).get_data(as_text=True)
    assert "an administrator must grant the app the GroupMember.Read.All permission" in html
    assert connections.connection_of(team.id) is None


def test_load_groups_connects_lists_groups_and_keeps_the_secret_hidden(entra, signed_in, team, app):
    response = load_groups(signed_in, team, tenant_id=demo.TENANT_DOMAIN)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Connected to <strong>{demo.TENANT_DOMAIN}</strong> with your Enterprise App" in html
    assert 'id="sync-settings"' in html and 'hx-swap-oob="true"' in html
    for name in ("All Staff", "Engineering", "Training"):
        assert f'<span class="name">{name}</span>' in html
    assert '<span class="badge saved">saved</span>' in html and "<summary>Replace</summary>" in html
    assert demo.ENTERPRISE_APP_SECRET not in html
    saved = connections.connection_of(team.id)
    assert (saved.method, saved.tenant_id, saved.tenant_name, saved.client_id) == (
        "enterprise_app", demo.TENANT_ID, demo.TENANT_DOMAIN, demo.ENTERPRISE_APP_CLIENT_ID)
    assert app.extensions["secret_box"].decrypt(saved.client_secret_encrypted) == demo.ENTERPRISE_APP_SECRET
    page = signed_in.get(page_url(team)).get_data(as_text=True)
    assert demo.ENTERPRISE_APP_SECRET not in page and "saved" in page


def test_the_saved_secret_is_kept_unless_replaced(entra, signed_in, team, app):
    load_groups(signed_in, team)
    again = load_groups(signed_in, team, client_secret="")
    assert again.status_code == 200 and "with your Enterprise App" in again.get_data(as_text=True)
    wrong = load_groups(signed_in, team, client_secret="replaced~but.wrong")
    assert field_error(wrong.get_data(as_text=True), "client_secret").startswith("The client secret is wrong.")
    box = app.extensions["secret_box"]
    assert box.decrypt(connections.connection_of(team.id).client_secret_encrypted) == demo.ENTERPRISE_APP_SECRET


def test_microsoft_unreachable_is_said_plainly(app, signed_in, team):
    app.config.update(ENTRA_AUTHORITY_URL="http://127.0.0.1:9", GRAPH_API_URL="http://127.0.0.1:9/v1.0")
    html = load_groups(signed_in, team).get_data(as_text=True)
    assert "Microsoft could not be reached; try again in a few minutes." in html


def test_a_domain_is_stored_as_the_tenant_guid_so_the_sync_group_survives(entra, signed_in, team, app):
    connections.save_oauth(team.id, demo.TENANT_ID, demo.TENANT_DOMAIN, "0.Arefresh", app.extensions["secret_box"])
    SyncSettings.create(team=team, group_id=demo.group_id("Training"), group_name="Training")
    assert load_groups(signed_in, team, tenant_id=demo.TENANT_DOMAIN).status_code == 200
    assert connections.connection_of(team.id).tenant_id == demo.TENANT_ID
    assert SyncSettings.get(SyncSettings.team == team).group_name == "Training"
