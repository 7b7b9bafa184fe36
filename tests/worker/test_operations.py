"""What an operator uses, after real runs of a real worker: `flask status`, /metrics and /health. A failed sync
shows as failed everywhere, RQ's own counts included."""
import json
import re

from rq import Queue
from rq.registry import FailedJobRegistry

from tests.worker.conftest import connect, run_worker
from webapp import create_app
from webapp.embedded_redis import free_port
from webapp.engine.lifecycle import queue_run
from webapp.models import SyncRun

TOKEN = "metrics-token-for-the-tests"


def failed_and_succeeded_runs(app, make_team, redis_connection, worker_env):
    broken = make_team("Broken Academy")
    connect(app, broken, secret="wrong-secret", auto_sync=True)
    working = make_team("Working Academy")
    connect(app, working)
    failed = queue_run(broken.id, "manual", redis_connection)
    succeeded = queue_run(working.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    assert (SyncRun.get_by_id(failed.id).status, SyncRun.get_by_id(succeeded.id).status) == ("failed", "succeeded")
    return broken, working, failed, succeeded


def test_a_failed_sync_is_a_failed_rq_job_and_shows_failed_in_the_status_command(
        app, runner, make_team, redis_connection, worker_env):
    broken, working, failed, succeeded = failed_and_succeeded_runs(app, make_team, redis_connection, worker_env)
    failed_jobs = FailedJobRegistry(queue=Queue("sync", connection=redis_connection)).get_job_ids()
    assert failed_jobs == [failed.job_id]

    result = runner.invoke(args=["status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Queue sync: 0 waiting, 0 running, 1 failed jobs kept"
    assert lines[1] == "Workers: 0"
    broken_row = next(line for line in lines if "Broken Academy" in line).split()
    working_row = next(line for line in lines if "Working Academy" in line).split()
    assert broken_row[:5] == [str(broken.id), "Broken", "Academy", str(failed.id), "failed"]
    assert broken_row[-1] == "1", "one failure in a row"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC", " ".join(broken_row)), \
        "when it finished, and when Auto Sync tries again"
    assert working_row[3:5] == [str(succeeded.id), "succeeded"]
    assert "Auto Sync off" in " ".join(working_row) and working_row[-1] == "0"


def test_the_metrics_count_runs_by_result_and_their_graph_requests_behind_a_token(
        app, client, make_team, redis_connection, worker_env):
    failed_and_succeeded_runs(app, make_team, redis_connection, worker_env)
    assert client.get("/metrics").status_code == 404, "no token set: no metrics page"
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401

    page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.mimetype == "text/plain"
    text = page.get_data(as_text=True)
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert values['entra_sync_runs_total{result="failed"}'] == "1"
    assert values['entra_sync_runs_total{result="succeeded"}'] == "1"
    assert values['entra_sync_runs_total{result="interrupted"}'] == "0"
    assert values["entra_sync_run_duration_seconds_count"] == "2"
    assert values['entra_sync_queue_wait_seconds_bucket{le="+Inf"}'] == "2"
    graph_requests = sum(run.graph_requests for run in SyncRun.select())
    assert int(values["entra_sync_graph_requests_total"]) == graph_requests > 0
    assert values["entra_sync_graph_throttled_total"] == "0"
    assert values["entra_sync_queue_depth"] == "0" and values["entra_sync_runs_running"] == "0"


def test_health_answers_without_sign_in_and_says_503_when_redis_is_down(app, client, database_url, tmp_path):
    answer = client.get("/health")
    assert (answer.status_code, answer.get_json()) == (200, {"status": "ok", "database": "ok", "redis": "ok"})
    no_redis = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": database_url,
                           "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "INSTANCE_DIR": tmp_path / "other"})
    answer = no_redis.test_client().get("/health")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable", "database": "ok", "redis": "unreachable"}


def test_a_workers_run_lines_carry_time_level_team_and_run_as_text_or_json(app, synced_team, redis_connection,
                                                                             worker_env):
    run = queue_run(synced_team.id, "manual", redis_connection)
    text = run_worker(worker_env)
    lines = [line for line in text.stderr.splitlines() if f"Sync run {run.id} " in line]
    assert len(lines) == 2, text.stderr
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} INFO worker\.jobs Sync run {run.id} of team "
                        rf"{synced_team.id} started team={synced_team.id} run={run.id}", lines[0])
    assert lines[1].endswith(f"ended: succeeded team={synced_team.id} run={run.id}")

    again = queue_run(synced_team.id, "manual", redis_connection)
    json_run = run_worker(dict(worker_env, LOG_FORMAT="json"))
    records = [json.loads(line) for line in json_run.stderr.splitlines() if line.startswith("{")]
    assert records and len(records) == len(json_run.stderr.splitlines()), "every line is one JSON object"
    about_the_run = [record for record in records if record.get("run_id") == again.id]
    assert [record["message"].split(": ")[-1] for record in about_the_run][-1] == "succeeded"
    assert {(record["level"], record["logger"], record["team_id"]) for record in about_the_run} == {
        ("INFO", "worker.jobs", synced_team.id)}
    assert all(record["time"] for record in records)
