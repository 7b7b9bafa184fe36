"""In Chromium, no page of the portal breaks its Content-Security-Policy: every main page and the htmx
interactions on it (search, paging, edit, the Sync Group type-ahead, ticking users, Save, Connect Microsoft OAuth
through Microsoft's sign-in) run with no violation reported and nothing htmx would have needed eval for."""
from playwright.sync_api import expect

from fake_entra import demo
from tests.browser_fixtures import assert_accessible
from tests.conftest import PASSWORD
from tests.sync_page.conftest import entra  # noqa: F401 (the app pointed at fake_entra)
from tests.sync_page.test_browser import SLOW, settled
from webapp.models import SyncOutcome, SyncRun, utcnow

WATCH = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => window.__refused.push(
  event.violatedDirective + " " + (event.blockedURI || "inline") + " " + location.pathname));
document.addEventListener("htmx:evalDisallowedError", () => window.__refused.push("eval " + location.pathname));
"""


def refused(page):
    return page.evaluate("window.__refused")


def test_no_page_reports_a_content_security_policy_violation(page, live_server, entra, leader, team):  # noqa: F811
    run = SyncRun.create(team=team, trigger="manual", status="succeeded", finished_at=utcnow(), added=1)
    SyncOutcome.create(run=run, action="added", name="Member 00001", email="member1@example.com")
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.context.add_init_script(WATCH)
    seen = []

    def check(where):
        seen.append(where)
        assert refused(page) == [], where
        assert_accessible(page, where)

    policy = page.goto(live_server + "/login").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy  # the pages below run under it
    check("sign-in page")
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Team Leader", exact=True).click()
    page.get_by_role("link", name="Manage Team").click()
    expect(page.get_by_text("26 members")).to_be_visible()
    page.get_by_role("searchbox", name="Search members").fill("Member 0001")
    expect(page.locator("main").get_by_text("10 members matching")).to_be_visible()
    page.locator("tr", has_text="Member 00012").get_by_role("button", name="Edit").click()
    expect(page.locator("tr.editing")).to_be_visible()
    check("members page")

    page.goto(f"{live_server}/teams/{team.id}/members/removed")
    check("removed members")
    page.goto(f"{live_server}/teams/{team.id}/events/")
    expect(page.get_by_text("Signed in").first).to_be_visible()
    check("security events")
    page.goto(f"{live_server}/teams/{team.id}/runs/")
    expect(page.get_by_text("1 run", exact=True)).to_be_visible()
    assert_accessible(page, "sync history")
    page.goto(f"{live_server}/teams/{team.id}/runs/{run.id}")
    expect(page.get_by_text("Member 00001")).to_be_visible()
    check("run history")

    page.goto(f"{live_server}/teams/{team.id}/entra-sync/")
    page.get_by_role("button", name="Connect Microsoft OAuth").click()  # a form whose answer leads to Microsoft
    page.get_by_label("Email or username").fill(demo.ADMIN_EMAIL)
    page.get_by_label("Password").fill(demo.USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Consent on behalf of your organization").check()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text(f"Connected to {demo.TENANT_DOMAIN}")).to_be_visible(timeout=SLOW)
    group_search = page.get_by_role("combobox")
    group_search.press_sequentially("trai", delay=40)
    expect(page.get_by_role("option")).to_have_count(1, timeout=SLOW)
    group_search.press("Enter")  # searches, does not submit the settings form
    expect(page.get_by_role("option", name="Training")).to_be_visible()
    page.get_by_role("option", name="Training").click()
    page.get_by_role("button", name="Show users and their sync status").click()
    expect(page.locator("main").get_by_text("22 in the group")).to_be_visible(timeout=SLOW)
    settled(page)
    users = page.get_by_role("searchbox", name="Search users")
    users.fill("megan")
    users.press("Enter")
    expect(page.locator("table.sync-users tbody tr")).to_have_count(1, timeout=SLOW)
    page.get_by_label("Select Megan Bowen").check()
    expect(page.get_by_text("1 user selected")).to_be_visible(timeout=SLOW)
    settled(page)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main").get_by_text("Saved")).to_be_visible(timeout=SLOW)
    check("Azure Entra Sync page")

    assert len(seen) == 6
    assert not [text for text in console if "Content Security Policy" in text or "Refused to" in text]
