"""A Microsoft that takes its time: the latency model, and Graph's resource-unit budgets with Microsoft's 429."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from fake_entra import demo
from fake_entra.testing import FakeEntra

from .helpers import graph_get

EVENTUAL = {"ConsistencyLevel": "eventual"}
FIVE_USERS = f"/groups/{demo.group_id('Training')}/transitiveMembers/microsoft.graph.user?$top=5&$count=true"


def timed(server, path, token, **headers):
    started = time.monotonic()
    response = graph_get(server, path, token, **headers)
    return response, time.monotonic() - started


def test_an_answer_waits_per_request_and_per_object_returned(fake_entra):
    token = fake_entra.app_token()
    assert fake_entra.control.set_latency(request=0.2, per_object=0.05) == {"request": 0.2, "per_object": 0.05}
    listing, listing_seconds = timed(fake_entra, FIVE_USERS, token, **EVENTUAL)
    assert listing.status_code == 200 and len(listing.json()["value"]) == 5
    assert listing_seconds >= 0.2 + 5 * 0.05
    one, one_seconds = timed(fake_entra, f"/groups/{demo.group_id('Training')}", token)
    assert one.status_code == 200 and 0.25 <= one_seconds < listing_seconds
    fake_entra.control.reset()
    _, after_reset = timed(fake_entra, FIVE_USERS, token, **EVENTUAL)
    assert after_reset < 0.2


def test_answers_in_flight_at_once_wait_side_by_side(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.set_latency(request=0.5)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: graph_get(fake_entra, "/groups?$top=1", token), range(4)))
    assert all(answer.status_code == 200 for answer in answers)
    assert 0.5 <= time.monotonic() - started < 1.5  # four answers in about one delay, not four


def test_latency_and_budgets_from_start_up_options():
    with FakeEntra.start(latency=0.3, latency_per_object=0.01, throttling=True) as server:
        token = server.app_token()
        response, seconds = timed(server, FIVE_USERS, token, **EVENTUAL)
        assert response.status_code == 200 and seconds >= 0.35
        assert response.headers["x-ms-resource-unit"] == "4"  # 5, less one for $top under 20
        server.control.reset()  # reset keeps what the server was started with
        assert timed(server, FIVE_USERS, token, **EVENTUAL)[1] >= 0.35


def test_a_small_tenant_has_3500_units_every_10_seconds_then_microsofts_429(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=7, users=30, groups=2)
    app = tenant["app"]
    token = fake_entra.app_token(tenant["tenant_id"], app["client_id"], app["client_secret"])
    fake_entra.control.set_throttling(window=60)  # Microsoft's budget for the size, over a window a loaded machine
    url = f"{fake_entra.graph_url}/groups/{tenant['big_group_id']}/transitiveMembers"  # 5 units each
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: session.get(url, timeout=30).status_code, range(700)))
    assert answers.count(200) == 700
    throttled = session.get(url, timeout=30)
    assert throttled.status_code == 429
    assert 0 < float(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["x-ms-throttle-scope"] == (
        f"Tenant_Application/ReadWrite/{app['client_id']}/{tenant['tenant_id']}")
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests" and error["message"] == "Please retry again later."
    assert {key: error["innerError"][key] for key in ("code", "status", "message")} == {
        "code": "429", "status": "429", "message": "Please retry after"}
    assert error["innerError"]["request-id"] == throttled.headers["request-id"]
    cheaper = session.get(f"{fake_entra.graph_url}/groups/{tenant['big_group_id']}", timeout=30)
    assert cheaper.status_code == 429  # the budget is the app's in this tenant, whatever the route


def test_the_apps_own_budget_across_tenants_says_so_in_its_scope(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.set_throttling(limit=1000, app_limit=12)
    members = f"/groups/{demo.group_id('Sales')}/transitiveMembers"
    assert [graph_get(fake_entra, members, token).status_code for _ in range(2)] == [200, 200]
    throttled = graph_get(fake_entra, members, token)
    assert throttled.status_code == 429
    scope = f"Application/ReadWrite/{demo.ENTERPRISE_APP_CLIENT_ID}/"
    assert throttled.headers["x-ms-throttle-scope"].startswith(scope)
    assert 0 < float(throttled.headers["Retry-After"]) <= 20
