"""The demo team: a leader to sign in with and members to look at, added by `flask --app wsgi demo-data` (a command
this package gives Flask's command line through its `flask.commands` entry point)."""
import random

import click
from flask.cli import with_appcontext

from webapp.accounts import make_leader
from webapp.db import database
from webapp.models import Team, User

DEMO_TEAM_NAME = "Contoso Learning Team"
DEMO_LEADER_EMAIL = "leader@demo.example"
DEMO_LEADER_PASSWORD = "demo-password"

FIRST = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Liam",
         "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"]
LAST = ["Adams", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
        "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Varga"]
TITLES = ["Analyst", "Engineer", "Designer", "Manager", "Consultant", "Coordinator", "Specialist"]
DEPARTMENTS = ["Finance", "Engineering", "Design", "Sales", "Operations", "People"]


def generated_members(team, count, seed=7):
    """Deterministic member rows for bulk insertion."""
    rng = random.Random(seed)
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        yield {"email": f"{first}.{last}.{number}@members.demo.example".lower(), "name": f"{first} {last}",
               "job_title": rng.choice(TITLES), "department": rng.choice(DEPARTMENTS), "team": team.id}


def add_members(team, count, batch=1000, seed=7):
    """Bulk-insert generated members; emails already present are left alone."""
    rows = list(generated_members(team, count, seed))
    with database.atomic():
        for start in range(0, len(rows), batch):
            User.insert_many(rows[start:start + batch]).on_conflict_ignore().execute()


def seed_demo(members=40):
    team = Team.get_or_none(Team.name == DEMO_TEAM_NAME) or Team.create(name=DEMO_TEAM_NAME)
    make_leader(DEMO_LEADER_EMAIL, team.id, DEMO_LEADER_PASSWORD, name="Dana Leader")
    add_members(team, members)
    return team


@click.command("demo-data")
@click.option("--members", default=40, show_default=True, help="Extra generated members for the demo team.")
@with_appcontext
def demo_data(members):
    """Add the demo team, its leader and members (idempotent)."""
    with database.connection_context():
        team = seed_demo(members)
    click.echo(f"Demo team {team.id}; sign in as {DEMO_LEADER_EMAIL} / {DEMO_LEADER_PASSWORD}")
