"""Helpers for the authorization code flow against the emulator."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from fake_entra import demo

REDIRECT_URI = "http://localhost:5000/entra/oauth/callback"
SCOPE = ("openid profile email offline_access https://graph.microsoft.com/GroupMember.Read.All "
         "https://graph.microsoft.com/User.Read.All")


def authorize_url(server, tenant: str = "organizations", **overrides) -> tuple[str, dict]:
    """An authorize URL with PKCE, state and nonce; also the values to check later."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"client_id": demo.PORTAL_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
              "scope": SCOPE, "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256", "response_mode": "query"}
    params.update(overrides)
    return f"{server.authority_url}/{tenant}/oauth2/v2.0/authorize?{urlencode(params)}", dict(params, verifier=verifier)


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a redirect URL."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def redeem(server, code: str, verifier: str, redirect_uri: str = REDIRECT_URI, tenant: str = "organizations",
           **extra) -> requests.Response:
    """POST the code to the token endpoint."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": demo.PORTAL_CLIENT_ID,
            "client_secret": demo.PORTAL_CLIENT_SECRET, **extra}
    return requests.post(server.token_url(tenant), data=data, timeout=30)


def refresh(server, refresh_token: str) -> requests.Response:
    """POST a refresh token grant."""
    return requests.post(server.token_url("organizations"), data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": demo.PORTAL_CLIENT_ID,
        "client_secret": demo.PORTAL_CLIENT_SECRET}, timeout=30)


def connect(server, email: str = demo.ADMIN_EMAIL) -> dict:
    """Sign in, consent for the organisation and redeem the code: the token response."""
    url, sent = authorize_url(server)
    code = query_of(server.sign_in(url, email))["code"]
    response = redeem(server, code, sent["verifier"])
    assert response.status_code == 200, response.text
    return response.json()
