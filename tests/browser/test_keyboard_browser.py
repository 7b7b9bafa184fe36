"""The whole guide by keyboard alone, and the pages at 320 CSS pixels, in Chromium: key presses only (a confirm
dialog is answered as a person would, with its OK), focus always visible and never lost when htmx swaps a fragment,
the page's answers announced."""
import pytest
from playwright.sync_api import expect

from fake_entra import demo
from tests.browser_fixtures import assert_accessible
from tests.conftest import PASSWORD
from tests.sync_page.conftest import entra  # noqa: F401 (the app pointed at fake_entra)
from tests.worker.conftest import connect, kill_group, redis_connection, start_worker, worker_env  # noqa: F401
from webapp.models import SyncOutcome, SyncRun, SyncSettings, User, utcnow

SLOW = 20_000  # ms: these steps go through fake_entra and a worker process on a shared machine
TABS = 150  # more Tab presses than any page needs to reach a control


def focus_is_visible(page, target):
    """`target` has the focus, and the focus ring shows, once htmx has swapped in its answer."""
    settled(page)
    expect(target).to_be_focused(timeout=SLOW)
    ring = target.evaluate("e => [e.matches(':focus-visible'), getComputedStyle(e).outlineStyle, e.outerHTML]")
    assert ring[0] and ring[1] != "none", f"no visible focus: {ring}"


def tab_to(page, target, back=False):
    """Press Tab (or Shift+Tab) until `target` has the focus, as a keyboard user moves through the page."""
    expect(target).to_be_visible(timeout=SLOW)
    for _ in range(TABS):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if target.evaluate("e => e === document.activeElement"):
            focus_is_visible(page, target)
            return
    pytest.fail(f"{TABS} presses of Tab never reached {target}")


def settled(page):
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0, timeout=SLOW)


def announced(page, text):
    expect(page.locator("#announcer")).to_have_text(text, timeout=SLOW)


def test_the_whole_guide_by_keyboard_alone(app, page, live_server, entra, leader, team,  # noqa: F811
                                           worker_env):  # noqa: F811
    User.insert_many([{"email": f"former{n}@example.com", "name": f"Former {n}", "team": team.id}
                      for n in range(5)]).execute()
    page.on("dialog", lambda dialog: dialog.accept())
    keys = page.keyboard

    # Sign in: the Email field has the focus when the page opens.
    page.goto(live_server + "/login")
    expect(page).to_have_title("Sign in · Entra Team Sync")
    focus_is_visible(page, page.get_by_label("Email"))
    keys.type(leader.email)
    keys.press("Tab")
    keys.type(PASSWORD)
    keys.press("Enter")
    expect(page).to_have_title(f"Members · {team.name}")

    # Team Leader → Manage Team → Azure Entra Sync.
    tab_to(page, page.get_by_text("Team Leader", exact=True))
    keys.press("Enter")
    tab_to(page, page.get_by_role("link", name="Manage Team"))
    keys.press("Enter")
    tab_to(page, page.get_by_role("link", name="Azure Entra Sync"))
    keys.press("Enter")
    expect(page).to_have_title(f"Azure Entra Sync · {team.name}")

    # Connect with an Enterprise App: a wrong secret first, whose error is tied to its field and gets the focus.
    tab_to(page, page.get_by_label("Create Your Own Enterprise App"))
    keys.press("Space")
    tab_to(page, page.get_by_label("Tenant ID"))
    keys.type(demo.TENANT_ID)
    keys.press("Tab")
    keys.type(demo.ENTERPRISE_APP_CLIENT_ID)
    expect(page.get_by_label("A secret from the app's Certificates & secrets")).to_be_checked()
    tab_to(page, page.get_by_label("Client Secret", exact=True))
    keys.type("not~the.right-secret")
    keys.press("Enter")
    secret = page.get_by_label("Client Secret", exact=True)
    focus_is_visible(page, secret)
    expect(secret).to_have_attribute("aria-invalid", "true")
    expect(secret).to_have_accessible_description(
        "The client secret is wrong. Paste the secret's Value, not its Secret ID.")
    assert_accessible(page, "Enterprise App with a wrong secret, by keyboard")
    keys.type(demo.ENTERPRISE_APP_SECRET)
    keys.press("Enter")
    expect(page.get_by_text("with your Enterprise App")).to_be_visible(timeout=SLOW)
    settled(page)

    # The Sync Group type-ahead: arrows move the active option, Escape closes the list, Enter chooses.
    combobox = page.get_by_role("combobox", name="Sync Group")
    tab_to(page, combobox)
    keys.type("trai", delay=40)
    expect(page.get_by_role("option")).to_have_count(1, timeout=SLOW)
    announced(page, "1 group: use the arrow keys to choose one, then Enter.")
    settled(page)
    keys.press("ArrowDown")
    training = page.get_by_role("option", name="Training")
    expect(training).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", training.get_attribute("id"))
    expect(combobox).to_have_attribute("aria-expanded", "true")
    assert_accessible(page, "the Sync Group's active option")
    keys.press("Escape")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("listbox")).to_be_hidden()
    expect(combobox).to_have_value("trai")
    keys.press("ArrowDown")
    expect(training).to_have_attribute("aria-selected", "true")
    keys.press("Enter")
    change = page.get_by_role("button", name="Change")
    focus_is_visible(page, change)

    # Sync Users: open the list, search it (the count is announced), select a user with Space.
    tab_to(page, page.get_by_role("button", name="Show users and their sync status"))
    keys.press("Enter")
    focus_is_visible(page, page.get_by_role("button", name="Hide the list"))
    expect(page.locator("#announcer")).to_contain_text("22 in the group", timeout=SLOW)
    tab_to(page, page.get_by_role("searchbox", name="Search users"))
    keys.type("megan")
    expect(page.locator("#announcer")).to_contain_text("1 in the group matching “megan”", timeout=SLOW)
    settled(page)
    megan = page.get_by_label("Select Megan Bowen")
    tab_to(page, megan)
    keys.press("Space")
    expect(page.get_by_text("1 user selected")).to_be_visible(timeout=SLOW)
    focus_is_visible(page, megan)
    expect(megan).to_be_checked()
    settled(page)
    tab_to(page, page.get_by_label("Allow Deletion"))
    keys.press("Space")
    settled(page)

    # Save: "Saved." is announced and the focus stays on Save.
    save = page.get_by_role("button", name="Save", exact=True)
    tab_to(page, save)
    keys.press("Enter")
    announced(page, "Saved.")
    focus_is_visible(page, save)
    saved = SyncSettings.get(SyncSettings.team == team)
    assert (saved.group_name, saved.allow_deletion, saved.selected_user_ids) == (
        "Training", True, f'["{demo.user_id("Megan Bowen")}"]')

    # Sync, then follow the run in the panel: it waits for review; Confirm removals.
    loads = []
    page.on("load", lambda _: loads.append(page.url))
    tab_to(page, page.get_by_role("button", name="Sync", exact=True))
    keys.press("Enter")
    panel = page.locator("#sync-runs")
    expect(panel).to_contain_text("Sync started: its progress is shown below.", timeout=SLOW)
    announced(page, "Sync queued")
    focus_is_visible(page, page.get_by_role("button", name="Sync", exact=True))
    worker = start_worker(worker_env)
    try:
        expect(panel).to_contain_text("Needs review", timeout=SLOW)
        expect(page.locator("#announcer")).to_contain_text("Needs review", timeout=SLOW)
        assert_accessible(page, "a run waiting for review")
        tab_to(page, panel.get_by_role("button", name="Confirm removals"))
        keys.press("Enter")
        expect(panel).to_contain_text("Removals confirmed", timeout=SLOW)
        focus_is_visible(page, panel.get_by_role("heading", name="Sync runs"))
        expect(panel.locator(".last-run")).to_contain_text("30 removed", timeout=SLOW)
        expect(page.locator("#announcer")).to_contain_text("Succeeded", timeout=SLOW)
    finally:
        kill_group(worker)
    assert loads == []  # every step since Sync swapped fragments: no page load
    assert_accessible(page, "a run's result")

    # The Members page: edit a member (a wrong email first), then remove them.
    tab_to(page, page.get_by_role("link", name="Members", exact=True), back=True)
    keys.press("Enter")
    expect(page).to_have_title(f"Members · {team.name}")
    edit = page.locator("tr", has_text="Megan Bowen").get_by_role("button", name="Edit")
    tab_to(page, edit)
    keys.press("Enter")
    name = page.locator("tr.editing").get_by_label("Name")
    focus_is_visible(page, name)
    keys.press("Tab")
    keys.press("ControlOrMeta+A")
    keys.type("not an email")
    keys.press("Enter")
    email = page.locator("tr.editing").get_by_label("Email")
    focus_is_visible(page, email)
    expect(email).to_have_accessible_description("This is not a valid email address.")
    keys.press("ControlOrMeta+A")
    keys.type(f"megan.b@{demo.TENANT_DOMAIN}")
    keys.press("Enter")
    row = page.locator("tr", has_text="Megan Bowen")
    expect(row).to_contain_text(f"megan.b@{demo.TENANT_DOMAIN}", timeout=SLOW)
    focus_is_visible(page, row.get_by_role("button", name="Edit"))
    keys.press("Tab")
    focus_is_visible(page, row.get_by_role("button", name="Remove"))
    keys.press("Enter")
    restore = page.get_by_role("link", name="Restore it from Recently removed")
    focus_is_visible(page, restore)
    assert_accessible(page, "a member removed, by keyboard")
    assert User.get(User.name == "Megan Bowen").team_id is None


def test_the_pages_reflow_at_320_css_pixels(app, page, live_server, entra, leader, team):  # noqa: F811
    """200 % zoom of a 640-pixel window: no page scrolls sideways, wide tables scroll in their own region."""
    connect(app, team)
    run = SyncRun.create(team=team, trigger="manual", status="succeeded", finished_at=utcnow(), added=1)
    SyncOutcome.create(run=run, action="added", name="Member 00001", email="member1@example.com")
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(f"Members · {team.name}")
    for path, ready in [("members/", "26 members"), ("entra-sync/", "Sync runs"), ("runs/", "1 run"),
                        (f"runs/{run.id}", "Member 00001"), ("members/removed", "Nobody was removed recently."),
                        ("events/", "Security events")]:
        page.goto(f"{live_server}/teams/{team.id}/{path}")
        expect(page.locator("main").get_by_text(ready, exact=True).first).to_be_visible(timeout=SLOW)
        settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, f"{path} scrolls sideways"
        assert_accessible(page, f"{path} at 320 CSS pixels")
