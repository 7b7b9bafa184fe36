"""Guests per team: include them or leave them out, saved with the settings and shown on each guest's row."""
import re

from tests.sync_page.conftest import page_url
from tests.sync_page.test_sync_users import TRAINING, connected, users_list  # noqa: F401  (the fixture)
from webapp.models import SecurityEvent, SyncSettings

HTMX = {"HX-Request": "true"}


def guest_rows(html):
    """{name: (status, account)} of the rows shown."""
    return dict((name, (state, account)) for name, state, account in re.findall(
        r"<td>([^<]+)</td>\s*<td>[^<]*</td>\s*<td class=\"status\">([^<]+)</td>\s*<td class=\"account\">([^<]*)</td>",
        html))


def test_each_guest_says_which_choice_applied(connected, signed_in, team):
    included = guest_rows(users_list(signed_in, team, user_q="jane"))
    assert included["Jane Doe"] == ("will be added", "Guest: included")
    html = users_list(signed_in, team, user_q="jane", guests="exclude")
    assert guest_rows(html)["Jane Doe"] == ("guest: this team leaves guests out", "Guest: left out")
    assert 'aria-label="Select Jane Doe"' not in html
    assert guest_rows(users_list(signed_in, team, user_q="quentin", guests="exclude"))["Quentin Blake"] == (
        "will be added", "")


def test_the_guest_choice_is_saved_and_shown(connected, signed_in, team):
    response = signed_in.post(page_url(team), headers=HTMX,
                              data={"group_id": TRAINING, "group_name": "Training", "guests": "exclude"})
    assert response.status_code == 200
    assert SyncSettings.get(SyncSettings.team == team).include_guests is False
    page = signed_in.get(page_url(team)).get_data(as_text=True)
    assert re.search(r'name="guests" value="exclude" checked', page)
    assert "Guests left out" in SecurityEvent.get(SecurityEvent.action == "sync_settings_changed").detail
    signed_in.post(page_url(team), headers=HTMX, data={"group_id": TRAINING, "group_name": "Training",
                                                       "guests": "include"})
    assert SyncSettings.get(SyncSettings.team == team).include_guests is True
