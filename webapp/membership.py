"""A per-team counter in Redis that moves whenever the team's membership may have changed.

Caches derived from a team's members (the Sync Users removal preview) key on it, so they are
never stale after a sync, an edit, a removal or a restore.
"""


def _key(team_id):
    return f"team-members-version:{team_id}"


def version(redis, team_id):
    return int(redis.get(_key(team_id)) or 0)


def changed(redis, team_id):
    redis.incr(_key(team_id))
