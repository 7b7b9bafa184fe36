from playwright.sync_api import expect

from tests.browser_fixtures import assert_accessible
from tests.conftest import PASSWORD
from webapp.models import User


def sign_in(page, live_server, email):
    page.goto(live_server + "/login")
    assert_accessible(page, "sign-in page")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_leader_signs_in_searches_and_edits_a_member(page, live_server, team, leader, screenshot, database_url):
    User.update(synced_by_team=team).where(User.name == "Member 00004").execute()  # the team's sync made it
    sign_in(page, live_server, leader.email)
    page.get_by_text("Team Leader", exact=True).click()
    page.get_by_role("link", name="Manage Team").click()
    expect(page.get_by_role("heading", name=team.name)).to_be_visible()
    expect(page.get_by_text("26 members")).to_be_visible()
    assert_accessible(page, "Members")

    page.get_by_role("searchbox", name="Search members").fill("Member 0000")
    expect(page.locator("main").get_by_text("10 members matching")).to_be_visible()
    row = page.locator("tr", has_text="Member 00004")
    row.get_by_role("button", name="Edit").click()
    editing = page.locator("tr.editing")
    editing.get_by_label("Email").fill("not an email")
    editing.get_by_role("button", name="Save").click()
    expect(page.get_by_text("This is not a valid email address.")).to_be_visible()
    assert_accessible(page, "a member's row with an error")

    editing = page.locator("tr.editing")
    editing.get_by_label("Name").fill("Grace Hopper")
    editing.get_by_label("Email").fill("grace@navy.example")
    editing.get_by_label("Job title").fill("Rear Admiral")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator("tr", has_text="Grace Hopper")).to_contain_text("grace@navy.example")
    assert_accessible(page, "a member saved")
    if database_url.startswith("sqlite"):
        screenshot("members")

    saved = User.get(User.email == "grace@navy.example")
    assert (saved.name, saved.job_title, saved.team_id) == ("Grace Hopper", "Rear Admiral", team.id)
