"""Auto Sync at scale: the tick's fair order and bulk queueing, the per-tenant limit, short runs without a fork."""
import datetime as dt
import json
import subprocess

from rq import Queue

from tests.worker.conftest import BIN, ROOT, connect
from webapp.models import SyncRun, SyncSettings, utcnow

# Runs tick() as the worker does and prints what it queued and how many SQL queries and Redis round trips it took.
COUNTED_TICK = """
import json, peewee, redis.connection
from worker.jobs import tick
counts = {"sql": 0, "redis": 0}
execute_sql, send = peewee.Database.execute_sql, redis.connection.Connection.send_packed_command
def counted_sql(self, *args, **kwargs):
    counts["sql"] += 1
    return execute_sql(self, *args, **kwargs)
def counted_send(self, *args, **kwargs):
    counts["redis"] += 1
    return send(self, *args, **kwargs)
peewee.Database.execute_sql, redis.connection.Connection.send_packed_command = counted_sql, counted_send
print(json.dumps({"runs": tick(), **counts}))
"""


def counted_tick(env):
    result = subprocess.run([str(BIN / "python"), "-c", COUNTED_TICK], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def auto_teams(app, make_team, count, start=0):
    teams = [make_team(f"Auto {start + n}") for n in range(count)]
    for team in teams:
        connect(app, team, auto_sync=True)
    return teams


def finished(team, days_ago):
    SyncRun.create(team=team, trigger="auto", status="succeeded", finished_at=utcnow() - dt.timedelta(days=days_ago))


def queued_teams(redis_connection):
    """The team of each queued sync job, in the order the workers will take them."""
    queue = Queue("sync", connection=redis_connection)
    return [job.args[0] for job in queue.get_jobs() if job.func_name == "worker.jobs.sync_team"]


def test_the_tick_queues_the_longest_overdue_first(app, make_team, redis_connection, worker_env):
    recent, oldest, never, middle = auto_teams(app, make_team, 4)
    finished(recent, 1.1)
    finished(oldest, 9)
    finished(middle, 3)
    not_due = auto_teams(app, make_team, 1, start=4)[0]
    finished(not_due, 0.5)
    ticked = counted_tick(worker_env)
    assert queued_teams(redis_connection) == [never.id, oldest.id, middle.id, recent.id]
    runs = list(SyncRun.select().where(SyncRun.id.in_(ticked["runs"])).order_by(SyncRun.id))
    assert [(run.team_id, run.trigger, run.status, run.job_id) for run in runs] == [
        (team.id, "auto", "queued", f"sync-run-{run.id}") for team, run in zip([never, oldest, middle, recent], runs)]
    assert counted_tick(worker_env)["runs"] == [], "a team with a run queued is not queued twice"


def test_the_tick_takes_as_many_queries_and_round_trips_for_forty_teams_as_for_four(app, make_team,
                                                                                    redis_connection, worker_env):
    few = counted_tick_of(app, make_team, redis_connection, worker_env, 4, 0)
    many = counted_tick_of(app, make_team, redis_connection, worker_env, 40, 4)
    assert (len(few["runs"]), len(many["runs"])) == (4, 40)
    assert many["sql"] == few["sql"] and many["redis"] <= few["redis"], (few, many)


def counted_tick_of(app, make_team, redis_connection, worker_env, count, start):
    """A tick over `count` new due teams (half of them synced before); the earlier teams' runs ended and their Auto
    Sync is off."""
    SyncSettings.update(auto_sync=False).execute()
    SyncRun.update(status="succeeded", finished_at=utcnow()).where(SyncRun.status == "queued").execute()
    redis_connection.flushdb()
    for number, team in enumerate(auto_teams(app, make_team, count, start)):
        if number % 2:
            finished(team, 2)
    return counted_tick(worker_env)
