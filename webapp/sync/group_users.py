"""The Sync Group's users, fetched from Graph once and kept in Redis for a few minutes (no Flask here)."""
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis

from webapp.microsoft import EntraUser, GraphClient, SlowToAnswer

CACHE_SECONDS = 600
LOAD_LOCK_SECONDS = 120
WRITE_CHUNK = 2000
PARTS = ("rows", "index", "ids", "emails", "info", "removals")


# The search index last read by this process, per group copy: prefix -> (fetched_at, text). A search then
# scans memory instead of reading megabytes from Redis; a new copy of the group has a new fetched_at.
_indexes: dict[str, tuple[float, str]] = {}
_indexes_lock = threading.Lock()
KEPT_INDEXES = 4


def _row(user: EntraUser) -> str:
    """The compact form kept in Redis: id, name, email, enabled, guest, job title, department, email proven."""
    return json.dumps([user.object_id, user.display_name, user.email, user.enabled, user.is_guest,
                       user.job_title, user.department, user.email_proven], separators=(",", ":"))


def _user(raw: bytes) -> EntraUser:
    # Copies made before email_proven was kept have seven fields; they expire within CACHE_SECONDS.
    object_id, name, email, enabled, guest, job_title, department, *proven = json.loads(raw)
    return EntraUser(object_id, email, name, None, None, job_title, department, enabled, guest, proven == [True])


def _index_line(user: EntraUser) -> str:
    return f"{user.display_name}\t{user.email or ''}".lower().replace("\n", " ")


class GroupUsers:
    """One team's view of one group's transitive users: a Redis list in name order plus a search index."""

    def __init__(self, redis: redis.Redis, team_id: int, group_id: str) -> None:
        self.redis = redis
        self.prefix = f"sync-users:{team_id}:{group_id}:"

    def key(self, part: str) -> str:
        return self.prefix + part

    def info(self) -> dict[str, Any] | None:
        """{'fetched_at', 'graph_requests', 'count'} of the cached copy, or None when there is none."""
        raw = cast(bytes | None, self.redis.get(self.key("info")))
        return json.loads(raw) if raw else None

    def ensure(self, make_graph_client: Callable[[], GraphClient], group_id: str, reload: bool = False,
               wait: float = LOAD_LOCK_SECONDS) -> tuple[dict[str, Any], bool]:
        """(info, fetched): the cached copy, fetched by one process at a time while the others wait for it, for at
        most `wait` seconds (then SlowToAnswer: Microsoft is still sending the group to the one fetching it)."""
        info = None if reload else self.info()
        if info is not None:
            return info, False
        lock = self.redis.lock(self.key("loading"), timeout=LOAD_LOCK_SECONDS, blocking_timeout=wait)
        if not lock.acquire():
            raise SlowToAnswer()
        try:
            info = None if reload else self.info()
            if info is not None:
                return info, False
            return self.load(make_graph_client(), group_id), True
        finally:
            lock.release()

    def load(self, graph_client: GraphClient, group_id: str) -> dict[str, Any]:
        """Fetch every user of the group (a complete list or an exception) and replace the cached copy."""
        before = graph_client.request_count
        users = {user.object_id: user for user in graph_client.fetch_group_users(group_id)}
        ordered = sorted(users.values(), key=lambda user: (user.display_name.casefold(), user.object_id))
        info = {"fetched_at": time.time(), "graph_requests": graph_client.request_count - before,
                "count": len(ordered)}
        self._store(ordered, info)
        return info

    def _store(self, ordered: Sequence[EntraUser], info: dict[str, Any]) -> None:
        """Write under temporary keys, then rename them all at once so readers never see half a copy."""
        temp = f"{self.prefix}loading-{uuid.uuid4().hex}:"
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(ordered), WRITE_CHUNK):
            chunk = ordered[start:start + WRITE_CHUNK]
            pipe.hset(temp + "rows", mapping={start + number: _row(user) for number, user in enumerate(chunk)})
            pipe.sadd(temp + "ids", *(user.object_id for user in chunk))
            emails = {user.email.lower() for user in chunk if user.email}
            if emails:
                pipe.sadd(temp + "emails", *emails)
        pipe.set(temp + "index", "\n".join(_index_line(user) for user in ordered))
        pipe.set(temp + "info", json.dumps(info))
        for part in PARTS:
            pipe.expire(temp + part, CACHE_SECONDS)
        pipe.execute()
        swap = self.redis.pipeline(transaction=True)
        swap.delete(*(self.key(part) for part in PARTS))
        for part in PARTS:
            if part == "removals" or (part in ("rows", "ids", "emails") and not ordered):
                continue
            swap.rename(temp + part, self.key(part))
        swap.execute()

    def page(self, search: str, offset: int, limit: int) -> tuple[int, list[EntraUser]]:
        """(total, users) of one page, filtered by a name/email substring: reads only that page's rows.

        Rows are a hash keyed by position in name order, so any page or set of search hits is one HMGET.
        """
        wanted: Sequence[int]
        if search:
            positions = self.matching_positions(search)
            total, wanted = len(positions), positions[offset:offset + limit]
        else:
            total = cast(int, self.redis.hlen(self.key("rows")))
            wanted = range(offset, min(total, offset + limit))
        if not wanted:
            return total, []
        rows = cast(list[bytes | None], self.redis.hmget(self.key("rows"), list(wanted)))
        return total, [_user(raw) for raw in rows if raw]

    def everyone(self) -> list[EntraUser]:
        """Every user of the cached copy, in name order."""
        rows = cast(dict[bytes, bytes], self.redis.hgetall(self.key("rows")))
        return [_user(rows[position]) for position in sorted(rows, key=int)]

    def search_index(self) -> str:
        """The copy's search index, one lower-cased "name<TAB>email" line per row position."""
        info = self.info()
        kept = _indexes.get(self.prefix)
        if info is not None and kept is not None and kept[0] == info["fetched_at"]:
            return kept[1]
        index = cast(bytes | None, self.redis.get(self.key("index")))
        text = index.decode() if index else ""
        if info is not None and text:
            with _indexes_lock:
                _indexes.pop(self.prefix, None)
                while len(_indexes) >= KEPT_INDEXES:
                    del _indexes[next(iter(_indexes))]
                _indexes[self.prefix] = (info["fetched_at"], text)
        return text

    def matching_positions(self, search: str) -> list[int]:
        """Positions of the users whose name or email contains `search`, case-insensitive."""
        text, needle = self.search_index(), search.lower()
        if not text:
            return []
        positions: list[int] = []
        line, counted, start = 0, 0, 0
        while (found := text.find(needle, start)) >= 0:
            line += text.count("\n", counted, found)
            counted = found
            positions.append(line)
            start = text.find("\n", found)
            if start < 0:
                break
        return positions

    def removals(self, stamp: int) -> list[list[Any]] | None:
        """The removal preview kept for this copy of the group and this state of the team, or None."""
        raw = cast(bytes | None, self.redis.get(self.key("removals")))
        if not raw:
            return None
        kept = json.loads(raw)
        return kept["rows"] if kept["stamp"] == stamp else None

    def keep_removals(self, stamp: int, rows: list[list[Any]]) -> None:
        """Keep the removal preview until the group's copy expires or is replaced."""
        lifetime = cast(int, self.redis.ttl(self.key("info")))
        if lifetime > 0:
            self.redis.set(self.key("removals"), json.dumps({"stamp": stamp, "rows": rows}), ex=lifetime)

    def contains(self, object_ids: list[str], emails: Sequence[str]) -> list[bool]:
        """For each (object id, email) pair: whether the group has that object id or that email."""
        if not object_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        pipe.smismember(self.key("ids"), object_ids)
        pipe.smismember(self.key("emails"), [email.lower() for email in emails])
        by_id, by_email = pipe.execute()
        return [bool(a) or bool(b) for a, b in zip(by_id, by_email)]
