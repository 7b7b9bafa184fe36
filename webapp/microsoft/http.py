"""HTTP requests to Microsoft with bounded, jittered retries of throttling, transient 5xx, timeouts and network
errors."""

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import (MicrosoftError, NetworkError, ServiceUnavailable, SlowToAnswer, Throttled, TooManyWaiting,
                     graph_error_code)

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; every wait is at least `min_wait`, so never at once.

    `max_total_wait` bounds the waits of one request; `run_budget` bounds the time one Transport (one sync run)
    loses to failed attempts and waits over all its requests, so a Microsoft that keeps failing ends the run.
    `deadline`, when set, bounds one request as a whole (every attempt and wait): a person waiting on the answer
    is told Microsoft is slow instead of waiting on it."""

    max_attempts: int = 5
    max_total_wait: float = 60.0
    run_budget: float = 300.0
    base_backoff: float = 1.0
    max_backoff: float = 30.0
    min_wait: float = 0.05
    deadline: float | None = None

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter for retry number `attempt` (1-based)."""
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** (attempt - 1))
        return max(self.min_wait, ceiling / 2 + rng.uniform(0, ceiling / 2))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in (possibly fractional) seconds, else None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _where(url: str) -> str:
    """Host and path of a URL, for logs: no query string, which may carry opaque state."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class Transport:
    """Sends requests over one `requests.Session`, retrying transient failures, counting every attempt.

    `gate` (a semaphore shared by the requests of one process, or None) bounds how many requests wait on Microsoft
    at once: when it is full, a request is refused at once with TooManyWaiting instead of waiting for a turn."""

    def __init__(self, session: requests.Session | None = None, *, retry: RetryPolicy | None = None,
                 timeout: tuple[float, float] = (5.0, 60.0), sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 gate: threading.Semaphore | None = None) -> None:
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.gate = gate
        self.request_count = 0
        self.throttled_count = 0  # answers of 429 Too Many Requests
        self.lost = 0.0  # seconds spent on failed attempts and waits

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a request; return the first non-retryable response or raise a typed error."""
        if self.gate is None:
            return self._send(method, url, kwargs)
        if not self.gate.acquire(blocking=False):
            log.warning("Microsoft request to %s refused: every slot for waiting on Microsoft is taken", _where(url))
            raise TooManyWaiting()
        try:
            return self._send(method, url, kwargs)
        finally:
            self.gate.release()

    def _attempt_timeout(self, kwargs: dict[str, Any], started: float) -> tuple[float, float]:
        """The (connect, read) timeout of the next attempt: the configured one, cut to what the deadline leaves."""
        timeout = kwargs.get("timeout", self.timeout)
        if self.retry.deadline is None:
            return timeout
        left = self.retry.deadline - (self.clock() - started)
        if left <= 0:
            raise SlowToAnswer()
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return min(connect, left), min(read, left)

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        started = self.clock()
        waited = 0.0
        attempt = 0
        while True:
            timeout = self._attempt_timeout(kwargs, started)
            attempt += 1
            self.request_count += 1
            sent = self.clock()
            try:
                response = self.session.request(method, url, **{**kwargs, "timeout": timeout})
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.lost += self.clock() - sent
                delay = self.retry.backoff(attempt, self.rng)
                if not self._may_retry(attempt, waited, delay, started):
                    raise (SlowToAnswer() if isinstance(exc, requests.ReadTimeout) else NetworkError()) from exc
                log.warning("Microsoft unreachable at %s (%s); retry %d in %.2fs",
                            _where(url), type(exc).__name__, attempt, delay)
                waited += self._wait(delay)
                continue
            if response.status_code not in RETRYABLE_STATUSES:
                return response
            self.throttled_count += response.status_code == 429
            self.lost += self.clock() - sent
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = max(self.retry.min_wait, retry_after) if retry_after is not None \
                else self.retry.backoff(attempt, self.rng)
            if not self._may_retry(attempt, waited, delay, started):
                raise self._exhausted(response, retry_after)
            log.warning("Microsoft answered %d at %s; retry %d in %.2fs",
                        response.status_code, _where(url), attempt, delay)
            response.close()
            waited += self._wait(delay)

    def _wait(self, delay: float) -> float:
        self.sleep(delay)
        self.lost += delay
        return delay

    def _may_retry(self, attempt: int, waited: float, delay: float, started: float) -> bool:
        """Whether one more attempt fits in the count, the request's waits, the run's budget and the deadline."""
        return (attempt < self.retry.max_attempts and waited + delay <= self.retry.max_total_wait
                and self.lost + delay <= self.retry.run_budget
                and (self.retry.deadline is None or self.clock() - started + delay < self.retry.deadline))

    @staticmethod
    def _exhausted(response: requests.Response, retry_after: float | None) -> MicrosoftError:
        """The typed error for a transient status that outlasted the retry budget."""
        code, request_id = graph_error_code(response.content)
        error_class = Throttled if response.status_code == 429 else ServiceUnavailable
        return error_class(code=code, status=response.status_code, request_id=request_id,
                           retry_after=retry_after)
