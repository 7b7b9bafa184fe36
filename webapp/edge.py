"""Where the portal meets the outside: the proxies in front of it, HTTPS, response headers, the request size limit.

Behind Heroku's router (or any reverse proxy) the client's address and scheme come in X-Forwarded-For and
X-Forwarded-Proto; they are believed only for the TRUSTED_PROXY_COUNT proxies nearest to the portal, so a client
cannot pick its own address (the sign-in limits and the security events use it). X-Forwarded-Host is never
believed: URLs sent to Microsoft (the OAuth redirect URI) are built from the Host header the router passed on.
"""
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as WerkzeugResponse

from webapp.request_checks import answer

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(authority_url: str) -> str:
    """Scripts and styles from the portal only (no inline code); Connect Microsoft OAuth's form ends at Microsoft."""
    parts = urlsplit(authority_url)
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        "object-src 'none'", "base-uri 'none'", f"form-action 'self' {parts.scheme}://{parts.netloc}",
        "frame-ancestors 'none'",
    ])


def readable_size(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB" if size >= 1024 * 1024 else f"{size / 1024:g} KB"


def init_app(app: Flask) -> None:
    """Trust the configured proxies, force HTTPS and HSTS in production, set the headers, answer 413 clearly."""
    count = app.config["TRUSTED_PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to add middleware
            app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)
    production = app.config["PRODUCTION"]
    headers = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
    if production:
        headers["Strict-Transport-Security"] = HSTS

    @app.before_request
    def _https_only() -> WerkzeugResponse | None:
        if production and request.scheme != "https":
            return redirect("https://" + request.url.split("://", 1)[1], code=308)
        return None

    @app.after_request
    def _security_headers(response: Response) -> Response:
        policy = content_security_policy(app.config["ENTRA_AUTHORITY_URL"])
        response.headers.setdefault("Content-Security-Policy", policy)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> tuple[str, int, dict[str, str]]:
        limit = readable_size(app.config["MAX_CONTENT_LENGTH"])
        body, status, *extra = answer(error, "Request too large",
                                      f"This request is larger than the {limit} the portal accepts. "
                                      "Nothing was changed.")
        # The rest of the body is never read: the connection closes after this answer.
        return body, status, {**(extra[0] if extra else {}), "Connection": "close"}
