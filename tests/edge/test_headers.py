"""Every answer carries the security headers; HTTPS and HSTS in production; a request over the size limit is
refused with a clear 413 before its body is read."""
import socket
import time

import pytest
import requests

TWENTY_MB = 20 * 1024 * 1024


@pytest.mark.parametrize("path", ["/login", "/static/app.js", "/teams/", "/no/such/page"])
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # only in production, where every answer is https


def test_connect_microsoft_oauth_may_end_at_microsoft_s_sign_in_and_nowhere_else(client, app):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {app.config['ENTRA_AUTHORITY_URL']};" in policy + ";"


def test_production_sends_http_to_https_and_asks_for_hsts(production_app):
    browser = production_app.test_client()
    plain = browser.get("/login?next=/teams/", base_url="http://portal.example")
    assert plain.status_code == 308
    assert plain.headers["Location"] == "https://portal.example/login?next=/teams/"
    routed = browser.get("/login", base_url="http://portal.example", headers={"X-Forwarded-Proto": "https"})
    assert routed.status_code == 200
    assert routed.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Secure" in routed.headers["Set-Cookie"]


def test_a_request_over_the_limit_is_refused_with_a_clear_page(client, app):
    answer = client.post("/login", data={"email": "x@example.com", "password": "p" * (1024 * 1024 + 1)})
    assert answer.status_code == 413
    assert "larger than the 1 MB the portal accepts" in answer.get_data(as_text=True)
    htmx = client.post("/login", data={"notes": "n" * (1024 * 1024 + 1)}, headers={"HX-Request": "true"})
    assert htmx.status_code == 413
    assert htmx.headers["HX-Retarget"] == "#request-problem"
    assert "larger than the 1 MB" in htmx.get_data(as_text=True)


def test_an_unauthenticated_20_mb_post_is_refused_without_being_read(portal):
    with portal() as (url, _):
        host, port = url.rsplit("//", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(f"POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-"
                               f"urlencoded\r\nContent-Length: {TWENTY_MB}\r\n\r\n".encode() + b"email=" + b"a" * 65536)
            started = time.monotonic()
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
            elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"larger than the 1 MB the portal accepts" in answer
        assert elapsed < 5  # the connection closed after the answer; the other 19.9 MB were never waited for
        assert requests.get(url + "/login", timeout=10).status_code == 200
