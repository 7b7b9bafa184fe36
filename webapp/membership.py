"""A per-team counter in Redis that moves whenever the team's membership may have changed.

Caches derived from a team's members (the Sync Users removal preview) key on it, so they are
never stale after a sync, an edit, a removal or a restore.
"""
from typing import cast

import redis


def _key(team_id: int) -> str:
    return f"team-members-version:{team_id}"


def version(redis: redis.Redis, team_id: int) -> int:
    return int(cast(bytes | None, redis.get(_key(team_id))) or 0)


def changed(redis: redis.Redis, team_id: int) -> None:
    redis.incr(_key(team_id))


def team_size(redis: redis.Redis, team_id: int) -> int:
    """Active members of the team, counted once per state of its membership and minute
    (counting 100,000 rows costs tens of ms; the minute covers changes made by other paths, such as a command)."""
    from webapp.models import User

    key = f"team-member-count:{team_id}:{version(redis, team_id)}"
    cached = cast(bytes | None, redis.get(key))
    if cached is not None:
        return int(cached)
    total = User.select().where((User.team == team_id) & (User.active == True)).count()  # noqa: E712
    redis.set(key, total, ex=60)
    return total
