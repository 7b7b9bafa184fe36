"""Search finds every member a first sync created, on both databases, also when the run failed part way: the
sync builds SQLite's search index in bulk per transaction, and the per-row trigger is back for every later
insert."""
import pytest

from tests.conftest import PASSWORD
from tests.worker.conftest import connect, emails_of, run_of, run_worker
from webapp.engine.lifecycle import queue_run
from webapp.models import User
from webapp.search import name_or_email_contains

PAGE = 999


@pytest.fixture
def tenant(fake_entra):
    return fake_entra.control.create_tenant(seed=16, users=2500, groups=2, big_group_size=2500)


@pytest.fixture
def first_sync_team(app, make_team, make_leader_of, tenant):
    """An empty team (its leader only) on a group of 2,500 users (three pages)."""
    team = make_team("Search Academy")
    make_leader_of(team)
    connect(app, team, tenant_id=tenant["tenant_id"], client_id=tenant["app"]["client_id"],
            secret=tenant["app"]["client_secret"], group_id=tenant["big_group_id"], allow_deletion=True)
    return team


@pytest.fixture
def leader_client(client, auth, first_sync_team):
    auth.login(f"leader.team{first_sync_team.id}@example.com", PASSWORD)
    return client


def sync(team, redis_connection, worker_env):
    run = queue_run(team.id, "manual", redis_connection)
    assert run_worker(worker_env).returncode == 0
    return run_of(run.id)


def search(client, team, text):
    return client.get(f"/teams/{team.id}/members/", query_string={"q": text}).get_data(as_text=True)


def assert_every_member_is_found(client, team):
    """Every member's email finds them by the Members page's search; on the page itself, a sample of members
    from every page of the group by their emails and by pieces of their names."""
    members = list(User.select(User.id, User.email, User.name).where(User.team == team.id).order_by(User.id))
    for user in members:
        found = User.select(User.id).where((User.team == team.id) & name_or_email_contains(user.email))
        assert [row.id for row in found] == [user.id], f"{user.email} is not found by its email"
    for user in members[::97]:
        assert user.email in search(client, team, user.email), f"{user.email} is not shown for its email"
        assert user.email in search(client, team, user.name[1:]), f"{user.name} is not shown for its name"


def test_search_finds_every_member_of_a_first_sync(first_sync_team, leader_client, redis_connection, worker_env):
    run = sync(first_sync_team, redis_connection, worker_env)
    assert (run.status, run.created) == ("succeeded", len(emails_of(first_sync_team)) - 1)
    assert run.created > 2 * PAGE
    assert_every_member_is_found(leader_client, first_sync_team)


def test_search_finds_what_a_failed_first_sync_wrote_and_later_members(first_sync_team, leader_client,
                                                                        redis_connection, worker_env, fake_entra):
    fake_entra.control.inject(503, retry_after=0.05, count=None, page=3, path="transitiveMembers/microsoft.graph.user")
    run = sync(first_sync_team, redis_connection, worker_env)
    assert run.status == "failed" and PAGE < run.created <= 2 * PAGE  # the two pages before the fault
    assert len(emails_of(first_sync_team)) == run.created + 1
    assert_every_member_is_found(leader_client, first_sync_team)

    User.create(email="added.by.hand@example.com", name="Zelda Handley", team=first_sync_team.id)
    assert "added.by.hand@example.com" in search(leader_client, first_sync_team, "handley")

    fake_entra.control.clear_faults()
    run = sync(first_sync_team, redis_connection, worker_env)
    assert run.status == "succeeded" and run.created > 0
    assert_every_member_is_found(leader_client, first_sync_team)
