"""In Chromium: the certificate the page makes, the credential's expiry warning after Load Groups, the email choice."""
import datetime as dt

from playwright.sync_api import expect

from fake_entra import demo
from tests.browser_fixtures import assert_accessible
from tests.sync_page.test_browser import SLOW, settled, sync_page  # noqa: F401  (the fixture)
from webapp import connections
from webapp.models import SyncSettings


def test_make_a_certificate_then_connect_with_a_secret_that_expires_soon(sync_page, screenshot, team,  # noqa: F811
                                                                         database_url):
    page = sync_page
    page.get_by_label("Create Your Own Enterprise App").check()
    page.get_by_role("button", name="Make a certificate").click()
    expect(page.get_by_role("link", name="Download certificate")).to_be_visible(timeout=SLOW)
    expect(page.get_by_text(f"--certificate entra-team-sync-team-{team.id}.pem")).to_be_visible()
    expect(page.get_by_label("Certificate made by this page (recommended)")).to_be_checked()
    assert_accessible(page, "a certificate made")

    expires = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    page.get_by_label("Tenant ID").fill(demo.TENANT_ID)
    page.get_by_label("Client ID").fill(demo.ENTERPRISE_APP_CLIENT_ID)
    page.get_by_label("A secret from the app's Certificates & secrets").check()
    page.get_by_label("Client Secret", exact=True).fill(demo.ENTERPRISE_APP_SECRET)
    page.get_by_label("Secret expires on").fill(expires)
    page.get_by_role("button", name="Load Groups").click()
    warning = page.locator(".credential-expiry")
    expect(warning).to_contain_text(f"The client secret expires in 10 days ({expires})", timeout=SLOW)
    expect(warning).to_contain_text("run python -m entra_setup again with the same --name")
    if database_url.startswith("sqlite"):
        screenshot("sync-credential-expiry-warning")
    settled(page)
    assert_accessible(page, "the credential's expiry warning")
    connection = connections.connection_of(team.id)
    assert connection.certificate_id is None and f"{connection.credential_expires_at:%Y-%m-%d}" == expires

    page.get_by_label("Email this team's leaders").uncheck()
    expect(page.locator("main").get_by_text("Email choice kept.")).to_be_visible(timeout=SLOW)
    expect(page.get_by_label("Email this team's leaders")).not_to_be_checked()
    assert_accessible(page, "the email choice kept")
    assert SyncSettings.get(SyncSettings.team == team).leader_emails is False
