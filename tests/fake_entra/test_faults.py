"""Injected throttling, outages, slow and failing pages."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from fake_entra import demo

from .helpers import graph_get

MEMBERS = f"/groups/{demo.group_id('Training')}/transitiveMembers/microsoft.graph.user?$top=5&$count=true"
EVENTUAL = {"ConsistencyLevel": "eventual"}


def test_throttling_with_fractional_retry_after(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.inject(429, retry_after=1.5, count=2, path="/transitiveMembers")
    assert graph_get(fake_entra, "/groups", token).status_code == 200
    for _ in range(2):
        response = graph_get(fake_entra, MEMBERS, token, **EVENTUAL)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1.5"
        assert response.json()["error"]["code"] == "TooManyRequests"
    assert graph_get(fake_entra, MEMBERS, token, **EVENTUAL).status_code == 200
    assert fake_entra.control.counts()["GET /groups/{id}/transitiveMembers/microsoft.graph.user"] == 3


def test_failure_on_a_given_page(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.inject(503, page=3, path="/transitiveMembers")
    first = graph_get(fake_entra, MEMBERS, token, **EVENTUAL).json()
    second = graph_get(fake_entra, first["@odata.nextLink"], token, **EVENTUAL).json()
    failed = graph_get(fake_entra, second["@odata.nextLink"], token, **EVENTUAL)
    assert failed.status_code == 503 and "Retry-After" not in failed.headers
    assert graph_get(fake_entra, second["@odata.nextLink"], token, **EVENTUAL).status_code == 200


def test_slow_responses_and_token_endpoint_faults(fake_entra):
    fake_entra.control.inject(delay=0.3, path="/groups")
    token = fake_entra.app_token()
    started = time.monotonic()
    assert graph_get(fake_entra, "/groups", token).status_code == 200
    assert time.monotonic() - started >= 0.3
    fake_entra.control.inject(503, retry_after=2, path="/oauth2/v2.0/token")
    response = requests.post(fake_entra.token_url(), data={"grant_type": "client_credentials"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert [f["hits"] for f in fake_entra.control.faults()] == [1, 1]
    fake_entra.control.reset()
    assert fake_entra.control.faults() == []


def test_a_slow_call_does_not_hold_up_others(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.inject(delay=1.0, path="/v1.0/groups")
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(graph_get, fake_entra, "/groups", token)
        time.sleep(0.1)
        started = time.monotonic()
        assert graph_get(fake_entra, "/users?$top=1", token).status_code == 200
        assert time.monotonic() - started < 0.5
        assert slow.result().status_code == 200


def test_resource_unit_budget_throttles_with_retry_after(fake_entra):
    token = fake_entra.app_token()
    fake_entra.control.set_throttling(limit=10, window=0.5)
    members = f"/groups/{demo.group_id('Sales')}/transitiveMembers"
    first = graph_get(fake_entra, members, token)
    assert first.headers["x-ms-resource-unit"] == "5"
    assert graph_get(fake_entra, members, token).headers["x-ms-throttle-limit-percentage"] == "1.0"
    throttled = graph_get(fake_entra, members, token)
    assert throttled.status_code == 429
    assert 0 < float(throttled.headers["Retry-After"]) <= 0.5
    time.sleep(float(throttled.headers["Retry-After"]))
    assert graph_get(fake_entra, members, token).status_code == 200
