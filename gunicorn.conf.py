"""gunicorn's settings for the Procfile's web process (gunicorn reads this file from the working directory)."""
from webapp.config import load_or_exit

# The scheme comes from X-Forwarded-Proto only through the portal's own proxy setting (TRUSTED_PROXY_COUNT).
secure_scheme_headers: dict[str, str] = {}


def on_starting(server: object) -> None:
    """Refuse to start, with one message, before any worker is forked (a worker's failure would be retried)."""
    load_or_exit()
