"""Behind Heroku's router: the forwarded client address and scheme are believed only to TRUSTED_PROXY_COUNT
proxies deep, the OAuth redirect URI is https behind the router, and every request writes one log line."""
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from fake_entra import demo
from tests.conftest import ENCRYPTION_KEY, PASSWORD, PortalClient
from tests.sync_page.conftest import entra  # noqa: F401 (the app pointed at fake_entra)
from webapp import create_app
from webapp.models import SecurityEvent

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"method"')]


def request_line(text, method, path):
    return [line for line in json_lines(text) if line["method"] == method and line["path"] == path][-1]


def test_one_proxy_deep_the_router_s_address_is_believed_and_the_client_s_own_is_not(portal, leader):
    with portal(TRUSTED_PROXY_COUNT="1", LOG_FORMAT="json") as (url, log_text):
        # What Heroku's router sends: the client's own X-Forwarded-For (spoofed here) with the address it saw appended
        requests.get(url + "/login?next=/teams/", headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9",
                                                            "X-Forwarded-Proto": "https"}, timeout=10)
        line = request_line(log_text(), "GET", "/login")
    assert line["ip"] == "203.0.113.9"
    assert line["status"] == 200
    assert "next" not in json.dumps(line)


def test_with_no_trusted_proxy_a_spoofed_address_is_ignored_by_the_log_the_limit_and_the_events(portal, leader, app):
    with portal(TRUSTED_PROXY_COUNT="0", LOG_FORMAT="json", LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES="3") as (
            url, log_text):
        answers = []
        for attempt in range(4):
            browser = requests.Session()
            spoofed = {"X-Forwarded-For": f"192.0.2.{attempt + 1}"}
            token = CSRF.search(browser.get(url + "/login", headers=spoofed, timeout=10).text).group(1)
            answers.append(browser.post(url + "/login", headers=spoofed, allow_redirects=False, timeout=10, data={
                "email": f"nobody{attempt}@example.com", "password": "wrong password!", "csrf_token": token}))
        lines = json_lines(log_text())
    assert [answer.status_code for answer in answers[:3]] == [401, 401, 401]  # wrong password, counted
    assert answers[3].status_code == 429
    assert {line["ip"] for line in lines} == {"127.0.0.1"}
    leader_browser = requests.Session()
    with portal(TRUSTED_PROXY_COUNT="0") as (url, _):
        token = CSRF.search(leader_browser.get(url + "/login", timeout=10).text).group(1)
        leader_browser.post(url + "/login", headers={"X-Forwarded-For": "192.0.2.77"}, timeout=10,
                            data={"email": leader.email, "password": "not the password", "csrf_token": token})
    event = SecurityEvent.get(SecurityEvent.action == "sign_in_failed")
    assert event.client_address == "127.0.0.1"


def test_the_request_log_names_the_signed_in_user_and_keeps_query_strings_out(portal, leader, team):
    with portal() as (url, log_text):
        browser = requests.Session()
        token = CSRF.search(browser.get(url + "/login", timeout=10).text).group(1)
        browser.post(url + "/login", data={"email": leader.email, "password": PASSWORD, "csrf_token": token},
                     timeout=10)
        browser.get(url + f"/teams/{team.id}/members/?q=secret-search-words", timeout=10)
        browser.get(url + "/teams/1%0a200 GET /forged", timeout=10)
        text = log_text()
    lines = [line for line in text.splitlines() if "webapp.request " in line]
    members = [line for line in lines if f" GET /teams/{team.id}/members/ 200 " in line]
    assert members
    assert re.search(rf"\d+(\.\d)?ms ip=127\.0\.0\.1 user={leader.id}$", members[-1])
    assert re.search(rf" POST /login 302 .* user={leader.id}$", "\n".join(lines), re.M)
    assert re.search(r" GET /login 200 .* user=None$", "\n".join(lines), re.M)
    assert "secret-search-words" not in text
    assert PASSWORD not in text
    assert not any(line.startswith("200 GET /forged") for line in text.splitlines())


@pytest.fixture
def behind_router(entra, database_url, redis_url, tmp_path):  # noqa: F811
    """The test app pointed at fake_entra with one trusted proxy, like a production dyno behind Heroku's router."""
    app = create_app({**entra_settings(entra), "TESTING": True, "SECRET_KEY": "test-secret-key",
                      "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ENCRYPTION_KEY": ENCRYPTION_KEY,
                      "INSTANCE_DIR": tmp_path / "instance", "TRUSTED_PROXY_COUNT": 1})
    app.test_client_class = PortalClient
    return app


def entra_settings(fake):
    return {"ENTRA_AUTHORITY_URL": fake.authority_url, "GRAPH_API_URL": fake.graph_url,
            "MS_CLIENT_ID": demo.PORTAL_CLIENT_ID, "MS_CLIENT_SECRET": demo.PORTAL_CLIENT_SECRET}


def test_behind_the_router_the_oauth_redirect_uri_sent_to_microsoft_is_https(behind_router, leader, team):
    router = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "attacker.example",
              "Referer": "https://portal.example/"}
    client = behind_router.test_client()
    client.environ_base.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in router.items()})

    def post(path, **data):
        form = client.get("/login", base_url="http://portal.example").get_data(as_text=True)
        data["csrf_token"] = CSRF.search(form).group(1) if "csrf_token" in form else ""
        return client.post(path, data=data, base_url="http://portal.example", csrf=False)
    post("/login", email=leader.email, password=PASSWORD)
    page = client.get(f"/teams/{team.id}/entra-sync/", base_url="http://portal.example").get_data(as_text=True)
    response = client.post(f"/teams/{team.id}/entra-sync/connect", data={"mode": "switch"}, csrf=False,
                           base_url="http://portal.example",
                           headers={"X-CSRFToken": re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)})
    assert response.status_code == 302
    authorize = urlsplit(response.headers["Location"])
    sent = parse_qs(authorize.query)["redirect_uri"]
    assert sent == ["https://portal.example/entra/oauth/callback"]
    # fake_entra, like Microsoft, refuses a redirect URI the app did not register, and names the one it was sent
    refused = requests.get(response.headers["Location"], timeout=10)
    assert "https://portal.example/entra/oauth/callback" in refused.text
