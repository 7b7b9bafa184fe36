"""Signing keys, JWTs, authorization codes and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

GRAPH_AUDIENCE = "https://graph.microsoft.com"


@dataclass
class Grant:
    """What a code or refresh token stands for."""

    tenant_id: str
    user_id: str
    client_id: str
    scopes: list[str]
    expires: float
    redirect_uri: str = ""
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


def b64url(raw: bytes) -> str:
    """Unpadded base64url, as JOSE headers carry thumbprints."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Certificate:
    """A certificate registered on an app (its public part), known by its SHA-1 and SHA-256 thumbprints."""

    x5t: str
    x5t_s256: str
    key: RSAKey
    expires: float = float("inf")

    @classmethod
    def from_pem(cls, pem: str) -> Certificate:
        """Parse a PEM certificate; ValueError when it is not one or has no RSA key."""
        cert = x509.load_pem_x509_certificate(pem.encode())
        public = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(b64url(cert.fingerprint(hashes.SHA1())), b64url(cert.fingerprint(hashes.SHA256())),
                   RSAKey.import_key(public), cert.not_valid_after_utc.timestamp())

    @property
    def thumbprint(self) -> str:
        """The hexadecimal SHA-1 thumbprint the Azure portal shows."""
        return base64.urlsafe_b64decode(self.x5t + "=" * (-len(self.x5t) % 4)).hex().upper()


@dataclass
class Lifetimes:
    """Token lifetimes in seconds; tests shorten them to force expiry."""

    access: float = 3599
    refresh: float = 90 * 86400
    code: float = 600


@dataclass
class TokenService:
    """Issues and checks every token of the emulator."""

    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={
        "kid": uuid.uuid4().hex[:16], "use": "sig"}, private=True))
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def kid(self) -> str:
        """Key id written into every token header."""
        return self.key.kid

    def jwks(self) -> dict:
        """The public keys as a JWKS document."""
        public = self.key.as_dict(private=False)
        public.update(alg="RS256", x5t=self.kid)
        return {"keys": [public]}

    def sign(self, claims: dict) -> str:
        """An RS256 JWT with our kid."""
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.kid}, claims, self.key)

    def access_token(self, authority: str, tenant_id: str, client_id: str, *, user: dict | None = None,
                     scopes: list[str] | None = None, roles: list[str] | None = None) -> str:
        """A Graph access token: delegated (oid, scp) or app-only (roles)."""
        issued = int(time.time())
        claims = {
            "aud": GRAPH_AUDIENCE, "iss": f"{authority}/{tenant_id}/v2.0", "iat": issued, "nbf": issued,
            "exp": issued + int(self.lifetimes.access), "tid": tenant_id, "appid": client_id,
            "azp": client_id, "ver": "2.0", "uti": uuid.uuid4().hex,
        }
        if user is not None:
            claims.update(oid=user["id"], sub=user["id"], scp=" ".join(scopes or []),
                          preferred_username=user["userPrincipalName"], name=user["displayName"])
        else:
            claims.update(roles=sorted(roles or []), idtyp="app")
        return self.sign(claims)

    def id_token(self, authority: str, tenant_id: str, client_id: str, user: dict, nonce: str | None) -> str:
        """An OpenID Connect id_token as Microsoft's v2.0 endpoint issues it."""
        issued = int(time.time())
        claims = {
            "aud": client_id, "iss": f"{authority}/{tenant_id}/v2.0", "iat": issued, "nbf": issued,
            "exp": issued + int(self.lifetimes.access), "tid": tenant_id, "oid": user["id"],
            "sub": hashlib.sha256(f"{user['id']}:{client_id}".encode()).hexdigest()[:43],
            "preferred_username": user["userPrincipalName"], "name": user["displayName"], "ver": "2.0",
        }
        if user.get("mail"):
            claims["email"] = user["mail"]
        if nonce is not None:
            claims["nonce"] = nonce
        return self.sign(claims)

    def check_access_token(self, token: str) -> tuple[dict | None, str]:
        """Claims of a valid, unexpired Graph token, else None and Graph's complaint."""
        try:
            claims = jwt.decode(token, self.key).claims
        except (JoseError, ValueError, TypeError):
            return None, "Invalid JWT token. The token is malformed or its signature is not valid."
        now = time.time()
        if claims.get("aud") != GRAPH_AUDIENCE or not claims.get("tid"):
            return None, "Access token validation failure. Invalid audience."
        if claims.get("exp", 0) <= now or claims.get("nbf", 0) > now + 5:
            return None, "Access token has expired or is not yet valid."
        return claims, ""

    def issue_code(self, grant: Grant) -> str:
        """A single-use authorization code."""
        code = "1.A" + secrets.token_urlsafe(48)
        grant.expires = time.time() + self.lifetimes.code
        with self.lock:
            self.codes[code] = grant
        return code

    def redeem_code(self, code: str) -> Grant | None:
        """The grant of a fresh code, consumed so it cannot be used again."""
        with self.lock:
            grant = self.codes.pop(code, None)
        if grant is None or grant.expires < time.time():
            return None
        return grant

    def issue_refresh_token(self, grant: Grant) -> str:
        """An opaque refresh token for a delegated grant."""
        token = "0.A" + secrets.token_urlsafe(64)
        stored = Grant(grant.tenant_id, grant.user_id, grant.client_id, list(grant.scopes),
                       time.time() + self.lifetimes.refresh)
        with self.lock:
            self.refresh_tokens[token] = stored
        return token

    def use_refresh_token(self, token: str) -> Grant | None:
        """The grant of a live refresh token; the token is spent (rotation)."""
        with self.lock:
            grant = self.refresh_tokens.pop(token, None)
        if grant is None or grant.expires < time.time():
            return None
        return grant

    def revoke_refresh_tokens(self, tenant_id: str | None = None, user_id: str | None = None,
                              client_id: str | None = None) -> int:
        """Drop the refresh tokens matching every given filter; return how many."""
        with self.lock:
            doomed = [t for t, g in self.refresh_tokens.items()
                      if (tenant_id is None or g.tenant_id == tenant_id)
                      and (user_id is None or g.user_id == user_id)
                      and (client_id is None or g.client_id == client_id)]
            for token in doomed:
                del self.refresh_tokens[token]
        return len(doomed)

    def clear(self) -> None:
        """Forget every code and refresh token and restore default lifetimes."""
        with self.lock:
            self.codes.clear()
            self.refresh_tokens.clear()
        self.lifetimes = Lifetimes()


def pkce_matches(verifier: str, challenge: str, method: str | None) -> bool:
    """Whether a code_verifier fits the code_challenge sent to authorize."""
    if (method or "plain") == "S256":
        return b64url(hashlib.sha256(verifier.encode()).digest()) == challenge
    return secrets.compare_digest(verifier, challenge)
