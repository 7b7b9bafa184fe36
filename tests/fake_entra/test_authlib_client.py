"""The portal's OAuth library (Authlib's Flask client) against the emulator, issuer quirk included."""

from urllib.parse import urlsplit

import pytest
from authlib.integrations.flask_client import OAuth
from flask import Flask
from joserfc.errors import InvalidClaimError

from fake_entra import demo

from .oauth import REDIRECT_URI, SCOPE


def make_client(server, claims_options):
    """A Flask app with an Authlib client registered on the organizations authority."""
    app = Flask(__name__)
    app.secret_key = "test"
    app.testing = True
    oauth = OAuth(app)
    oauth.register("microsoft", client_id=demo.PORTAL_CLIENT_ID, client_secret=demo.PORTAL_CLIENT_SECRET,
                   server_metadata_url=f"{server.authority_url}/organizations/v2.0/.well-known/openid-configuration",
                   client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"})
    received = {}

    @app.route("/login")
    def login():
        return oauth.microsoft.authorize_redirect(REDIRECT_URI, response_mode="query")

    @app.route("/entra/oauth/callback")
    def callback():
        received.update(oauth.microsoft.authorize_access_token(claims_options=claims_options))
        return "connected"
    return app.test_client(), received


def run_flow(server, client):
    """Start at /login, walk the fake pages, deliver the redirect to the callback."""
    final = urlsplit(server.sign_in(client.get("/login").headers["Location"]))
    return client.get(f"{final.path}?{final.query}")


def test_authlib_connects_with_the_issuer_check_from_the_doc(fake_entra):
    def issuer_matches_tid(claims, value):
        return value == f"{fake_entra.authority_url}/{claims['tid']}/v2.0"

    client, received = make_client(fake_entra, {"iss": {"essential": True, "validate": issuer_matches_tid}})
    assert run_flow(fake_entra, client).data == b"connected"
    assert received["userinfo"]["tid"] == demo.TENANT_ID
    assert received["refresh_token"]


def test_authlib_default_issuer_check_fails_like_microsoft(fake_entra):
    client, _ = make_client(fake_entra, None)
    with pytest.raises(InvalidClaimError):
        run_flow(fake_entra, client)
