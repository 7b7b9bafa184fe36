"""HTTP requests to Microsoft with the retry rule of §6: bounded waits on 429/503/504 and network errors."""

import logging
import math
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from .errors import NetworkError, ServiceUnavailable, Throttled, graph_error_code

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; every wait is at least `min_wait`, so never at once."""

    max_attempts: int = 5
    max_total_wait: float = 60.0
    base_backoff: float = 1.0
    max_backoff: float = 30.0
    min_wait: float = 0.05

    def backoff(self, attempt, rng):
        """Exponential backoff with equal jitter for retry number `attempt` (1-based)."""
        ceiling = min(self.max_backoff, self.base_backoff * 2 ** (attempt - 1))
        return max(self.min_wait, ceiling / 2 + rng.uniform(0, ceiling / 2))


def parse_retry_after(value):
    """Seconds from a Retry-After header given in (possibly fractional) seconds, else None."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _where(url):
    """Host and path of a URL, for logs: no query string, which may carry opaque state."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class Transport:
    """Sends requests over one `requests.Session`, retrying transient failures, counting every attempt."""

    def __init__(self, session=None, *, retry=None, timeout=(5.0, 60.0), sleep=time.sleep,
                 clock=time.monotonic, rng=None):
        self.session = session or requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.request_count = 0

    def request(self, method, url, **kwargs):
        """Send a request; return the first non-retryable response or raise a typed error."""
        kwargs.setdefault("timeout", self.timeout)
        started = self.clock()
        attempt = 0
        while True:
            attempt += 1
            self.request_count += 1
            try:
                response = self.session.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                delay = self.retry.backoff(attempt, self.rng)
                if not self._may_retry(attempt, started, delay):
                    raise NetworkError() from exc
                log.warning("Microsoft unreachable at %s (%s); retry %d in %.2fs",
                            _where(url), type(exc).__name__, attempt, delay)
                self.sleep(delay)
                continue
            if response.status_code not in RETRYABLE_STATUSES:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = max(self.retry.min_wait, retry_after) if retry_after is not None \
                else self.retry.backoff(attempt, self.rng)
            if not self._may_retry(attempt, started, delay):
                raise self._exhausted(response, retry_after)
            log.warning("Microsoft answered %d at %s; retry %d in %.2fs",
                        response.status_code, _where(url), attempt, delay)
            response.close()
            self.sleep(delay)

    def _may_retry(self, attempt, started, delay):
        """Whether one more attempt fits in the count and time budget."""
        elapsed = self.clock() - started
        return attempt < self.retry.max_attempts and elapsed + delay <= self.retry.max_total_wait

    @staticmethod
    def _exhausted(response, retry_after):
        """The typed error for a transient status that outlasted the retry budget."""
        code, request_id = graph_error_code(response.content)
        error_class = Throttled if response.status_code == 429 else ServiceUnavailable
        return error_class(code=code, status=response.status_code, request_id=request_id,
                           retry_after=retry_after)
