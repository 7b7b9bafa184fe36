"""`flask rotate-keys`: after a new key is put first in ENCRYPTION_KEY, every stored secret, refresh token and
private key is encrypted with it, so the old key can be dropped (SQLite and PostgreSQL)."""
import pytest
from cryptography.fernet import Fernet

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY
from webapp import connections, create_app
from webapp.certificates import make_certificate
from webapp.crypto import SecretBox
from webapp.db import database
from webapp.models import EntraConnection, TeamCertificate

NEW_KEY = Fernet.generate_key().decode()


def portal_with_keys(app, keys):
    """The portal started again on the same database with another ENCRYPTION_KEY."""
    database.close()
    return create_app({"TESTING": True, "SECRET_KEY": app.config["SECRET_KEY"],
                       "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": app.config["REDIS_URL"],
                       "INSTANCE_DIR": app.config["INSTANCE_DIR"], "ENCRYPTION_KEY": keys})


def stored_secrets():
    with database.connection_context():
        rows = [(row.client_secret_encrypted, row.refresh_token_encrypted) for row in EntraConnection.select()]
        keys = [row.private_key_encrypted for row in TeamCertificate.select()]
    return sorted(value for pair in rows for value in pair if value) + sorted(keys)


@pytest.fixture
def secrets_under_the_old_key(app, make_team):
    box = app.extensions["secret_box"]
    enterprise_team, oauth_team = make_team("Enterprise"), make_team("OAuth")
    connections.save_enterprise_app(enterprise_team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, box)
    connections.save_oauth(oauth_team.id, demo.TENANT_ID, demo.TENANT_NAME, "0.Arefresh-token", box)
    certificate = make_certificate(oauth_team.id, box)
    return enterprise_team, box.decrypt(certificate.private_key_encrypted)


def test_rotate_keys_re_encrypts_every_stored_secret_with_the_new_key(app, secrets_under_the_old_key, fake_entra):
    enterprise_team, private_key = secrets_under_the_old_key
    before = stored_secrets()

    result = portal_with_keys(app, f"{NEW_KEY},{ENCRYPTION_KEY}").test_cli_runner().invoke(args=["rotate-keys"])

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 stored secrets" in result.output
    after = stored_secrets()
    assert len(after) == 3 and not set(after) & set(before)
    new_only, old_only = SecretBox(NEW_KEY), SecretBox(ENCRYPTION_KEY)
    assert sorted(new_only.decrypt(value) for value in after) == sorted(
        [demo.ENTERPRISE_APP_SECRET, "0.Arefresh-token", private_key])
    for value in after:
        with pytest.raises(ValueError):
            old_only.decrypt(value)
    portal_with_keys(app, NEW_KEY)
    with database.connection_context():
        graph = connections.graph_client_for(connections.connection_of(enterprise_team.id), new_only,
                                             fake_entra.authority_url, fake_entra.graph_url)
        assert [group["displayName"] for group in graph.search_groups("train")] == ["Training"]


def test_rotate_keys_without_the_old_key_changes_nothing_and_says_why(app, secrets_under_the_old_key):
    before = stored_secrets()

    result = portal_with_keys(app, NEW_KEY).test_cli_runner().invoke(args=["rotate-keys"])

    assert result.exit_code == 1
    assert "could not be decrypted" in result.output and "ENCRYPTION_KEY" in result.output
    assert stored_secrets() == before
