"""Connect Microsoft OAuth: authorization code + PKCE + state + nonce with Authlib, and its callback."""
import logging
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
import redis
from flask import abort, current_app, redirect, request, session, url_for
from werkzeug.wrappers import Response
from flask_login import current_user, login_required
from joserfc.errors import JoseError

from webapp import connections
from webapp.events import record_event
from webapp.microsoft import NetworkError, SlowToAnswer, TooManyWaiting
from webapp.models import Team
from webapp.sync import PAGE, bp
from webapp.sync.context import microsoft_slot
from webapp.sync.page import OAUTH_MESSAGE
from webapp.teams import led_team_or_404, leader_required

SCOPES = ("openid profile email offline_access https://graph.microsoft.com/GroupMember.Read.All "
          "https://graph.microsoft.com/User.Read.All")
LAST_TEAM = "entra_oauth_team"
log = logging.getLogger(__name__)

REFUSED = ("Consent was refused, so the portal cannot read your groups. Click Connect Microsoft OAuth again and "
           "accept the permissions; they need an administrator of your Microsoft 365 tenant, who can consent "
           "on behalf of the organisation.")
STATE_MISMATCH = ("The sign-in could not be matched to this page (it may have expired or been opened in another "
                  "tab). Click Connect Microsoft OAuth again.")
UNVERIFIED = "Microsoft's answer could not be verified, so nothing was saved. Click Connect Microsoft OAuth again."
NO_REFRESH_TOKEN = ("Microsoft did not grant offline access, so the portal could not stay connected. Click Connect "
                    "Microsoft OAuth again and accept every permission.")
NO_CODE = ("Microsoft's answer carried no authorization code, so nothing was saved. Go back to Azure Entra Sync "
           "and click Connect Microsoft OAuth again.")
FAILED = "Microsoft could not complete the sign-in ({}). Click Connect Microsoft OAuth to try again."
OTHER_TENANT = ("You signed in with an account of another Microsoft 365 tenant ({}), so this team stays connected "
                "to {}. Sign out of Microsoft, sign in with an account of {} and click Reconnect; or click "
                "Connect another tenant to switch this team to the other tenant.")


class RedisStateCache:
    """Keeps Authlib's state data (PKCE verifier, nonce) in Redis instead of the signed session cookie."""

    def __init__(self, redis: redis.Redis) -> None:
        self.redis = redis

    def get(self, key: str) -> Any:
        return self.redis.get("entra-oauth:" + key)

    def set(self, key: str, value: str, expires: int | None = None) -> None:
        self.redis.set("entra-oauth:" + key, value, ex=int(expires or 600))

    def delete(self, key: str) -> None:
        self.redis.delete("entra-oauth:" + key)


def microsoft() -> FlaskOAuth2App:
    """The Authlib client for the portal's app registration, built once per app from its settings."""
    app = current_app
    registry = app.extensions.get("entra_oauth")
    if registry is None:
        client_id, client_secret = connections.portal_app(app.config)
        registry = OAuth(app, cache=RedisStateCache(app.extensions["redis"]))
        registry.register(
            "microsoft", client_id=client_id, client_secret=client_secret,
            server_metadata_url=f"{app.config['ENTRA_AUTHORITY_URL']}/organizations/v2.0/.well-known/"
                                "openid-configuration",
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256",
                           "token_endpoint_auth_method": "client_secret_post",
                           "default_timeout": app.config["MICROSOFT_WEB_TIMEOUT_SECONDS"]})
        app.extensions["entra_oauth"] = registry
    return registry.microsoft


def unreachable_message(exc: Exception) -> str:
    """What the leader is told when Microsoft's sign-in endpoints did not answer in time or at all."""
    if isinstance(exc, TooManyWaiting):
        return exc.message
    if isinstance(exc, requests.Timeout):
        return SlowToAnswer.default_message
    return NetworkError.default_message


def issuer_matches_tenant(claims: dict[str, Any], value: str) -> bool:
    """Microsoft's multi-tenant issuer quirk: `iss` must be the authority's URL for the token's own `tid`."""
    tenant = claims.get("tid")
    return bool(tenant) and value == f"{current_app.config['ENTRA_AUTHORITY_URL']}/{tenant}/v2.0"


@bp.post(PAGE + "/connect")
@leader_required
def connect(team: Team) -> Response:
    """Send the leader to Microsoft; Reconnect expects the tenant already connected."""
    if not connections.portal_app(current_app.config)[0]:
        session[OAUTH_MESSAGE] = ("Connect Microsoft OAuth is not configured (MS_CLIENT_ID is missing): ask your "
                                  "operator.")
        return redirect(url_for("sync.index", team_id=team.id), code=303)
    connection = connections.connection_of(team.id)
    expect = None
    if request.form.get("mode") == "reconnect" and connection is not None:
        expect = {"tenant_id": connection.tenant_id, "tenant_name": connection.tenant_name}
    client = microsoft()
    redirect_uri = url_for("sync.oauth_callback", _external=True)
    try:
        with microsoft_slot():
            started = client.create_authorization_url(redirect_uri, response_mode="query", prompt="select_account")
    except (TooManyWaiting, requests.RequestException, OAuthError) as exc:
        session[OAUTH_MESSAGE] = unreachable_message(exc)
        return redirect(url_for("sync.index", team_id=team.id), code=303)
    client.save_authorize_data(redirect_uri=redirect_uri, team_id=team.id, expect=expect, **started)
    session[LAST_TEAM] = team.id
    return redirect(started["url"])


def _end(team: Team, message: str | None = None) -> Response:
    """Back to the team's page, with a red message when something went wrong."""
    if message:
        session[OAUTH_MESSAGE] = message
    return redirect(url_for("sync.index", team_id=team.id), code=303)


def _tenant_name(claims: dict[str, Any]) -> str:
    """The tenant's primary domain as the signed-in account shows it (Graph /organization needs more consent)."""
    username = claims.get("preferred_username") or ""
    return username.rsplit("@", 1)[1] if "@" in username else claims["tid"]


@bp.get("/entra/oauth/callback")
@login_required
def oauth_callback() -> Response:
    """Microsoft's redirect: check state and the leader, validate the id_token, store the connection."""
    client = microsoft()
    state = request.args.get("state", "")
    data = client.framework.get_state_data(session, state) if state else None
    if not data:
        last = session.pop(LAST_TEAM, None)
        return _end(led_team_or_404(last), STATE_MISMATCH) if last else redirect(url_for("teams.index"))
    team = led_team_or_404(data["team_id"])
    session.pop(LAST_TEAM, None)
    error = request.args.get("error")
    if error:
        client.framework.clear_state_data(session, state)
        log.info("Entra sign-in for team %s ended with %s", team.id, error)
        return _end(team, REFUSED if error in ("access_denied", "consent_required") else FAILED.format(error))
    if not request.args.get("code"):
        client.framework.clear_state_data(session, state)
        abort(400, description=NO_CODE)
    try:
        with microsoft_slot():
            token = client.authorize_access_token(claims_options={"iss": {"essential": True,
                                                                          "validate": issuer_matches_tenant}})
    except (TooManyWaiting, requests.RequestException) as exc:
        return _end(team, unreachable_message(exc))
    except OAuthError as exc:
        log.warning("Entra token exchange for team %s refused: %s", team.id, exc.error)
        return _end(team, FAILED.format(exc.error))
    except (JoseError, ValueError, KeyError) as exc:
        log.warning("Entra id_token for team %s rejected: %s", team.id, type(exc).__name__)
        return _end(team, UNVERIFIED)
    claims = token.get("userinfo") or {}
    if not claims.get("tid"):
        return _end(team, UNVERIFIED)
    if not token.get("refresh_token"):
        return _end(team, NO_REFRESH_TOKEN)
    expect = data.get("expect")
    if expect and expect["tenant_id"].lower() != claims["tid"].lower():
        return _end(team, OTHER_TENANT.format(_tenant_name(claims), expect["tenant_name"], expect["tenant_name"]))
    connections.save_oauth(team.id, claims["tid"], _tenant_name(claims), token["refresh_token"],
                           current_app.extensions["secret_box"], current_user.id)
    record_event("connected", team.id, detail=f"Connect Microsoft OAuth, tenant {claims['tid']}")
    return _end(team)

