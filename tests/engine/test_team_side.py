"""Loading the platform users a group can match."""
from webapp.engine.team_side import load_others
from webapp.microsoft import EntraUser
from webapp.models import User

TENANT = "tenant-1"


def entra(object_id, email):
    return EntraUser(object_id, email, object_id, None, None, None, None, True, False)


def test_others_are_the_same_whether_few_or_many_users_are_outside_the_team(app, make_team):
    team, other = make_team("Ours"), make_team("Theirs")
    linked = User.create(email="old.address@x.example", entra_tenant_id=TENANT, entra_object_id="o1", team=other)
    by_email = User.create(email="ann@x.example")
    User.create(email="elsewhere@x.example", entra_tenant_id="tenant-2", entra_object_id="o3")
    group = [entra("o1", "new.address@x.example"), entra("o2", "Ann@x.example"), entra("o3", "nobody@x.example")]

    few = {user.id for user in load_others(team.id, TENANT, group, [])}  # all users outside the team are read
    User.insert_many([{"email": f"filler{n}@x.example"} for n in range(5)]).execute()
    many = {user.id for user in load_others(team.id, TENANT, group, [])}  # looked up by id and email

    assert few == many == {linked.id, by_email.id}
