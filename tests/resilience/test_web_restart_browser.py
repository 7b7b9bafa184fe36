"""In Chromium: the web restarts while the runs panel follows a sync. The panel says it cannot reach the server,
keeps asking with back-off, and shows the run's end once the web is back, without a reload."""
import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.resilience.conftest import web_env
from tests.security.conftest import start_gunicorn
from tests.worker.conftest import kill_group, run_of, start_worker, wait_for
from webapp.engine.lifecycle import queue_run

NESTED_GROUPS = "transitiveMembers/microsoft.graph.group"


def test_the_runs_panel_recovers_after_the_web_restarts_mid_run(app, page, connected_team, database_url, redis_url,
                                                                fake_entra, worker_env, redis_connection, tmp_path):
    team, leader = connected_team
    env = web_env(app, database_url, redis_url, fake_entra)
    log_path = tmp_path / "web.log"
    web, url = start_gunicorn(env, log_path)
    port = int(url.rsplit(":", 1)[1])
    fake_entra.control.inject(delay=4.0, path=NESTED_GROUPS)
    worker = start_worker(worker_env)
    try:
        page.goto(url + "/login")
        page.get_by_label("Email").fill(leader.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        run = queue_run(team.id, "manual", redis_connection)
        page.goto(f"{url}/teams/{team.id}/entra-sync/")
        panel = page.locator("#sync-runs")
        expect(panel).to_contain_text("Sync running", timeout=15_000)

        web.terminate()
        web.wait(timeout=10)
        expect(panel).to_contain_text("Cannot reach the server, trying again", timeout=10_000)
        expect(page.locator("#announcer")).to_have_text("Cannot reach the server, trying again…")
        wait_for(lambda: run_of(run.id).status == "succeeded", timeout=30)
        page.wait_for_timeout(3_000)  # a few polls fail meanwhile: the back-off grows

        web, _ = start_gunicorn(env, log_path, port=port)
        expect(panel.locator(".last-run")).to_contain_text("Succeeded", timeout=20_000)
        expect(panel).not_to_contain_text("Sync running")
        expect(panel).not_to_contain_text("Cannot reach the server")
    finally:
        kill_group(worker)
        web.terminate()
        web.wait(timeout=10)
    assert re.search(rf"GET /teams/{team.id}/runs/panel 200", log_path.read_text())
