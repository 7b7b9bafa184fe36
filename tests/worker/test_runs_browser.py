"""In a real browser: the runs panel follows a sync live, then shows its counts; removals are confirmed there."""
from playwright.sync_api import expect

from tests.browser.test_members_browser import sign_in
from tests.browser_fixtures import assert_accessible
from tests.worker.conftest import connect, kill_group, start_worker
from tests.worker.test_sync_job import TRAINING
from webapp.engine.lifecycle import queue_run
from webapp.models import User


def test_the_panel_follows_a_sync_live_and_confirms_removals(app, page, live_server, screenshot, leader,
                                                             redis_connection, worker_env, fake_entra, database_url):
    team = leader.team
    connect(app, team, allow_deletion=True)
    User.insert_many([{"email": f"former{n}@example.com", "name": f"Former {n}", "team": team.id}
                      for n in range(5)]).execute()
    fake_entra.control.inject(delay=2.0, path="transitiveMembers")
    queue_run(team.id, "manual", redis_connection)
    sign_in(page, live_server, leader.email)
    page.goto(f"{live_server}/teams/{team.id}/entra-sync/")
    panel = page.locator("#sync-runs")
    expect(panel).to_contain_text("Sync queued")
    assert_accessible(page, "a sync queued")
    worker = start_worker(worker_env)
    try:
        expect(panel).to_contain_text("Sync running", timeout=15_000)
        assert_accessible(page, "a sync running")
        expect(panel).to_contain_text("Needs review", timeout=20_000)
        expect(panel).to_contain_text("This sync would remove 30 members")
        if database_url.startswith("sqlite"):
            screenshot("sync-runs-needs-review")
        assert_accessible(page, "a sync waiting for review")
        page.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Confirm removals").click()
        expect(panel).to_contain_text("Removals confirmed")
        expect(panel.locator(".last-run")).to_contain_text("30 removed", timeout=20_000)
        assert_accessible(page, "removals confirmed")
    finally:
        kill_group(worker)
    assert {row[0] for row in User.select(User.email).where(User.team == team.id).tuples()} == TRAINING | {
        leader.email}
