"""Connect Microsoft OAuth against fake_entra over real HTTP, and every way it can end in red."""
from urllib.parse import parse_qs, urlsplit

from fake_entra import demo
from tests.sync_page.conftest import connect_oauth, page_url, return_to_portal, start_connect
from webapp import connections
from webapp.models import EntraConnection, SyncSettings, TeamLeader
from webapp.sync.oauth import issuer_matches_tenant


def _text(response):
    return response.get_data(as_text=True)


def test_connect_shows_the_green_check_and_the_tenant(entra, signed_in, team, app, leader):
    authorize = start_connect(signed_in, team)
    query = parse_qs(urlsplit(authorize).query)
    assert urlsplit(authorize).path == "/organizations/oauth2/v2.0/authorize"
    assert query["code_challenge_method"] == ["S256"] and query["response_mode"] == ["query"]
    assert query["nonce"] and query["state"] and query["code_challenge"]
    assert query["redirect_uri"] == ["http://localhost/entra/oauth/callback"]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email", "offline_access",
                                              "https://graph.microsoft.com/GroupMember.Read.All",
                                              "https://graph.microsoft.com/User.Read.All"}

    page = return_to_portal(signed_in, entra.sign_in(authorize))
    html = _text(page)
    assert 'class="big-check"' in html and "✓" in html
    assert f"Connected to <strong>{demo.TENANT_DOMAIN}</strong>" in html
    assert "Sync Group" in html
    row = EntraConnection.get(EntraConnection.team == team)
    assert (row.method, row.tenant_id, row.connected_by_id, row.error) == ("oauth", demo.TENANT_ID, leader.id, None)
    refresh_token = app.extensions["secret_box"].decrypt(row.refresh_token_encrypted)
    assert refresh_token not in html and refresh_token not in row.refresh_token_encrypted


def test_refused_consent_ends_in_red_with_what_to_do(entra, signed_in, team):
    page = connect_oauth(signed_in, team, entra, accept=False)
    html = _text(page)
    assert 'class="alert bad"' in html and "Consent was refused" in html
    assert "Click Connect Microsoft OAuth again and accept the permissions" in html
    assert connections.connection_of(team.id) is None


def test_a_forged_or_stale_state_is_refused(entra, signed_in, team):
    callback = entra.sign_in(start_connect(signed_in, team))
    forged = callback.replace("state=", "state=forged")
    page = return_to_portal(signed_in, forged)
    assert "The sign-in could not be matched to this page" in _text(page)
    assert connections.connection_of(team.id) is None


def test_the_callback_rechecks_that_the_user_leads_the_team(entra, signed_in, team, leader):
    callback = entra.sign_in(start_connect(signed_in, team))
    TeamLeader.delete().where(TeamLeader.user == leader.id).execute()
    parts = urlsplit(callback)
    assert signed_in.get(f"{parts.path}?{parts.query}").status_code == 404
    assert connections.connection_of(team.id) is None


def test_a_connect_started_before_sign_out_is_void_after_signing_in_again(entra, signed_in, team, auth, make_team,
                                                                          make_leader_of):
    callback = entra.sign_in(start_connect(signed_in, team))
    other = make_leader_of(make_team("Other team"))
    auth.logout()
    auth.login(other.email)
    parts = urlsplit(callback)
    response = signed_in.get(f"{parts.path}?{parts.query}")
    assert (response.status_code, response.headers["Location"]) == (302, "/teams/")
    assert connections.connection_of(team.id) is None


def test_reconnect_with_a_user_of_another_tenant_keeps_the_connection(entra, signed_in, team):
    connect_oauth(signed_in, team, entra)
    SyncSettings.create(team=team, group_id=demo.group_id("Training"), group_name="Training")
    page = connect_oauth(signed_in, team, entra, email=demo.FABRIKAM_ADMIN_EMAIL, mode="reconnect")
    html = _text(page)
    assert "You signed in with an account of another Microsoft 365 tenant (fabrikam-training.onmicrosoft.com)" in html
    assert "click Reconnect" in html and "Connect another tenant" in html
    assert connections.connection_of(team.id).tenant_id == demo.TENANT_ID
    assert SyncSettings.get(SyncSettings.team == team).group_name == "Training"


def test_connect_another_tenant_replaces_the_connection_and_clears_the_group(entra, signed_in, team):
    connect_oauth(signed_in, team, entra)
    SyncSettings.create(team=team, group_id=demo.group_id("Training"), group_name="Training")
    page = connect_oauth(signed_in, team, entra, email=demo.FABRIKAM_ADMIN_EMAIL, mode="switch")
    assert f"Connected to <strong>{demo.FABRIKAM_DOMAIN}</strong>" in _text(page)
    assert EntraConnection.select().where(EntraConnection.team == team).count() == 1
    assert connections.connection_of(team.id).tenant_id == demo.FABRIKAM_TENANT_ID
    assert SyncSettings.get(SyncSettings.team == team).group_id is None


def test_the_refresh_token_is_rotated_on_every_use(entra, signed_in, team, app):
    connect_oauth(signed_in, team, entra)
    box = app.extensions["secret_box"]
    first = box.decrypt(connections.connection_of(team.id).refresh_token_encrypted)
    assert "Sales Leadership" in _text(signed_in.get(page_url(team, "groups?group_q=sales")))
    second = box.decrypt(connections.connection_of(team.id).refresh_token_encrypted)
    assert second != first
    app.extensions["redis"].flushdb()
    assert "Training" in _text(signed_in.get(page_url(team, "groups?group_q=train")))
    assert box.decrypt(connections.connection_of(team.id).refresh_token_encrypted) not in (first, second)


def test_a_revoked_refresh_token_shows_reconnect_in_red(entra, signed_in, team):
    connect_oauth(signed_in, team, entra)
    entra.control.revoke_refresh_tokens()
    options = _text(signed_in.get(page_url(team, "groups?group_q=sales")))
    assert "The Microsoft connection has expired: reconnect." in options and "Sales" not in options
    page = _text(signed_in.get(page_url(team)))
    assert "needs attention" in page and "The Microsoft connection has expired: reconnect." in page
    assert "Reconnect" in page
    reconnected = _text(connect_oauth(signed_in, team, entra, mode="reconnect"))
    assert "needs attention" not in reconnected and connections.connection_of(team.id).error is None


def test_disconnect_removes_the_connection(entra, signed_in, team):
    connect_oauth(signed_in, team, entra)
    response = signed_in.post(page_url(team, "disconnect"), headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == page_url(team)
    page = _text(signed_in.get(page_url(team)))
    assert "Connect Microsoft OAuth</button>" in page and "Connected to" not in page
    assert connections.connection_of(team.id) is None


def test_microsoft_unreachable_is_said_plainly(app, signed_in, team):
    app.config.update(ENTRA_AUTHORITY_URL="http://127.0.0.1:9", MS_CLIENT_ID=demo.PORTAL_CLIENT_ID,
                      MS_CLIENT_SECRET=demo.PORTAL_CLIENT_SECRET)
    page = signed_in.post(page_url(team, "connect"), data={"mode": "switch"}, follow_redirects=True)
    assert "Microsoft could not be reached; try again in a few minutes." in _text(page)


def test_the_issuer_must_be_the_authority_of_the_tokens_own_tenant(app):
    with app.app_context():
        authority = app.config["ENTRA_AUTHORITY_URL"]
        claims = {"tid": demo.TENANT_ID}
        assert issuer_matches_tenant(claims, f"{authority}/{demo.TENANT_ID}/v2.0")
        assert not issuer_matches_tenant(claims, f"{authority}/{demo.FABRIKAM_TENANT_ID}/v2.0")
        assert not issuer_matches_tenant(claims, f"{authority}/{{tenantid}}/v2.0")
        assert not issuer_matches_tenant({}, f"{authority}/{demo.TENANT_ID}/v2.0")


def test_connect_without_a_portal_app_says_so(app, signed_in, team):
    page = signed_in.post(page_url(team, "connect"), data={"mode": "switch"}, follow_redirects=True)
    assert "Connect Microsoft OAuth is not configured (MS_CLIENT_ID is missing): ask your operator." in _text(page)
