"""What an incremental sync starts from, kept in Redis per team: the delta links and who is in the group.

It is a cache. When it is missing, incomplete, older than the full-pass interval, or was built for other
settings or before the team changed by another path, the sync makes a full pass and writes it anew.
"""

import json
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

import redis
from redis.client import Pipeline

from webapp.engine.delta import Movement, Standing
from webapp.microsoft import EntraUser

TTL_SECONDS = 8 * 24 * 3600  # delta links expire after 7 days anyway
CHUNK = 5000


IN_GROUP = "in-group"  # the set of every user in the Sync Group; the others hold each tracked group's direct users


@dataclass(frozen=True)
class TrackingState:
    """A team's saved tracking state."""

    generation: str
    key: str  # digest of the connection and settings it was built for
    members_version: int  # the team's membership version when it was saved
    full_at: float  # when the last full pass ran (epoch seconds)
    users_link: str
    groups_link: str
    # IN_GROUP and each tracked group id (the Sync Group and its nested groups) -> members in its set
    sizes: dict[str, int]

    @property
    def holders(self) -> list[str]:
        return [name for name in self.sizes if name != IN_GROUP]


class GroupTracker:
    """Reads and writes one team's tracking state."""

    def __init__(self, redis: redis.Redis, team_id: int, full_pass_seconds: float) -> None:
        self.redis = redis
        self.team_id = team_id
        self.full_pass_seconds = full_pass_seconds

    @property
    def _meta_key(self) -> str:
        return f"entra-sync:delta:{self.team_id}"

    def _set_key(self, generation: str, name: str) -> str:
        return f"entra-sync:delta:{self.team_id}:{generation}:set:{name}"

    def _pending_key(self, generation: str) -> str:
        return f"entra-sync:delta:{self.team_id}:{generation}:pending"

    def _keys(self, generation: str, names: Iterable[str]) -> list[str]:
        return [self._pending_key(generation), *(self._set_key(generation, name) for name in names)]

    def load(self, key: str, members_version: int) -> TrackingState | None:
        """The saved state, if it fits `key` and `members_version`, is fresh enough and nothing of it was lost."""
        meta = cast(dict[bytes, bytes], self.redis.hgetall(self._meta_key))
        raw = {name.decode(): value.decode() for name, value in meta.items()}
        try:
            state = TrackingState(raw["generation"], raw["key"], int(raw["members_version"]), float(raw["full_at"]),
                                  raw["users_link"], raw["groups_link"], json.loads(raw["sizes"]))
        except (KeyError, ValueError):
            return None
        if (state.key != key or state.members_version != members_version
                or time.time() - state.full_at > self.full_pass_seconds):
            return None
        pipeline = self.redis.pipeline(transaction=False)
        for name in state.sizes:
            pipeline.scard(self._set_key(state.generation, name))
        if pipeline.execute() != list(state.sizes.values()):
            return None
        return state

    def standing(self, state: TrackingState, user_ids: Iterable[str]) -> dict[str, Standing]:
        """Each user's saved (in the group, tracked groups holding it directly)."""
        user_ids = list(user_ids)
        if not user_ids:
            return {}
        names = list(state.sizes)
        pipeline = self.redis.pipeline(transaction=False)
        for name in names:
            pipeline.smismember(self._set_key(state.generation, name), user_ids)
        held = dict(zip(names, pipeline.execute()))
        return {user_id: (bool(held[IN_GROUP][n]), {name for name in state.holders if held[name][n]})
                for n, user_id in enumerate(user_ids)}

    def pending(self, state: TrackingState) -> dict[str, EntraUser]:
        """The group users a run skipped for reasons on the platform's side, to look at again every run."""
        pending = cast(dict[bytes, bytes], self.redis.hgetall(self._pending_key(state.generation)))
        return {user_id.decode(): EntraUser(*json.loads(value)) for user_id, value in pending.items()}

    def save_full(self, key: str, members_version: int, users_link: str, groups_link: str, in_group: Iterable[str],
                  holders: Mapping[str, Iterable[str]], pending: Collection[EntraUser]) -> None:
        """Replace the state after a full pass: the group's user ids, each tracked group's direct user ids."""
        generation = uuid.uuid4().hex[:12]
        sets = {IN_GROUP: set(in_group), **{group_id: set(user_ids) for group_id, user_ids in holders.items()}}
        pipeline = self.redis.pipeline(transaction=False)
        for name, members in sets.items():
            user_ids = list(members)
            for start in range(0, len(user_ids), CHUNK):
                pipeline.sadd(self._set_key(generation, name), *user_ids[start:start + CHUNK])
        self._write_pending(pipeline, generation, pending, ())
        for name in self._keys(generation, sets):
            pipeline.expire(name, TTL_SECONDS)
        pipeline.execute()
        old = self._current()
        self._write_meta(generation, key, members_version, time.time(), users_link, groups_link,
                         {name: len(user_ids) for name, user_ids in sets.items()})
        if old is not None and old[0] != generation:
            self.redis.delete(*self._keys(*old))

    def save_round(self, state: TrackingState, members_version: int, users_link: str, groups_link: str,
                   moved: Movement, pending: Collection[EntraUser], settled: Collection[str]) -> None:
        """Record one incremental round: new links, where each touched user stands now, the pending users
        (`pending` added, `settled` ids dropped)."""
        in_set = {IN_GROUP: {user_id: now for user_id, now in moved.in_group.items()}}
        for group_id in state.holders:
            in_set[group_id] = {user_id: group_id in groups for user_id, groups in moved.holders.items()}
        pipeline = self.redis.pipeline(transaction=False)
        for name, answers in in_set.items():
            added = [user_id for user_id, now in answers.items() if now]
            dropped = [user_id for user_id, now in answers.items() if not now]
            if added:
                pipeline.sadd(self._set_key(state.generation, name), *added)
            if dropped:
                pipeline.srem(self._set_key(state.generation, name), *dropped)
        self._write_pending(pipeline, state.generation, pending, settled)
        for name in self._keys(state.generation, state.sizes):
            pipeline.expire(name, TTL_SECONDS)
        pipeline.execute()
        pipeline = self.redis.pipeline(transaction=False)
        for name in state.sizes:
            pipeline.scard(self._set_key(state.generation, name))
        sizes = dict(zip(state.sizes, pipeline.execute()))
        self._write_meta(state.generation, state.key, members_version, state.full_at, users_link, groups_link, sizes)

    def clear(self) -> None:
        """Forget the state: the next sync makes a full pass."""
        old = self._current()
        self.redis.delete(self._meta_key, *(self._keys(*old) if old else ()))

    def _write_pending(self, pipeline: Pipeline, generation: str, pending: Collection[EntraUser],
                       settled: Collection[str]) -> None:
        name = self._pending_key(generation)
        if settled:
            pipeline.hdel(name, *settled)
        if pending:
            pipeline.hset(name, mapping={user.object_id: json.dumps(list(user)) for user in pending})

    def _write_meta(self, generation: str, key: str, members_version: int, full_at: float, users_link: str,
                    groups_link: str, sizes: dict[str, int]) -> None:
        pipeline = self.redis.pipeline()
        pipeline.delete(self._meta_key)
        pipeline.hset(self._meta_key, mapping={
            "generation": generation, "key": key, "members_version": members_version, "full_at": full_at,
            "users_link": users_link, "groups_link": groups_link, "sizes": json.dumps(sizes)})
        pipeline.expire(self._meta_key, TTL_SECONDS)
        pipeline.execute()

    def _current(self) -> tuple[str, list[str]] | None:
        """(generation, tracked group ids) of the saved state, whatever it fits."""
        generation, sizes = cast(list[bytes | None], self.redis.hmget(self._meta_key, ["generation", "sizes"]))
        if generation is None or sizes is None:
            return None
        try:
            return generation.decode(), list(json.loads(sizes))
        except ValueError:
            return None
