"""In the browser, a refused htmx request shows its message on the page instead of doing nothing."""
from playwright.sync_api import expect

from tests.browser.test_members_browser import sign_in
from tests.browser_fixtures import assert_accessible
from webapp import membership
from webapp.models import User


def test_next_on_a_list_that_shrank_says_there_is_no_such_page(app, page, live_server, team, leader):
    sign_in(page, live_server, leader.email)
    page.goto(f"{live_server}/teams/{team.id}/members/?page=2")
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    assert_accessible(page, "a second page of members")
    User.delete().where((User.team == team) & (User.id != leader.id)).execute()
    membership.changed(app.extensions["redis"], team.id)
    page.get_by_role("link", name="Next ›").click()
    expect(page.get_by_role("alert")).to_have_text("There is no page 3: this list has 1 page.")
    assert_accessible(page, "a refused request's message")
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
