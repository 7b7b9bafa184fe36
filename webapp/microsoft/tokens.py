"""Access tokens for Graph: app-only (client credentials) and delegated (refresh token), cached until near expiry."""

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from joserfc import jwt
from joserfc.jwk import RSAKey

from .errors import UnexpectedResponse, parse_json, token_error
from .http import Transport

GRAPH_DEFAULT_SCOPE = "https://graph.microsoft.com/.default"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 600
DELEGATED_SCOPE = (
    "offline_access https://graph.microsoft.com/GroupMember.Read.All https://graph.microsoft.com/User.Read.All"
)


class TokenProvider(Protocol):
    """What a Graph client needs from its tokens."""

    def access_token(self) -> str: ...

    def invalidate(self) -> None: ...


def token_url(authority_url: str, tenant: str) -> str:
    """The v2.0 token endpoint of `tenant` under `authority_url`."""
    return f"{authority_url.rstrip('/')}/{quote(tenant, safe='')}/oauth2/v2.0/token"


class _CachedTokenProvider:
    """Keeps one access token until `refresh_margin` seconds before it expires."""

    def __init__(self, token_endpoint: str, *, transport: Transport | None = None,
                 session: requests.Session | None = None, clock: Callable[[], float] = time.monotonic,
                 refresh_margin: float = 300.0) -> None:
        self.token_endpoint = token_endpoint
        self.transport = transport or Transport(session)
        self.clock = clock
        self.refresh_margin = refresh_margin
        self._access_token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def access_token(self) -> str:
        """A valid access token, fetched from Microsoft only when the cached one is near expiry."""
        with self._lock:
            if self._access_token is None or self.clock() >= self._renew_at:
                return self._store(self._request_token())
            return self._access_token

    def invalidate(self) -> None:
        """Forget the cached access token, so the next call fetches a new one."""
        with self._lock:
            self._access_token = None

    def _form(self) -> dict[str, str | None]:
        raise NotImplementedError

    def _request_token(self) -> dict[str, Any]:
        """POST the grant and return the decoded success body, or raise the typed error for its AADSTS code."""
        response = self.transport.request(
            "POST", self.token_endpoint, data=self._form(), headers={"Accept": "application/json"}
        )
        if response.status_code != 200:
            raise token_error(response.status_code, response.content)
        body = parse_json(response.content)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise UnexpectedResponse(status=response.status_code)
        return body

    def _store(self, body: dict[str, Any]) -> str:
        """Cache the token and return it; a short-lived token is renewed halfway through its life instead."""
        try:
            lifetime = float(body.get("expires_in", 3599))
        except (TypeError, ValueError):
            lifetime = 0.0
        token: str = body["access_token"]
        self._access_token = token
        self._renew_at = self.clock() + lifetime - min(self.refresh_margin, lifetime / 2)
        return token


@dataclass(frozen=True)
class ClientCertificate:
    """A certificate credential: the private key (PEM) signs, the certificate names the key by its thumbprint."""

    private_key_pem: str
    certificate_pem: str

    def __repr__(self) -> str:
        return "ClientCertificate(…)"

    def assertion(self, client_id: str, audience: str, now: float | None = None) -> str:
        """A signed client assertion (RS256, x5t = the certificate's SHA-1 thumbprint) for one token request."""
        certificate = x509.load_pem_x509_certificate(self.certificate_pem.encode())
        thumbprint = base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA1())).rstrip(b"=").decode()
        issued = int(time.time() if now is None else now)
        claims = {"aud": audience, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": issued,
                  "iat": issued, "exp": issued + ASSERTION_SECONDS}
        return jwt.encode({"alg": "RS256", "typ": "JWT", "x5t": thumbprint}, claims,
                          RSAKey.import_key(self.private_key_pem))


class AppOnlyTokenProvider(_CachedTokenProvider):
    """Client credentials grant for one tenant (Method 2, "Create Your Own Enterprise App"), proven by the
    client secret or, when `certificate` is given, by a client assertion signed with it."""

    def __init__(self, authority_url: str, tenant: str, client_id: str, client_secret: str | None = None, *,
                 certificate: ClientCertificate | None = None, **kwargs: Any) -> None:
        super().__init__(token_url(authority_url, tenant), **kwargs)
        self.client_id = client_id
        self._client_secret = client_secret
        self._certificate = certificate

    def __repr__(self) -> str:
        return f"AppOnlyTokenProvider(token_endpoint={self.token_endpoint!r}, client_id={self.client_id!r})"

    def _form(self) -> dict[str, str | None]:
        form: dict[str, str | None] = {"grant_type": "client_credentials", "client_id": self.client_id,
                                       "scope": GRAPH_DEFAULT_SCOPE}
        if self._certificate is not None:
            form.update(client_assertion_type=CLIENT_ASSERTION_TYPE,
                        client_assertion=self._certificate.assertion(self.client_id, self.token_endpoint))
        else:
            form["client_secret"] = self._client_secret
        return form


class DelegatedTokenProvider(_CachedTokenProvider):
    """Refresh token grant (Method 1, "Connect Microsoft OAuth"); every new refresh token goes to `on_rotate`."""

    def __init__(self, authority_url: str, client_id: str, client_secret: str | None, refresh_token: str,
                 on_rotate: Callable[[str], None], *, tenant: str = "organizations", scope: str = DELEGATED_SCOPE,
                 **kwargs: Any) -> None:
        super().__init__(token_url(authority_url, tenant), **kwargs)
        self.client_id = client_id
        self.scope = scope
        self.on_rotate = on_rotate
        self._client_secret = client_secret
        self._refresh_token = refresh_token

    def __repr__(self) -> str:
        return f"DelegatedTokenProvider(token_endpoint={self.token_endpoint!r}, client_id={self.client_id!r})"

    def _form(self) -> dict[str, str | None]:
        return {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }

    def _request_token(self) -> dict[str, Any]:
        """Refresh, then hand the rotated refresh token to the caller before using the access token."""
        body = super()._request_token()
        new_refresh_token = body.get("refresh_token")
        if isinstance(new_refresh_token, str) and new_refresh_token:
            self._refresh_token = new_refresh_token
            self.on_rotate(new_refresh_token)
        return body
