"""In Chromium: the Sync Group list on a hanging Graph says Microsoft is slow within the page's timeout, and
Try again loads the groups once Microsoft answers."""
from playwright.sync_api import expect

from fake_entra import demo
from tests.browser_fixtures import assert_accessible
from tests.conftest import PASSWORD
from webapp import connections

WEB_TIMEOUT = 2.0


def test_the_group_list_says_microsoft_is_slow_and_try_again_loads_it(app, page, live_server, entra, leader, team):
    app.config["MICROSOFT_WEB_TIMEOUT_SECONDS"] = WEB_TIMEOUT
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"],
                                    tenant_name="Contoso Learning")
    entra.control.inject(delay=30.0, count=None, path="/groups")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(leader.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/teams/{team.id}/entra-sync/")
    expect(page.get_by_role("alert")).to_contain_text("Microsoft is slow to answer right now",
                                                      timeout=(WEB_TIMEOUT + 3) * 1000)
    assert_accessible(page, "Microsoft is slow")
    entra.control.clear_faults()
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("option", name="Training")).to_be_visible(timeout=10_000)
    assert_accessible(page, "the groups after Try again")
