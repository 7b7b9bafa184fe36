"""Runs accepted before Redis restarted empty: the next tick queues them again as they were asked for."""
import datetime as dt

from rq import Queue

from tests.worker.conftest import emails_of, run_of, run_worker
from tests.worker.test_runs_ui import _over_the_guard
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import queue_run
from webapp.models import SyncRun, User, utcnow


def test_a_confirm_removals_run_lost_by_redis_is_queued_again_and_still_removes_the_reviewed(
        app, signed_in, redis_connection, worker_env, leader):
    team = leader.team
    User.delete().where((User.team == team.id) & (User.id != leader.id)).execute()
    _over_the_guard(app, team)
    reviewed = queue_run(team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    assert run_of(reviewed.id).status == "needs_review"
    signed_in.post(f"/teams/{team.id}/runs/{reviewed.id}/confirm", headers={"HX-Request": "true"})
    confirm = SyncRun.select().order_by(SyncRun.id.desc()).first()
    redis_connection.flushall()  # Redis restarted: it keeps nothing on disk
    SyncRun.update(created_at=utcnow() - dt.timedelta(minutes=2)).where(SyncRun.id == confirm.id).execute()

    Queue("sync", connection=redis_connection).enqueue("worker.jobs.tick")
    assert run_worker(worker_env).returncode == 0

    confirm = run_of(confirm.id)
    assert (confirm.trigger, confirm.status, confirm.removed) == ("confirm", "succeeded", 30)
    assert emails_of(team) == TRAINING | {leader.email}
    assert SyncRun.select().where(SyncRun.team == team.id).count() == 2
