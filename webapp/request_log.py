"""One log line per request on `webapp.request`: method, path (never the query string, which can carry an OAuth
code), status, duration, the client's address as the trusted proxies tell it, and the signed-in user's id
(written by webapp.logs, as text or JSON)."""
import logging
import time
from typing import Any

from flask import Flask, Response, g, request

log = logging.getLogger("webapp.request")


def signed_in_user_id() -> int | None:
    """The user the request looked up (every page does; a static file does not, and is not made to)."""
    user = g.get("_login_user")
    return user.id if user is not None and user.is_authenticated else None


def line(fields: dict[str, Any]) -> str:
    shown = dict(fields, path=fields["path"].encode("unicode_escape").decode())  # a line break cannot forge a line
    return "{method} {path} {status} {ms}ms ip={ip} user={user_id}".format(**shown)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        started = g.get("request_started", time.perf_counter())
        fields = {"method": request.method, "path": request.path, "status": response.status_code,
                  "ms": round((time.perf_counter() - started) * 1000, 1), "ip": request.remote_addr,
                  "user_id": signed_in_user_id()}
        log.info(line(fields), extra={"fields": fields})
        return response
