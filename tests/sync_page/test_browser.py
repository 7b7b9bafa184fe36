"""The Azure Entra Sync page in Chromium: both ways to connect, the Sync Group type-ahead, Sync Users, Save."""
import json

import pytest
from playwright.sync_api import expect

from fake_entra import demo
from tests.browser_fixtures import assert_accessible
from tests.conftest import PASSWORD
from webapp import connections
from webapp.models import SyncRun, SyncSettings, Team, User

SLOW = 20_000  # ms: the machine running the tests is shared, and these steps go through fake_entra


def settled(page):
    """Wait until htmx has finished swapping in the last answer, as a person would before typing again
    (keystrokes during a swap land on the element being replaced)."""
    # a locator, not wait_for_function: the page's Content-Security-Policy forbids the eval that one needs
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0, timeout=SLOW)


@pytest.fixture
def sync_page(page, live_server, entra, leader, team):
    """Signed in as the leader, on Team Leader → Manage Team → Azure Entra Sync."""
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Team Leader", exact=True).click()
    page.get_by_role("link", name="Manage Team").click()
    page.get_by_role("link", name="Azure Entra Sync").click()
    expect(page.get_by_role("heading", name="Microsoft 365 tenant")).to_be_visible(timeout=SLOW)
    settled(page)
    assert_accessible(page, "Azure Entra Sync, not connected")
    return page


def test_connect_oauth_choose_group_select_two_users_and_save(sync_page, screenshot, team, database_url):
    page = sync_page
    User.create(email=f"quentin.blake@{demo.TENANT_DOMAIN}", name="Quentin Blake", team=team)
    User.create(email=f"rita.moreno@{demo.TENANT_DOMAIN}", name="Rita Moreno", team=Team.create(name="Sales team"))
    page.get_by_role("button", name="Connect Microsoft OAuth").click()
    page.get_by_label("Email or username").fill(demo.ADMIN_EMAIL)
    page.get_by_label("Password").fill(demo.USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Consent on behalf of your organization").check()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text(f"Connected to {demo.TENANT_DOMAIN}")).to_be_visible(timeout=SLOW)
    expect(page.locator(".big-check")).to_have_text("✓")
    settled(page)
    assert_accessible(page, "Azure Entra Sync, connected")

    page.get_by_role("combobox").press_sequentially("trai", delay=40)
    option = page.get_by_role("option", name="Training")
    expect(page.get_by_role("option")).to_have_count(1, timeout=SLOW)
    if database_url.startswith("sqlite"):
        screenshot("sync-connected-group-search")
    assert_accessible(page, "Sync Group options")
    option.click()
    expect(page.get_by_text("All Users")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Show users and their sync status").click()
    expect(page.locator("main").get_by_text("22 in the group")).to_be_visible(timeout=SLOW)
    settled(page)

    search = page.get_by_role("searchbox", name="Search users")
    search.fill("megan")
    expect(page.locator("table.sync-users tbody tr")).to_have_count(1, timeout=SLOW)
    page.get_by_label("Select Megan Bowen").check()
    expect(page.get_by_text("1 user selected")).to_be_visible(timeout=SLOW)
    settled(page)
    page.get_by_role("searchbox", name="Search users").fill("partner")
    expect(page.locator("table.sync-users tbody tr")).to_have_count(2, timeout=SLOW)
    page.get_by_label("Select Jane Doe").check()
    expect(page.get_by_text("2 users selected")).to_be_visible(timeout=SLOW)
    settled(page)
    page.get_by_role("searchbox", name="Search users").fill("")
    expect(page.locator("table.sync-users tbody tr")).to_have_count(22, timeout=SLOW)
    expect(page.get_by_label("Select Megan Bowen")).to_be_checked()
    expect(page.get_by_label("Select Jane Doe")).to_be_checked()
    expect(page.get_by_label("Select Kofi Mensah")).not_to_be_checked()
    settled(page)
    assert_accessible(page, "Sync Users open, two selected")
    expect(page.locator("tr", has_text="Rita Moreno")).to_contain_text("in another team", timeout=SLOW)
    expect(page.locator("tr", has_text="Quentin Blake").locator(".red-x")).to_be_visible(timeout=SLOW)
    page.get_by_label("Synchronize users with this group daily").check()
    if database_url.startswith("sqlite"):
        screenshot("sync-users-selected")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main").get_by_text("Saved.")).to_be_visible(timeout=SLOW)
    assert_accessible(page, "settings saved")

    saved = SyncSettings.get(SyncSettings.team == team)
    assert (saved.group_name, saved.auto_sync, saved.allow_deletion) == ("Training", True, False)
    assert set(json.loads(saved.selected_user_ids)) == {demo.user_id("Megan Bowen"), demo.user_id("Jane Doe")}


def test_enterprise_app_with_a_wrong_secret_then_the_right_one(sync_page, screenshot, team, database_url):
    page = sync_page
    expect(page.get_by_label("Tenant ID")).to_be_hidden()
    page.get_by_label("Create Your Own Enterprise App").check()
    page.get_by_label("Tenant ID").fill(demo.TENANT_ID)
    page.get_by_label("Client ID").fill(demo.ENTERPRISE_APP_CLIENT_ID)
    page.get_by_label("Client Secret").fill("not~the.right-secret")
    page.get_by_role("button", name="Load Groups").click()
    expect(page.locator("#ea-client_secret-error")).to_have_text(
        "The client secret is wrong. Paste the secret's Value, not its Secret ID.", timeout=SLOW)
    if database_url.startswith("sqlite"):
        screenshot("sync-enterprise-app-wrong-secret")
    assert_accessible(page, "Enterprise App with a wrong secret")
    assert connections.connection_of(team.id) is None

    page.get_by_label("Client Secret").fill(demo.ENTERPRISE_APP_SECRET)
    page.get_by_role("button", name="Load Groups").click()
    expect(page.get_by_text("with your Enterprise App")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("saved", exact=True)).to_be_visible(timeout=SLOW)
    page.get_by_role("option", name="Sales Leadership").click()
    page.get_by_label("Allow Deletion").check()
    page.get_by_role("button", name="Show users and their sync status").click()
    expect(page.locator("main").get_by_text("3 in the group")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text("not in the group: will be removed").first).to_be_visible(timeout=SLOW)
    if database_url.startswith("sqlite"):
        screenshot("sync-enterprise-app-allow-deletion")
    settled(page)
    assert_accessible(page, "Sync Users with removals")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main").get_by_text("Saved.")).to_be_visible(timeout=SLOW)
    saved = SyncSettings.get(SyncSettings.team == team)
    assert (saved.group_name, saved.allow_deletion, saved.selected_user_ids) == ("Sales Leadership", True, None)
    assert connections.connection_of(team.id).method == "enterprise_app"

    loads = []
    page.on("load", lambda _: loads.append(page.url))
    page.get_by_role("button", name="Sync", exact=True).click()
    expect(page.get_by_text("Sync started: its progress is shown below.")).to_be_visible(timeout=SLOW)
    expect(page.locator("#sync-runs")).to_contain_text("Sync queued")
    expect(page.locator("#announcer")).to_have_text("Sync queued")
    assert loads == []  # the settings and the runs panel were swapped in: no page load
    assert_accessible(page, "sync started")
    assert SyncRun.get(SyncRun.team == team).status == "queued"


def test_refused_consent_ends_on_the_page_in_red(sync_page, screenshot, team, database_url):
    page = sync_page
    page.get_by_role("button", name="Connect Microsoft OAuth").click()
    page.get_by_label("Email or username").fill(demo.ADMIN_EMAIL)
    page.get_by_label("Password").fill(demo.USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("Consent was refused", timeout=SLOW)
    expect(page.get_by_role("button", name="Connect Microsoft OAuth")).to_be_visible(timeout=SLOW)
    if database_url.startswith("sqlite"):
        screenshot("sync-oauth-consent-refused")
    assert_accessible(page, "consent refused")
    assert connections.connection_of(team.id) is None
