"""The one place that reads the environment: every setting the portal uses."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def database_url(environ):
    """DATABASE_URL as peewee's connect() wants it; Heroku's postgres:// is accepted."""
    url = environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'entra-team-sync.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def load(environ=None):
    """Build the app's settings from environment variables."""
    env = os.environ if environ is None else environ
    production = env.get("ENTRA_SYNC_ENV", env.get("FLASK_ENV", "development")) == "production"
    secret_key = env.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set in production.")
        secret_key = "development-only-secret-key"
    encryption_key = env.get("ENCRYPTION_KEY")
    if not encryption_key and production:
        raise ConfigError("ENCRYPTION_KEY must be set in production.")
    return {
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url(env),
        "REDIS_URL": env.get("REDIS_URL") or env.get("REDISCLOUD_URL") or env.get("REDISTOGO_URL"),
        "ENCRYPTION_KEY": encryption_key,
        "ENTRA_AUTHORITY_URL": env.get("ENTRA_AUTHORITY_URL", "https://login.microsoftonline.com").rstrip("/"),
        "GRAPH_API_URL": env.get("GRAPH_API_URL", "https://graph.microsoft.com/v1.0").rstrip("/"),
        "MS_CLIENT_ID": env.get("MS_CLIENT_ID"),
        "MS_CLIENT_SECRET": env.get("MS_CLIENT_SECRET"),
        "OAUTH_SYNC_MINUTES": int(env.get("OAUTH_SYNC_MINUTES", "5")),
        "ENTERPRISE_APP_SYNC_MINUTES": int(env.get("ENTERPRISE_APP_SYNC_MINUTES", str(24 * 60))),
        "DELETION_GUARD_PERCENT": float(env.get("DELETION_GUARD_PERCENT", "10")),
        "DELETION_GUARD_MINIMUM": int(env.get("DELETION_GUARD_MINIMUM", "25")),
        "DELETION_GUARD_MAXIMUM": int(env.get("DELETION_GUARD_MAXIMUM", "500")),
        "SYNC_LOCK_SECONDS": int(env.get("SYNC_LOCK_SECONDS", "30")),
        "SYNC_FULL_PASS_HOURS": float(env.get("SYNC_FULL_PASS_HOURS", "24")),
        "MEMBERS_PER_PAGE": int(env.get("MEMBERS_PER_PAGE", "50")),
        "SYNC_USERS_PER_PAGE": int(env.get("SYNC_USERS_PER_PAGE", "50")),
        "LOGIN_ATTEMPTS_PER_15_MINUTES": int(env.get("LOGIN_ATTEMPTS_PER_15_MINUTES", "10")),
        "LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES": int(env.get("LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES", "50")),
        "SESSION_IDLE_MINUTES": float(env.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_MAX_HOURS": float(env.get("SESSION_MAX_HOURS", "12")),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "DEMO": _bool(env.get("ENTRA_SYNC_DEMO", "0")),
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
