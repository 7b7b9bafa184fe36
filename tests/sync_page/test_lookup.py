"""Look someone up: a search over the whole tenant and, for the person picked, every step that decides their fate."""
import html
import json
import re

import pytest

from fake_entra import demo
from tests.sync_page.conftest import page_url
from webapp import connections
from webapp.models import SyncSettings, Team, User

HTMX = {"HX-Request": "true"}
DOMAIN = demo.TENANT_DOMAIN


@pytest.fixture
def connected(entra, app, team):
    """The team connected with the enterprise app, Sync Group Training saved."""
    connections.save_enterprise_app(team.id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                    demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"],
                                    tenant_name="Contoso Learning")
    SyncSettings.create(team=team, group_id=demo.group_id("Training"), group_name="Training")
    return entra


def answer_of(client, team, name):
    """The answer fragment for a demo user, as text with its steps {title: (mark, words)}."""
    response = client.get(page_url(team, "lookup/answer"), headers=HTMX,
                          query_string={"person": demo.user_id(name)})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    steps = {}
    for mark, title, words in re.findall(
            r'<span class="mark" aria-hidden="true">(.)</span>\s*<strong>([^<]+)</strong>(?:[^:]*):\s*([^<]+)', page):
        steps[title] = (mark, html.unescape(" ".join(words.split())))
    next_run = html.unescape(re.search(r"<strong>Next sync:</strong>\s*([^<]+)</p>", page).group(1).strip())
    return steps, next_run, page


def test_the_search_covers_the_whole_tenant_not_only_the_sync_group(connected, signed_in, team):
    response = signed_in.get(page_url(team, "lookup"), headers=HTMX, query_string={"person_q": "alex"})
    page = response.get_data(as_text=True)
    assert "Alex Wilber" in page and f"alex.wilber@{DOMAIN}" in page  # in Sales, not in Training
    by_mail = signed_in.get(page_url(team, "lookup"), headers=HTMX, query_string={"person_q": "jane.doe@partner"})
    assert "Jane Doe" in by_mail.get_data(as_text=True)
    nobody = signed_in.get(page_url(team, "lookup"), headers=HTMX, query_string={"person_q": "zzzz"})
    assert "Nobody in your tenant" in nobody.get_data(as_text=True)


def test_a_user_outside_the_group(connected, signed_in, team):
    steps, next_run, _ = answer_of(signed_in, team, "Alex Wilber")
    assert steps["Found in the tenant"] == ("✓", "Found in Contoso Learning.")
    assert steps["Account enabled"][0] == "✓"
    assert steps["Member of the Sync Group"] == ("✗", "Not in Training, nor in any group nested in it.")
    assert next_run == "Nothing: people outside the Sync Group are not added."


def test_a_user_in_a_nested_group_says_which(connected, signed_in, team):
    steps, next_run, page = answer_of(signed_in, team, "Lena Vogel")  # a guest in New Starters, nested in Training
    assert steps["Member of the Sync Group"] == ("✓", "In Training through the nested group New Starters.")
    assert next_run == "Will be added to this team, with a new account."
    assert "Sync this person now" in page
    direct, _, _ = answer_of(signed_in, team, "Rita Moreno")
    assert direct["Member of the Sync Group"] == ("✓", "In Training directly.")


def test_a_disabled_user(connected, signed_in, team):
    steps, next_run, page = answer_of(signed_in, team, "Diego Siciliani")
    assert steps["Account enabled"][0] == "✗"
    assert "An Entra administrator enables the account." in page
    assert next_run == "Will not be added: disabled in Entra."
    assert "Sync this person now" not in page


def test_a_guest_under_each_guest_choice(connected, signed_in, team):
    steps, next_run, _ = answer_of(signed_in, team, "Jane Doe")
    assert steps["Guest account"] == ("✓", "A guest (#EXT#) account: this team includes guests.")
    assert next_run == "Will be added to this team, with a new account."
    SyncSettings.update(include_guests=False).where(SyncSettings.team == team).execute()
    steps, next_run, page = answer_of(signed_in, team, "Jane Doe")
    assert steps["Guest account"] == ("✗", "A guest (#EXT#) account: this team leaves guests out.")
    assert "Choose Include guests in the sync settings and Save." in page
    assert next_run == "Will not be added: guest account: this team leaves guests out."


def test_a_user_whose_email_another_account_uses(connected, signed_in, team):
    User.create(email=f"rita.moreno@{DOMAIN}", name="Rita (other tenant)", entra_tenant_id=demo.FABRIKAM_TENANT_ID,
                entra_object_id=demo.user_id("Oscar Lind", demo.FABRIKAM_TENANT_ID))
    User.create(email=f"samuel.okoro@{DOMAIN}", name="Samuel", entra_tenant_id=demo.TENANT_ID,
                entra_object_id=demo.user_id("Megan Bowen"))
    owned, next_owned, _ = answer_of(signed_in, team, "Rita Moreno")
    assert owned["Email address"][0] == "✗" and "may not take over" in owned["Email address"][1]
    assert next_owned == "Will not be added: email belongs to an existing account."
    taken, next_taken, _ = answer_of(signed_in, team, "Samuel Okoro")
    assert taken["Email address"] == ("✗", f"samuel.okoro@{DOMAIN} is already used by another Entra account on "
                                           "the platform.")
    assert next_taken == "Will not be added: email used by another Entra account."


def test_a_user_in_another_team(connected, signed_in, team):
    other = Team.create(name="Night School")
    User.create(email=f"tessa.lund@{DOMAIN}", name="Tessa Lund", team=other, entra_tenant_id=demo.TENANT_ID,
                entra_object_id=demo.user_id("Tessa Lund"))
    steps, next_run, page = answer_of(signed_in, team, "Tessa Lund")
    assert steps["Other teams"] == ("✗", "In the team Night School: a user belongs to one team only.")
    assert "A leader of Night School removes them from that team" in page
    assert next_run == "Will not be added: in another team."


def test_a_user_not_selected(connected, signed_in, team):
    SyncSettings.update(selected_user_ids=json.dumps([demo.user_id("Rita Moreno")])).where(
        SyncSettings.team == team).execute()
    steps, next_run, _ = answer_of(signed_in, team, "Ursula Kemp")
    assert steps["Selected in Sync Users"] == ("✗", "Not selected: only the 1 user selected in Sync Users are added.")
    assert next_run == "Will not be added: they are not selected in Sync Users."
    chosen, next_chosen, _ = answer_of(signed_in, team, "Rita Moreno")
    assert chosen["Selected in Sync Users"][0] == "✓" and next_chosen.startswith("Will be added")


def test_a_look_up_costs_a_few_graph_requests_and_never_reads_the_group(connected, signed_in, team):
    signed_in.get(page_url(team, "lookup"), headers=HTMX, query_string={"person_q": "lena"})  # token taken here
    connected.control.reset_counts()
    signed_in.get(page_url(team, "lookup"), headers=HTMX, query_string={"person_q": "lena"})
    _, _, page = answer_of(signed_in, team, "Lena Vogel")
    counts = connected.control.counts()
    graph = {endpoint: count for endpoint, count in counts.items() if "/token" not in endpoint}
    assert sum(graph.values()) == 4, graph  # search, the user, the user's groups, the Sync Group's nested groups
    assert not any("transitiveMembers/microsoft.graph.user" in endpoint or endpoint.endswith("/members")
                   for endpoint in graph), graph
    assert "Asked Microsoft 3 questions about this person." in page
    _, _, direct = answer_of(signed_in, team, "Rita Moreno")  # in Training itself: its nested groups are not asked
    assert "Asked Microsoft 2 questions about this person." in direct


def test_bad_person_ids_are_refused(connected, signed_in, team):
    response = signed_in.get(page_url(team, "lookup/answer"), headers=HTMX, query_string={"person": "x' or 1=1"})
    assert response.status_code == 400
    assert "This is not a user of Microsoft Entra" in response.get_data(as_text=True)
