"""Building a Graph client: its token provider, the limits of its calls, and an access token shared through Redis."""
import contextlib
import threading
from collections.abc import Callable
from typing import Any, cast

import redis
import requests
from redis.exceptions import LockError

from webapp.crypto import SecretBox

from .errors import SlowToAnswer
from .graph import GraphClient
from .http import RetryPolicy, Transport
from .tokens import TokenProvider

SHARED_TOKEN_SECONDS = 600
TOKEN_LOCK_SECONDS = 30


class SharedTokenProvider:
    """Shares a connection's access token between processes through Redis; one process at a time renews it."""

    def __init__(self, redis: redis.Redis, key: str, secret_box: SecretBox, make_provider: Callable[[], TokenProvider],
                 wait: float = TOKEN_LOCK_SECONDS) -> None:
        self.redis = redis
        self.key = key
        self.secret_box = secret_box
        self.make_provider = make_provider
        self.wait = wait

    def __repr__(self) -> str:
        return f"SharedTokenProvider(key={self.key!r})"

    def _cached(self) -> str | None:
        value = cast(bytes | None, self.redis.get(self.key))
        return self.secret_box.decrypt(value.decode()) if value else None

    def access_token(self) -> str:
        """The shared access token; renewing it re-reads the refresh token under a lock, since renewal rotates it."""
        token = self._cached()
        if token:
            return token
        lock = self.redis.lock(self.key + ":lock", timeout=TOKEN_LOCK_SECONDS, blocking_timeout=self.wait)
        if not lock.acquire():
            raise SlowToAnswer()  # another process has been renewing the token with Microsoft for `wait` seconds
        try:
            token = self._cached()
            if not token:
                token = self.make_provider().access_token()
                self.redis.set(self.key, self.secret_box.encrypt(token), ex=SHARED_TOKEN_SECONDS)
        finally:
            with contextlib.suppress(LockError):  # it expired while Microsoft was answering; the token is stored
                lock.release()
        return token

    def invalidate(self) -> None:
        self.redis.delete(self.key)


def graph_client(graph_url: str, make_provider: Callable[[Transport | None], TokenProvider], *,
                 shared: tuple[redis.Redis, str, SecretBox] | None = None, session: requests.Session | None = None,
                 retry: RetryPolicy | None = None, timeout: tuple[float, float] | None = None,
                 gate: threading.Semaphore | None = None) -> GraphClient:
    """A GraphClient whose token provider is `make_provider(transport)`; with `shared` (redis, key, secret box),
    processes share its access token under that Redis key.

    `retry`, `timeout` and `gate` apply to its token and Graph requests alike (Transport's defaults when None); a
    retry policy with a deadline also bounds the wait for another process renewing the shared token."""
    limits: dict[str, Any] = {name: value for name, value in (("retry", retry), ("timeout", timeout), ("gate", gate))
              if value is not None}

    def provider() -> TokenProvider:
        return make_provider(Transport(**limits) if limits else None)

    if shared is None:
        tokens = provider()
    else:
        redis, key, secret_box = shared
        wait = retry.deadline if retry is not None and retry.deadline else TOKEN_LOCK_SECONDS
        tokens = SharedTokenProvider(redis, key, secret_box, provider, wait=wait)
    return GraphClient(graph_url, tokens, session, transport=Transport(session=session, **limits))
