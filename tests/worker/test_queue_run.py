"""queue_run: one queued run per team, lost jobs noticed, old history forgotten."""
import datetime as dt

from rq import Queue

from webapp.engine.lifecycle import JOB_LOST, prune_history, queue_run
from webapp.models import SyncOutcome, SyncRun, utcnow


def test_a_second_start_returns_the_queued_run_and_enqueues_nothing(app, team, redis_connection):
    first = queue_run(team.id, "manual", redis_connection)
    again = queue_run(team.id, "auto", redis_connection)
    assert again.id == first.id and first.job_id == f"sync-run-{first.id}"
    queue = Queue("sync", connection=redis_connection)
    assert queue.job_ids == [first.job_id]
    job = queue.fetch_job(first.job_id)
    assert (job.func_name, job.args) == ("worker.jobs.sync_team", (team.id, first.id, None))


def test_a_queued_run_whose_job_vanished_is_failed_and_replaced(app, team, redis_connection):
    lost = queue_run(team.id, "manual", redis_connection)
    Queue("sync", connection=redis_connection).empty()
    assert queue_run(team.id, "manual", redis_connection).id == lost.id, "just queued: given time to appear"
    SyncRun.update(created_at=utcnow() - dt.timedelta(minutes=5)).where(SyncRun.id == lost.id).execute()
    replacement = queue_run(team.id, "manual", redis_connection)
    assert replacement.id != lost.id
    lost = SyncRun.get_by_id(lost.id)
    assert (lost.status, lost.error) == ("failed", JOB_LOST)


def test_history_older_than_thirty_days_is_forgotten(app, team):
    old = SyncRun.create(team=team, trigger="auto", status="succeeded", finished_at=utcnow() - dt.timedelta(days=31))
    recent = SyncRun.create(team=team, trigger="auto", status="succeeded", finished_at=utcnow())
    for run in (old, recent):
        SyncOutcome.create(run=run, action="skipped", reason="disabled in Entra", email="x@contoso.com")
    assert prune_history() == 1
    assert [run.id for run in SyncRun.select()] == [recent.id]
    assert [outcome.run_id for outcome in SyncOutcome.select()] == [recent.id]
