"""Look someone up in Chromium: search the tenant, read the answer, Sync this person now."""
from playwright.sync_api import expect

from tests.browser_fixtures import assert_accessible
from tests.sync_page.test_browser import SLOW, settled, sync_page  # noqa: F401  (the fixture)
from tests.sync_page.test_lookup import connected  # noqa: F401  (the fixture)
from webapp.models import SyncRun


def test_look_up_a_nested_guest_and_sync_her_now(connected, sync_page, screenshot, team, database_url):  # noqa: F811
    page = sync_page
    page.get_by_role("searchbox", name="Look someone up by name or email").press_sequentially("lena", delay=40)
    expect(page.get_by_role("button", name="Lena Vogel")).to_be_visible(timeout=SLOW)
    settled(page)
    assert_accessible(page, "look-up results")
    page.get_by_role("button", name="Lena Vogel").click()
    answer = page.locator("#lookup-answer")
    expect(answer).to_contain_text("In Training through the nested group New Starters.", timeout=SLOW)
    expect(answer).to_contain_text("A guest (#EXT#) account: this team includes guests.")
    expect(answer).to_contain_text("Next sync: Will be added to this team, with a new account.")
    if database_url.startswith("sqlite"):
        screenshot("sync-lookup-answer")
    settled(page)
    assert_accessible(page, "look-up answer")
    page.get_by_role("button", name="Sync this person now").click()
    expect(page.get_by_text("Syncing this person now: the run is shown below.")).to_be_visible(timeout=SLOW)
    assert_accessible(page, "a person's sync started")
    run = SyncRun.get(SyncRun.team == team)
    assert (run.trigger, run.status) == ("person", "queued")
