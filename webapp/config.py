"""The one place that reads the environment: every setting the portal uses.

Only an explicit ENTRA_SYNC_ENV of `development` or `test` gets development defaults (a known SECRET_KEY, a
key file under instance/, a SQLite file, an embedded Redis). Anything else, unset included, is production:
the settings that guard security must be set and well formed, or the portal refuses to start with one
message naming each of them.
"""
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
DEVELOPMENT_ENVIRONMENTS = ("development", "test")
DEVELOPMENT_SECRET_KEY = "development-only-secret-key"
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_BITS_PER_CHARACTER = 3.0
DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
LOG_FORMATS = ("text", "json")
REDIS_CERT_REQS = ("required", "optional", "none")


class ConfigError(RuntimeError):
    """One or more settings are missing or malformed; the message names every one of them."""


def _bool(value: str) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def database_url(environ: Mapping[str, str]) -> str:
    """DATABASE_URL as peewee's connect() wants it; Heroku's postgres:// is accepted."""
    url = environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'entra-team-sync.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def is_strong_secret(value: str) -> bool:
    """At least 32 characters that are not repetitive (Shannon entropy of 3 bits a character or more)."""
    if len(value) < SECRET_KEY_MIN_LENGTH or value == DEVELOPMENT_SECRET_KEY:
        return False
    counts = Counter(value)
    bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return bits >= SECRET_KEY_MIN_BITS_PER_CHARACTER


def is_valid_encryption_key(value: str) -> bool:
    """A comma-separated list of one or more Fernet keys."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    try:
        for key in keys:
            Fernet(key)
    except ValueError:
        return False
    return bool(keys)


class Reader:
    """Reads settings from the environment, collecting every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def number(self, name: str, default: str, kind: Callable[[str], Any] = int, minimum: float = 0) -> Any:
        text = self.environ.get(name, default)
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            self.problems.append(f"{name} must be a {'whole ' if kind is int else ''}number from {minimum}.")
            return kind(default)
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.environ.get(name, default).strip().lower()
        if value not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(allowed)}.")
            return default
        return value

    def required(self, name: str, value: str | None, well_formed: Callable[[str], bool], what: str,
                 needed: bool = True) -> None:
        """A setting that must be well formed when set, and set when needed (its value is never repeated)."""
        if not value:
            if needed:
                self.problems.append(f"{name} is missing: {what}.")
        elif not well_formed(value):
            self.problems.append(f"{name} is malformed: {what}.")


def environment_name(environ: Mapping[str, str]) -> str:
    return environ.get("ENTRA_SYNC_ENV", "").strip()


def _sync_settings(read: Reader) -> dict[str, Any]:
    """How syncs run: Auto Sync intervals, the deletion guard, the team lock, full passes, list pages."""
    return {
        "OAUTH_SYNC_MINUTES": read.number("OAUTH_SYNC_MINUTES", "5", minimum=1),
        "ENTERPRISE_APP_SYNC_MINUTES": read.number("ENTERPRISE_APP_SYNC_MINUTES", str(24 * 60), minimum=1),
        "DELETION_GUARD_PERCENT": read.number("DELETION_GUARD_PERCENT", "10", float),
        "DELETION_GUARD_MINIMUM": read.number("DELETION_GUARD_MINIMUM", "25"),
        "DELETION_GUARD_MAXIMUM": read.number("DELETION_GUARD_MAXIMUM", "500"),
        "SYNC_LOCK_SECONDS": read.number("SYNC_LOCK_SECONDS", "30", minimum=1),
        "IN_PROCESS_SYNC_MEMBERS": read.number("IN_PROCESS_SYNC_MEMBERS", "5000"),
        "TENANT_SYNC_LIMIT": read.number("TENANT_SYNC_LIMIT", "2", minimum=1),
        "SYNC_FULL_PASS_HOURS": read.number("SYNC_FULL_PASS_HOURS", "24", float),
        "MEMBERS_PER_PAGE": read.number("MEMBERS_PER_PAGE", "50", minimum=1),
        "SYNC_USERS_PER_PAGE": read.number("SYNC_USERS_PER_PAGE", "50", minimum=1),
    }


def _service_settings(env: Mapping[str, str], read: Reader, production: bool) -> dict[str, Any]:
    """Sign-in limits, sessions, the proxy, logging, timeouts, Redis over TLS, metrics and the worker's grace."""
    return {
        "LOGIN_ATTEMPTS_PER_15_MINUTES": read.number("LOGIN_ATTEMPTS_PER_15_MINUTES", "10", minimum=1),
        "LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES": read.number("LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES", "50",
                                                                minimum=1),
        "SESSION_IDLE_MINUTES": read.number("SESSION_IDLE_MINUTES", "30", float),
        "SESSION_MAX_HOURS": read.number("SESSION_MAX_HOURS", "12", float),
        "TRUSTED_PROXY_COUNT": read.number("TRUSTED_PROXY_COUNT", "1" if production else "0"),
        "MAX_CONTENT_LENGTH": read.number("MAX_CONTENT_LENGTH", str(1024 * 1024), minimum=1024),
        "LOG_FORMAT": read.choice("LOG_FORMAT", "text", LOG_FORMATS),
        "MICROSOFT_WEB_TIMEOUT_SECONDS": read.number("MICROSOFT_WEB_TIMEOUT_SECONDS", "5", float),
        "MICROSOFT_WEB_CALLS": read.number("MICROSOFT_WEB_CALLS", "3", minimum=1),
        "REDIS_WEB_TIMEOUT_SECONDS": read.number("REDIS_WEB_TIMEOUT_SECONDS", "2", float),
        "QUEUED_RUN_REQUEUE_HOURS": read.number("QUEUED_RUN_REQUEUE_HOURS", "1", float),
        "REDIS_SSL_CERT_REQS": read.choice("REDIS_SSL_CERT_REQS", "required", REDIS_CERT_REQS),
        "REDIS_SSL_CA_CERTS": env.get("REDIS_SSL_CA_CERTS") or None,
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        "WORKER_GRACE_SECONDS": read.number("WORKER_GRACE_SECONDS", "25"),
    }


def _mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The daily health check and the leaders' emails."""
    return {
        "HEALTH_CHECK_MINUTES": float(env.get("HEALTH_CHECK_MINUTES", str(24 * 60))),
        "PORTAL_URL": env.get("PORTAL_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SMTP_HOST": env.get("SMTP_HOST", ""),
        "SMTP_PORT": int(env.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool(env.get("SMTP_STARTTLS", "1")),
        "MAIL_FROM": env.get("MAIL_FROM", "Entra Team Sync <entra-team-sync@localhost>"),
        "MAIL_FOLDER": env.get("MAIL_FOLDER") or str(INSTANCE / "mail"),
    }


def load(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the app's settings from environment variables; raise ConfigError naming every problem."""
    env = os.environ if environ is None else environ
    production = environment_name(env) not in DEVELOPMENT_ENVIRONMENTS
    read = Reader(env)
    redis_url = env.get("REDIS_URL") or env.get("REDISCLOUD_URL") or env.get("REDISTOGO_URL")
    if production:
        read.required("SECRET_KEY", env.get("SECRET_KEY"), is_strong_secret,
                      f"it needs at least {SECRET_KEY_MIN_LENGTH} random characters, "
                      "e.g. python -c \"import secrets; print(secrets.token_hex(32))\"")
    read.required("ENCRYPTION_KEY", env.get("ENCRYPTION_KEY"), is_valid_encryption_key,
                  "one or more comma-separated Fernet keys, e.g. python -c \"from cryptography.fernet "
                  "import Fernet; print(Fernet.generate_key().decode())\"", needed=production)
    read.required("DATABASE_URL", env.get("DATABASE_URL"), lambda url: url.startswith(DATABASE_SCHEMES),
                  "a postgresql:// (or postgres://, sqlite:///) URL", needed=production)
    read.required("REDIS_URL", redis_url, lambda url: url.startswith(REDIS_SCHEMES),
                  "a redis:// or rediss:// URL (REDISCLOUD_URL or REDISTOGO_URL also count)", needed=production)
    settings = {
        "PRODUCTION": production,
        "SECRET_KEY": env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        "DATABASE_URL": database_url(env),
        "REDIS_URL": redis_url,
        "ENCRYPTION_KEY": env.get("ENCRYPTION_KEY"),
        "ENTRA_AUTHORITY_URL": env.get("ENTRA_AUTHORITY_URL", "https://login.microsoftonline.com").rstrip("/"),
        "GRAPH_API_URL": env.get("GRAPH_API_URL", "https://graph.microsoft.com/v1.0").rstrip("/"),
        "MS_CLIENT_ID": env.get("MS_CLIENT_ID"),
        "MS_CLIENT_SECRET": env.get("MS_CLIENT_SECRET"),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        **_sync_settings(read),
        **_service_settings(env, read, production),
        **_mail_settings(env),
    }
    name = environment_name(env)
    if read.problems and production and name != "production":
        told = f"is {name[:40]!r}" if name else "is not set"
        read.problems.append(f"ENTRA_SYNC_ENV {told}, which means production: only 'development' or 'test' run "
                             "on development defaults.")
    if read.problems:
        raise ConfigError("The portal cannot start:\n  - " + "\n  - ".join(read.problems))
    return settings


def redis_options(url: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The connection options a rediss:// URL needs beyond the URL: certificate checking (REDIS_SSL_CERT_REQS) and
    the certificate authorities to trust (REDIS_SSL_CA_CERTS). An ssl_cert_reqs or ssl_ca_certs in the URL's query
    wins (redis-py reads the query after these)."""
    if not url.startswith("rediss://"):
        return {}
    options = {"ssl_cert_reqs": settings["REDIS_SSL_CERT_REQS"]}
    if settings["REDIS_SSL_CA_CERTS"]:
        options["ssl_ca_certs"] = settings["REDIS_SSL_CA_CERTS"]
    return options


def redis_client(settings: Mapping[str, Any], **timeouts: float) -> redis.Redis:
    """A client for REDIS_URL with these socket timeouts and the TLS options its URL needs."""
    url = settings["REDIS_URL"]
    return redis.Redis.from_url(url, **timeouts, **redis_options(url, settings))


def load_or_exit(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """load() for the entry points (web, worker, scheduler): a ConfigError ends the process with its message only."""
    try:
        return load(environ)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
