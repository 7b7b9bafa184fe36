"""Every route, fed generated path parts, query strings and form fields by a signed-in leader, never answers 5xx.

The parameter names come from the code and the templates themselves (what the views read, what the forms send),
and while the walk runs, the names a route was seen reading are drawn more often for it, so each route is fed
mostly what it reads and a new field is covered without touching this test. Values mix the ids of this team and
of another team, huge and negative numbers, control characters, long text and unicode. Routes that call
Microsoft reach the fake_entra server. Derandomized with a fixed number of examples per route, so CI runs the
same requests every time, in well under a minute per database.
"""
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import ImmutableMultiDict

from fake_entra import demo
from tests.conftest import PASSWORD
from webapp import connections
from webapp.certificates import make_certificate
from webapp.members.forms import FIELDS as MEMBER_FIELDS
from webapp.models import SyncOutcome, SyncRun, User, utcnow

ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS_ENDPOINTS = {"auth.login", "auth.logout"}  # sent signed out: signed in, they only redirect or end the walk
EXAMPLES_PER_ROUTE = 30
PATH_PART = re.compile(r"<(?:\w+:)?(\w+)>")
NASTY = ["", "\x00", "a\x00b", "\r\n", "x\nSet-Cookie: a=b", "\x1b[31m", "\x7f", "\x85", "%00", "0", "-1", "1",
         "1.5", str(2**31), str(2**63 - 1), str(2**63), "9" * 40, "x" * 257, "y" * 2000, "'", '"', "\\", "%", "_",
         "*", "<script>alert(1)</script>", "../../users", "//evil.example", "https://evil.example/", "é✓😀 ﷽",
         "\u202eevil", "Ａ", "common", "00000000-0000-0000-0000-000000000000", "on", "reconnect", "switch"]
READ: set[str] = set()


def parameter_names() -> list[str]:
    """Every query or form name the views read and the templates send."""
    code = "\n".join(path.read_text() for path in (ROOT / "webapp").rglob("*.py"))
    templates = "\n".join(path.read_text() for path in (ROOT / "templates").rglob("*.html"))
    names = set(re.findall(r'(?:args|form|values)\.(?:get|getlist)\("(\w+)"', code))
    names |= set(re.findall(r'(?:page_arg|search_arg)\("(\w+)"\)', code)) | {"page", "q"}
    names |= set(re.findall(r'\bname="(\w+)"', templates)) | set(MEMBER_FIELDS)
    return sorted(names - {"csrf_token"})


NAMES = parameter_names()
WELL_FORMED = [demo.group_id("Training"), demo.user_id("Megan Bowen"), demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID]


class RecordingParameters(ImmutableMultiDict):
    """Query and form values that note which names a view asked for."""

    def get(self, key, default=None, type=None):  # noqa: A002  (Werkzeug's signature)
        READ.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        READ.add(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        READ.add(key)
        return super().__getitem__(key)


def connect(app, team_id: int) -> None:
    if connections.connection_of(team_id) is None:
        connections.save_enterprise_app(team_id, demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                        demo.ENTERPRISE_APP_SECRET, app.extensions["secret_box"])


@pytest.fixture
def world(app, entra, make_team, make_leader_of, team, leader, client):
    """This team (connected, with a run to review and a certificate) and another team with its own members, run,
    connection and certificate."""
    other = make_team("Other Academy", members=5)
    make_leader_of(other)
    ids = {"team": team.id, "other_team": other.id, "leader": leader.id}
    for name, owner in (("run", team), ("other_run", other)):
        run = SyncRun.create(team=owner, trigger="manual", status="needs_review", finished_at=utcnow())
        SyncOutcome.create(run=run, action="would_remove", name="Member 00001", email="m@example.com")
        ids[name] = run.id
    ids["member"] = User.select().where(User.team == team).first().id
    ids["other_member"] = User.select().where(User.team == other).first().id
    for owner in (team, other):
        connect(app, owner.id)
        make_certificate(owner.id, app.extensions["secret_box"])
    client.post("/login", data={"email": leader.email, "password": PASSWORD})
    app.config["METRICS_TOKEN"] = METRICS_TOKEN
    app.request_class = type("RecordingRequest", (app.request_class,), {"parameter_storage_class": RecordingParameters})
    return {"ids": ids, "leader": client, "anonymous": app.test_client(), "app": app}


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route but static files."""
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  if rule.endpoint != "static" for method in rule.methods - {"HEAD", "OPTIONS"})


def path_values(rule: str, world_ids: dict):
    """Values for the rule's path parts: half the time the leader's own team, member or run, else anything."""
    own = {"team_id": world_ids["team"], "user_id": world_ids["member"], "run_id": world_ids["run"]}
    anything = st.one_of(st.sampled_from(sorted(set(world_ids.values()))), st.integers(-2**70, 2**70)).map(str)
    return st.tuples(*(st.one_of(st.just(str(own[name])), anything, st.sampled_from(NASTY))
                       for name in PATH_PART.findall(rule)))


def values(world_ids: dict):
    ids = [str(value) for value in sorted(set(world_ids.values()))]
    guids = WELL_FORMED
    # Entra ids and printable text get branches of their own: a request with any control character is refused
    # whole, and several routes act only on a real user's or group's id.
    printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
    return st.one_of(st.sampled_from(NASTY), st.sampled_from(ids), st.sampled_from(guids), st.text(max_size=30),
                     printable, st.integers(-2**70, 2**70).map(str))


def fields(read: set[str], value):
    """Up to five names, mostly among those the route was seen reading, each with one to three values; now and then
    only names the route reads, each with one well-formed id, so that every view also gets input it acts on."""
    known = sorted(read) or NAMES
    names = st.one_of(st.sampled_from(known), st.sampled_from(known), st.sampled_from(NAMES))
    anything = st.dictionaries(names, st.lists(value, min_size=1, max_size=3), max_size=5)
    well_formed = st.dictionaries(st.sampled_from(known),
                                  st.lists(st.sampled_from(WELL_FORMED), min_size=1, max_size=1), max_size=3)
    return st.one_of(anything, anything, well_formed)


METRICS_TOKEN = "token-of-the-property-walk"
HTMX = st.sampled_from([{}, {"HX-Request": "true"}, {"HX-Request": "true", "HX-Target": "member-list"},
                        {"HX-Request": "true", "HX-Target": "outcome-list"},
                        {"Authorization": f"Bearer {METRICS_TOKEN}"}])  # what /metrics acts on


def url_of(rule: str, values: tuple[str, ...]) -> str:
    parts = iter(values)
    return PATH_PART.sub(lambda _: quote(next(parts), safe=""), rule)


def test_no_route_answers_5xx_to_generated_input(world):
    app, ids = world["app"], world["ids"]
    all_routes = routes(app)
    assert len(all_routes) >= 25, all_routes
    statuses, reads = {}, {}

    for endpoint, method, rule in all_routes:
        client = world["anonymous"] if endpoint in ANONYMOUS_ENDPOINTS else world["leader"]
        read = reads.setdefault(endpoint, set())

        @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
        @given(path=path_values(rule, ids), data=st.data(), htmx=HTMX)
        def walk(path, data, htmx):
            connect(app, ids["team"])
            query = data.draw(fields(read, values(ids)), label="query")
            form = data.draw(fields(read, values(ids)), label="form") if method == "POST" else {}
            READ.clear()
            url = url_of(rule, path)
            if method == "GET":
                response = client.get(url, query_string=query, headers=htmx)
            else:
                response = client.post(url, query_string=query, data=form, headers=htmx)
            read.update(READ - {"csrf_token"})
            statuses.setdefault(endpoint, set()).add(response.status_code)
            assert response.status_code < 500, (method, url, response.get_data(as_text=True)[:300])

        walk()
    assert set(statuses) == {endpoint for endpoint, _, _ in all_routes}, "every route was tried"
    refused_only = [endpoint for endpoint, seen in statuses.items() if all(s >= 400 and s != 422 for s in seen)]
    assert not refused_only, "each route also got input its view acted on"
