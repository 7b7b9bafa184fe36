"""Riding out Redis trouble in the worker and the scheduler: wait with back-off, one log line when Redis stops
answering and one when it is back, instead of exiting (on a dyno platform an exit means a crash loop)."""

import logging
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import redis

from webapp import config, logs

TROUBLE = (redis.ConnectionError, redis.TimeoutError)
PING_TIMEOUT_SECONDS = 5
Params = ParamSpec("Params")
Result = TypeVar("Result")


class RedisWatch:
    """Notes Redis trouble once, and waits (first `first` seconds, doubling up to `longest`) until PING answers."""

    def __init__(self, connection: redis.Redis, log: logging.Logger, first: float = 0.5, longest: float = 15.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        pool = connection.connection_pool
        kwargs = dict(pool.connection_kwargs, socket_timeout=PING_TIMEOUT_SECONDS,
                      socket_connect_timeout=PING_TIMEOUT_SECONDS)
        # PING on a connection of its own that gives up in seconds, whatever timeouts `connection` has (none: the
        # worker's blocking dequeue must be able to wait longer than any socket timeout).
        self.ping_client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class,
                                                                            **kwargs))
        self.log = log
        self.first, self.longest = first, longest
        self.sleep, self.clock = sleep, clock
        self.down_since: float | None = None

    def failed(self, error: Exception) -> None:
        """Redis did not answer: say so, once per outage."""
        if self.down_since is None:
            self.down_since = self.clock()
            self.log.warning("Redis is unreachable (%s); waiting for it, retrying with back-off up to %.0f s",
                             type(error).__name__, self.longest)

    def answered(self) -> None:
        """Redis answered: say so if it had not been."""
        if self.down_since is not None:
            self.log.warning("Redis answers again after %.0f s; carrying on", self.clock() - self.down_since)
            self.down_since = None

    def wait(self) -> None:
        """Return once Redis answers PING, waiting with jittered back-off meanwhile."""
        delay = self.first
        while True:
            try:
                self.ping_client.ping()
            except TROUBLE as error:
                self.failed(error)
                self.sleep(delay / 2 + random.uniform(0, delay / 2))
                delay = min(self.longest, delay * 2)
                continue
            self.answered()
            return

    def call(self, function: Callable[Params, Result], *args: Params.args, **kwargs: Params.kwargs) -> Result:
        """function(*args, **kwargs), waited for and tried again for as long as Redis is in trouble."""
        while True:
            try:
                result = function(*args, **kwargs)
            except TROUBLE as error:
                self.failed(error)
                self.wait()
                continue
            self.answered()
            return result


def entry_point_settings() -> dict[str, Any]:
    """The worker's and the scheduler's settings, with logging set up; a bad configuration or a missing REDIS_URL
    ends the process with its message."""
    settings = config.load_or_exit()
    logs.setup(settings["LOG_FORMAT"])
    if not settings["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set.")
    return settings
