"""A leader of team A sees none of team B: every team route answers 404; on team A's own, each one answers."""
import pytest

from webapp.certificates import make_certificate
from webapp.models import SyncRun, utcnow

PERSON = {"person": "0f6c5e1a-3b2d-4c8e-9a7f-1d2e3c4b5a69"}  # the one route that reads a query needs a person
TEAM_ROUTES = {
    ("/teams/<id:team_id>/entra-sync/", "GET"), ("/teams/<id:team_id>/entra-sync/", "POST"),
    ("/teams/<id:team_id>/entra-sync/certificate", "POST"),
    ("/teams/<id:team_id>/entra-sync/certificate.pem", "GET"),
    ("/teams/<id:team_id>/entra-sync/connect", "POST"), ("/teams/<id:team_id>/entra-sync/disconnect", "POST"),
    ("/teams/<id:team_id>/entra-sync/emails", "POST"), ("/teams/<id:team_id>/entra-sync/enterprise-app", "POST"),
    ("/teams/<id:team_id>/entra-sync/group", "GET"), ("/teams/<id:team_id>/entra-sync/groups", "GET"),
    ("/teams/<id:team_id>/entra-sync/lookup", "GET"), ("/teams/<id:team_id>/entra-sync/lookup/answer", "GET"),
    ("/teams/<id:team_id>/entra-sync/lookup/sync", "POST"),
    ("/teams/<id:team_id>/entra-sync/register-app.ps1", "GET"), ("/teams/<id:team_id>/entra-sync/sync", "POST"),
    ("/teams/<id:team_id>/entra-sync/users", "GET"),
    ("/teams/<id:team_id>/events/", "GET"),
    ("/teams/<id:team_id>/members/", "GET"), ("/teams/<id:team_id>/members/removed", "GET"),
    ("/teams/<id:team_id>/members/<id:user_id>", "GET"), ("/teams/<id:team_id>/members/<id:user_id>", "POST"),
    ("/teams/<id:team_id>/members/<id:user_id>/edit", "GET"),
    ("/teams/<id:team_id>/members/<id:user_id>/remove", "POST"),
    ("/teams/<id:team_id>/members/<id:user_id>/restore", "POST"),
    ("/teams/<id:team_id>/runs/", "GET"), ("/teams/<id:team_id>/runs/panel", "GET"),
    ("/teams/<id:team_id>/runs/<id:run_id>", "GET"), ("/teams/<id:team_id>/runs/<id:run_id>/confirm", "POST"),
    ("/teams/<id:team_id>/runs/<id:run_id>/outcomes.csv", "GET"),
}


def team_routes(app):
    """(rule, method, endpoint) of every route that names a team, GETs first."""
    return sorted(((rule.rule, method, rule.endpoint) for rule in app.url_map.iter_rules()
                   if "team_id" in rule.arguments for method in rule.methods - {"HEAD", "OPTIONS"}),
                  key=lambda route: (route[1] != "GET", route[0]))


def addresses(app, team):
    """Each route's address for `team`, about its first member and its run, by (endpoint, method)."""
    values = {"team_id": team.id, "user_id": team.members.first().id,
              "run_id": SyncRun.select().where(SyncRun.team == team).first().id}
    return {(endpoint, method): url(app, endpoint, method, values) for _, method, endpoint in team_routes(app)}


def url(app, endpoint, method, values):
    rule = next(rule for rule in app.url_map.iter_rules(endpoint) if method in rule.methods)
    return app.url_map.bind("localhost").build(endpoint, {name: values[name] for name in rule.arguments},
                                               method=method)


def test_every_team_route_is_covered(app):
    assert {(rule, method) for rule, method, _ in team_routes(app)} == TEAM_ROUTES


@pytest.fixture
def two_teams(make_team, make_leader_of, client, auth, app):
    mine, theirs = make_team("Mine", members=2), make_team("Theirs", members=2)
    me = make_leader_of(mine)
    make_leader_of(theirs)
    for team in (mine, theirs):
        SyncRun.create(team=team, trigger="manual", status="succeeded", finished_at=utcnow(), added=2)
        make_certificate(team.id, app.extensions["secret_box"])
    auth.login(me.email)
    return mine, theirs


def test_leader_of_team_a_gets_404_on_every_team_b_route(app, client, two_teams):
    _, theirs = two_teams
    address = addresses(app, theirs)
    for rule, method, endpoint in team_routes(app):
        response = client.open(address[endpoint, method], method=method, query_string=PERSON,
                               headers={"X-CSRFToken": client.fetch_csrf_token()})
        assert response.status_code == 404, f"{method} {rule} answered {response.status_code}"
    assert theirs.members.count() == 3
    assert SyncRun.select().where(SyncRun.team == theirs).count() == 1


def test_every_team_route_answers_the_leader_of_its_own_team(app, client, two_teams):
    mine, _ = two_teams
    address = addresses(app, mine)
    for rule, method, endpoint in team_routes(app):
        response = client.open(address[endpoint, method], method=method, query_string=PERSON,
                               headers={"X-CSRFToken": client.fetch_csrf_token(), "HX-Request": "true"})
        if method == "GET":
            assert response.status_code == 200, f"{method} {rule} answered {response.status_code}"
        else:
            assert response.status_code not in (401, 403, 404), f"{method} {rule} answered {response.status_code}"
