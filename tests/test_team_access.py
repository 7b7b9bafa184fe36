"""A leader of team A sees none of team B: every team route answers 404."""
import pytest


def team_routes(app):
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules() if "team_id" in rule.arguments
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def fill(rule, team_id, user_id):
    return (rule.replace("<int:team_id>", str(team_id)).replace("<int:user_id>", str(user_id))
            .replace("<int:run_id>", "1"))


def test_every_team_route_is_covered(app):
    assert len(team_routes(app)) >= 7


@pytest.fixture
def two_teams(make_team, make_leader_of, client, auth):
    mine, theirs = make_team("Mine", members=2), make_team("Theirs", members=2)
    me = make_leader_of(mine)
    make_leader_of(theirs)
    auth.login(me.email)
    return mine, theirs


def test_leader_of_team_a_gets_404_on_every_team_b_route(app, client, two_teams):
    mine, theirs = two_teams
    their_member = theirs.members.first()
    for rule, method in team_routes(app):
        response = client.open(fill(rule, theirs.id, their_member.id), method=method,
                               headers={"X-CSRFToken": client.fetch_csrf_token()})
        assert response.status_code == 404, f"{method} {rule} answered {response.status_code}"
    assert theirs.members.count() == 3


def test_the_same_routes_work_for_the_own_team(app, client, two_teams):
    mine, _ = two_teams
    page = client.get(f"/teams/{mine.id}/members/")
    assert page.status_code == 200
