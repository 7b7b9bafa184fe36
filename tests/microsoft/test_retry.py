"""The retry rule (README "The safety rules"): Retry-After as a float, bounded backoff with jitter, never an
immediate retry."""

import random
import threading

import pytest
import requests
import responses

from webapp.microsoft import (NetworkError, RetryPolicy, ServiceUnavailable, SlowToAnswer, Throttled, TooManyWaiting,
                              Transport)
from webapp.microsoft.http import parse_retry_after

from .conftest import GRAPH

URL = f"{GRAPH}/groups"
THROTTLED_BODY = {"error": {"code": "TooManyRequests", "message": "Too many requests from Identifier:West Europe "
                            "under category:throttle.aad.ags. Please try again later.",
                            "innerError": {"date": "2022-12-22T08:00:18",
                                           "request-id": "a15c7ea4-d7e4-4d57-9cf0-d5b8fd22aad0",
                                           "client-request-id": "a15c7ea4-d7e4-4d57-9cf0-d5b8fd22aad0"}}}


@pytest.mark.parametrize("header, seconds", [("2.128", 2.128), ("5", 5.0), ("0", 0.0), (None, None),
                                             ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("-1", None), ("nan", None)])
def test_retry_after_is_parsed_as_float_seconds(header, seconds):
    assert parse_retry_after(header) == seconds


@responses.activate
def test_429_waits_the_fractional_retry_after_then_succeeds(transport, clock):
    responses.get(URL, status=429, json=THROTTLED_BODY, headers={"Retry-After": "2.128"})
    responses.get(URL, json={"value": []})

    response = transport.request("GET", URL)

    assert response.status_code == 200
    assert clock.waits == [2.128]
    assert transport.request_count == 2


@responses.activate
def test_a_zero_retry_after_still_waits(transport, clock):
    responses.get(URL, status=503, headers={"Retry-After": "0"})
    responses.get(URL, json={"value": []})

    transport.request("GET", URL)

    assert clock.waits == [RetryPolicy().min_wait]


@responses.activate
def test_without_retry_after_backoff_grows_with_jitter_and_attempts_are_bounded(clock):
    for _ in range(5):
        responses.get(URL, status=504)
    policy = RetryPolicy(max_attempts=5, max_total_wait=1000, base_backoff=1.0, max_backoff=30.0)
    transport = Transport(retry=policy, sleep=clock.sleep, clock=clock, rng=random.Random(7))

    with pytest.raises(ServiceUnavailable) as caught:
        transport.request("GET", URL)

    assert caught.value.status == 504
    assert caught.value.message == "Microsoft is temporarily unavailable: try again in a few minutes."
    assert transport.request_count == 5 and len(clock.waits) == 4
    for retry, wait in enumerate(clock.waits, start=1):
        ceiling = 2 ** (retry - 1)
        assert ceiling / 2 <= wait <= ceiling


@responses.activate
def test_throttling_gives_up_when_the_next_wait_would_exceed_the_total_budget(clock):
    responses.get(URL, status=429, json=THROTTLED_BODY, headers={"Retry-After": "40"})
    responses.get(URL, status=429, json=THROTTLED_BODY, headers={"Retry-After": "40"})
    transport = Transport(retry=RetryPolicy(max_attempts=10, max_total_wait=60), sleep=clock.sleep, clock=clock)

    with pytest.raises(Throttled) as caught:
        transport.request("GET", URL)

    assert clock.waits == [40.0]
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (429, "TooManyRequests", 40.0)
    assert error.request_id == "a15c7ea4-d7e4-4d57-9cf0-d5b8fd22aad0"
    assert "West Europe" not in error.message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
@responses.activate
def test_other_4xx_are_returned_without_retry(transport, clock, status):
    responses.get(URL, status=status, json={"error": {"code": "x", "message": "y"}})

    assert transport.request("GET", URL).status_code == status
    assert transport.request_count == 1 and clock.waits == []


@responses.activate
def test_connection_errors_are_retried_then_reported_in_plain_words(clock):
    responses.get(URL, body=requests.ConnectionError("Connection refused"))
    transport = Transport(retry=RetryPolicy(max_attempts=3), sleep=clock.sleep, clock=clock)

    with pytest.raises(NetworkError) as caught:
        transport.request("GET", URL)

    assert caught.value.message == "Microsoft could not be reached; try again in a few minutes."
    assert transport.request_count == 3 and len(clock.waits) == 2 and min(clock.waits) > 0


@responses.activate
def test_a_timeout_then_success_recovers(transport, clock):
    responses.get(URL, body=requests.ReadTimeout("read timed out"))
    responses.get(URL, json={"value": []})

    assert transport.request("GET", URL).status_code == 200
    assert len(clock.waits) == 1


@responses.activate
def test_retry_logs_name_the_endpoint_but_never_the_query_or_the_form(transport, caplog):
    token_url = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    responses.post(token_url, status=503, headers={"Retry-After": "0.5"})
    responses.post(token_url, json={"access_token": "eyJ.secret.token", "expires_in": 3599})

    with caplog.at_level("INFO"):
        transport.request("POST", token_url + "?x=state-in-query", data={"client_secret": "s3cr3t-value"})

    logged = caplog.text
    assert "login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" in logged
    assert "s3cr3t-value" not in logged and "state-in-query" not in logged and "eyJ" not in logged


@pytest.mark.parametrize("status", [500, 502])
@responses.activate
def test_a_transient_server_error_is_retried_like_throttling(transport, clock, status):
    responses.get(URL, status=status, json={"error": {"code": "InternalServerError", "message": "x"}})
    responses.get(URL, json={"value": []})

    assert transport.request("GET", URL).status_code == 200
    assert transport.request_count == 2 and len(clock.waits) == 1 and clock.waits[0] > 0


def hangs_then_times_out(clock, seconds):
    """A callback for `responses`: the request takes `seconds` of the virtual clock, then times out."""
    def callback(request):
        clock.now += seconds
        raise requests.ReadTimeout("read timed out")
    return callback


@responses.activate
def test_a_sixty_second_hang_is_retried_within_the_request(transport, clock):
    responses.add_callback(responses.GET, URL, callback=hangs_then_times_out(clock, 60.0))
    responses.get(URL, json={"value": []})

    assert transport.request("GET", URL).status_code == 200
    assert transport.request_count == 2 and transport.lost > 60


@responses.activate
def test_a_run_gives_up_once_failures_have_cost_its_whole_budget(clock):
    responses.add_callback(responses.GET, URL, callback=hangs_then_times_out(clock, 60.0))
    transport = Transport(retry=RetryPolicy(max_attempts=100, run_budget=300), sleep=clock.sleep, clock=clock)

    with pytest.raises(NetworkError):
        transport.request("GET", URL)
    assert transport.request_count == 5, "five hangs of 60 s use up the 300 s budget"
    started = clock.now
    with pytest.raises(NetworkError):
        transport.request("GET", URL)
    assert transport.request_count == 6 and clock.now - started == 60, "the next request is not retried at all"


@responses.activate
def test_a_deadline_cuts_each_attempts_timeout_and_ends_slow_at_it(clock):
    sent = []

    def slow(request):
        """Microsoft takes 1.5 s to fail; a read timeout shorter than that ends the attempt first."""
        timeout = request.req_kwargs["timeout"]
        sent.append(timeout)
        clock.now += min(1.5, timeout[1])
        if timeout[1] < 1.5:
            raise requests.ReadTimeout()
        return (503, {}, "")

    responses.add_callback(responses.GET, URL, callback=slow)
    transport = Transport(retry=RetryPolicy(max_attempts=5, max_total_wait=10, base_backoff=0.2, max_backoff=0.2,
                                            deadline=2.0), sleep=clock.sleep, clock=clock, timeout=(3.05, 60.0))

    with pytest.raises(SlowToAnswer):
        transport.request("GET", URL)

    assert sent[0] == (2.0, 2.0) and sent[1][1] == pytest.approx(0.5 - clock.waits[0])
    assert clock.now - 1000.0 == pytest.approx(2.0)


def test_a_full_gate_refuses_at_once_without_sending(clock):
    gate = threading.BoundedSemaphore(1)
    gate.acquire()
    transport = Transport(retry=RetryPolicy(deadline=2.0), sleep=clock.sleep, clock=clock, gate=gate)

    with pytest.raises(TooManyWaiting):
        transport.request("GET", URL)

    assert transport.request_count == 0 and clock.waits == []
