"""Building a Graph client: its token provider, the limits of its calls, and an access token shared through Redis."""
from redis.exceptions import LockError

from .errors import SlowToAnswer
from .graph import GraphClient
from .http import Transport

SHARED_TOKEN_SECONDS = 600
TOKEN_LOCK_SECONDS = 30


class SharedTokenProvider:
    """Shares a connection's access token between processes through Redis; one process at a time renews it."""

    def __init__(self, redis, key, secret_box, make_provider, wait=TOKEN_LOCK_SECONDS):
        self.redis = redis
        self.key = key
        self.secret_box = secret_box
        self.make_provider = make_provider
        self.wait = wait

    def __repr__(self):
        return f"SharedTokenProvider(key={self.key!r})"

    def _cached(self):
        value = self.redis.get(self.key)
        return self.secret_box.decrypt(value.decode()) if value else None

    def access_token(self):
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
            try:
                lock.release()
            except LockError:
                pass  # it expired while Microsoft was answering; the token is stored all the same
        return token

    def invalidate(self):
        self.redis.delete(self.key)


def graph_client(graph_url, make_provider, *, shared=None, session=None, retry=None, timeout=None, gate=None):
    """A GraphClient whose token provider is `make_provider(transport)`; with `shared` (redis, key, secret box),
    processes share its access token under that Redis key.

    `retry`, `timeout` and `gate` apply to its token and Graph requests alike (Transport's defaults when None); a
    retry policy with a deadline also bounds the wait for another process renewing the shared token."""
    limits = {name: value for name, value in (("retry", retry), ("timeout", timeout), ("gate", gate))
              if value is not None}

    def provider():
        return make_provider(Transport(**limits) if limits else None)

    if shared is None:
        tokens = provider()
    else:
        redis, key, secret_box = shared
        wait = retry.deadline if retry is not None and retry.deadline else TOKEN_LOCK_SECONDS
        tokens = SharedTokenProvider(redis, key, secret_box, provider, wait=wait)
    return GraphClient(graph_url, tokens, session, transport=Transport(session=session, **limits))
