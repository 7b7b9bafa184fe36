"""Saving, replacing and removing a team's Entra connection."""
from fake_entra import demo
from webapp import connections
from webapp.microsoft import ConnectionExpired, NetworkError
from webapp.models import EntraConnection, SyncSettings

TENANT_A = "7c3e5a1d-2b4f-4e8a-9d6c-1f0b3a5c7e9d"
TENANT_B = "2a8f6d4b-9c1e-4b7a-8e3d-5f2c7a9b1d4e"
CLIENT_ID = "9b2d4f6a-8c1e-4a3b-b5d7-e9f1a3c5b7d9"


def _box(app):
    return app.extensions["secret_box"]


def _choose_group(team):
    SyncSettings.create(team=team, group_id="g-1", group_name="Training", selected_user_ids='["u-1"]')


def test_oauth_connection_stores_the_refresh_token_encrypted(app, team, leader):
    saved = connections.save_oauth(team.id, TENANT_A, "Contoso", "0.Arefresh-token", _box(app), leader.id)
    row = EntraConnection.get_by_id(saved.id)
    assert (row.method, row.tenant_id, row.tenant_name, row.connected_by_id) == ("oauth", TENANT_A, "Contoso",
                                                                                  leader.id)
    assert "0.Arefresh-token" not in row.refresh_token_encrypted
    assert _box(app).decrypt(row.refresh_token_encrypted) == "0.Arefresh-token"


def test_reconnecting_to_the_same_tenant_keeps_the_sync_group(app, team):
    connections.save_oauth(team.id, TENANT_A, "Contoso", "first", _box(app))
    _choose_group(team)
    connections.save_oauth(team.id, TENANT_A.upper(), "Contoso", "second", _box(app))
    assert EntraConnection.select().where(EntraConnection.team == team).count() == 1
    assert SyncSettings.get(SyncSettings.team == team).group_id == "g-1"


def test_switching_tenant_replaces_the_connection_and_clears_the_sync_group(app, team):
    connections.save_oauth(team.id, TENANT_A, "Contoso", "first", _box(app))
    _choose_group(team)
    connections.mark_error(connections.connection_of(team.id).id, "The Microsoft connection has expired: reconnect.")
    saved = connections.save_enterprise_app(team.id, TENANT_B, CLIENT_ID, "s3cret~value", _box(app))
    assert (saved.method, saved.tenant_id, saved.client_id, saved.error) == ("enterprise_app", TENANT_B, CLIENT_ID,
                                                                            None)
    assert saved.refresh_token_encrypted is None
    assert _box(app).decrypt(saved.client_secret_encrypted) == "s3cret~value"
    settings = SyncSettings.get(SyncSettings.team == team)
    assert (settings.group_id, settings.group_name, settings.selected_user_ids) == (None, "", None)


def test_saving_without_a_secret_keeps_the_saved_one(app, team):
    connections.save_enterprise_app(team.id, TENANT_A, CLIENT_ID, "first~secret", _box(app))
    saved = connections.save_enterprise_app(team.id, TENANT_A, CLIENT_ID, None, _box(app), tenant_name="Contoso")
    assert _box(app).decrypt(saved.client_secret_encrypted) == "first~secret"
    assert saved.tenant_name == "Contoso"


def test_disconnect_removes_the_connection_and_the_group(app, team):
    connections.save_oauth(team.id, TENANT_A, "Contoso", "token", _box(app))
    _choose_group(team)
    connections.disconnect(team.id)
    assert connections.connection_of(team.id) is None
    assert SyncSettings.get(SyncSettings.team == team).group_id is None


def test_errors_a_leader_must_fix_are_kept_on_the_connection(app, team):
    connection = connections.save_oauth(team.id, TENANT_A, "Contoso", "token", _box(app))
    assert connections.note_failure(connection, NetworkError()) is False
    assert connections.connection_of(team.id).error is None
    assert connections.note_failure(connection, ConnectionExpired()) is True
    assert connections.connection_of(team.id).error == "The Microsoft connection has expired: reconnect."
    connections.clear_error(connection.id)
    assert connections.connection_of(team.id).error is None


def test_processes_share_one_access_token_through_redis(app, team, fake_entra):
    connection = connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                                 demo.ENTERPRISE_APP_SECRET, _box(app))
    for _ in range(3):
        client = connections.graph_client_for(connection, _box(app), fake_entra.authority_url, fake_entra.graph_url,
                                              redis=app.extensions["redis"])
        assert [group["displayName"] for group in client.search_groups("train")] == ["Training"]
    assert fake_entra.control.counts() == {"POST /token": 1, "GET /groups": 3}
    cached = app.extensions["redis"].get(connections.token_key(connection)).decode()
    assert cached.startswith("gAAAA")
    connections.forget_access_token(app.extensions["redis"], connection)
    connections.graph_client_for(connection, _box(app), fake_entra.authority_url, fake_entra.graph_url,
                                 redis=app.extensions["redis"]).search_groups("train")
    assert fake_entra.control.counts()["POST /token"] == 2
