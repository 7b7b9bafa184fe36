"""Incremental syncs against fake_entra over HTTP and a real Redis: what changed in Entra reaches the team,
and afterwards a full pass would find nothing left to do."""
import time

import pytest
import redis
import requests

from fake_entra import demo
from tests.worker.conftest import connect, emails_of
from webapp import membership
from webapp.connections import connection_of, graph_client_from_config
from webapp.engine.reconcile import SyncRules, reconcile
from webapp.engine.lifecycle import HeldRun
from webapp.engine.team_sync import SyncOptions, TeamSync
from webapp.engine.team_side import load_leader_ids, load_members, load_others
from webapp.microsoft import MembershipMismatch
from webapp.models import SyncRun, SyncSettings, Team, User

DOMAIN = demo.TENANT_DOMAIN
TRAINING, NEW_STARTERS = demo.group_id("Training"), demo.group_id("New Starters")
GUARD = (10.0, 25, 500)


def email(name):
    return f"{demo.handle(name)}@{DOMAIN}"


@pytest.fixture
def redis_connection(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def team(app, make_team, make_leader_of):
    team = make_team("Support Academy")
    make_leader_of(team)
    connect(app, team, allow_deletion=True)
    return team


class Syncer:
    """Runs the engine in-process the way the worker job does, and checks the result with a full pass."""

    def __init__(self, app, team, redis_connection):
        self.app, self.team, self.redis = app, team, redis_connection

    def graph(self):
        return graph_client_from_config(connection_of(self.team.id), self.app.extensions["secret_box"],
                                        self.app.config, redis=self.redis)

    def sync(self, guard=GUARD):
        """One run; returns (mode, plan, counts, Graph requests)."""
        run = SyncRun.create(team=self.team, trigger="manual", status="running")
        graph = self.graph()
        held = HeldRun(self.redis, self.team.id, run.id, lock_seconds=60)
        assert held.acquire()
        try:
            team_sync = TeamSync(held, connection_of(self.team.id), graph, SyncOptions(guard, 24 * 3600))
            plan, counts, mode = team_sync.run()
        finally:
            held.release()
        return mode, plan, counts, graph.request_count

    def full_pass_plan(self):
        """What a full pass would do now (nothing, when the incremental runs kept up)."""
        settings = SyncSettings.get(SyncSettings.team == self.team.id)
        users = self.graph().fetch_group_users(settings.group_id)
        members = load_members(self.team.id)
        others = load_others(self.team.id, demo.TENANT_ID, users, members)
        rules = SyncRules(team_id=self.team.id, tenant_id=demo.TENANT_ID, allow_deletion=settings.allow_deletion)
        return reconcile(users, members, others, load_leader_ids(self.team.id), rules)


def nothing_to_do(plan):
    return not (plan.creates or plan.adds or [change for change in plan.updates if change.visible]
                or plan.removals or plan.held_removals)


@pytest.fixture
def syncer(app, team, redis_connection, fake_entra):
    app.config.update(ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url)
    return Syncer(app, team, redis_connection)


def test_a_run_with_no_change_reads_two_delta_rounds_and_writes_nothing(syncer, team):
    assert syncer.sync()[0] == "full"
    before = list(User.select().order_by(User.id).tuples())

    mode, plan, counts, requests = syncer.sync()

    assert (mode, requests) == ("incremental", 2)
    assert not plan.outcomes and counts["added"] == counts["updated"] == counts["removed"] == 0
    assert list(User.select().order_by(User.id).tuples()) == before


def test_joins_leaves_renames_and_disabled_accounts_arrive_incrementally(syncer, team, fake_entra):
    control = fake_entra.control
    syncer.sync()
    outsider = demo.user_id("Hannah Schmidt")  # in the tenant, not in the group
    newcomer = control.add_user(demo.TENANT_ID, "Nora Quist", f"nora.quist@{DOMAIN}", mail=f"nora.quist@{DOMAIN}",
                                accountEnabled=True, userType="Member", jobTitle="Trainee")
    control.add_member(demo.TENANT_ID, TRAINING, outsider)
    control.add_member(demo.TENANT_ID, NEW_STARTERS, newcomer["id"])
    control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id("Quentin Blake"))
    control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Christie Cline"))
    control.update_user(demo.TENANT_ID, demo.user_id("Rita Moreno"), displayName="Rita Moreno-Diaz",
                        jobTitle="Support Lead")
    control.disable_user(demo.TENANT_ID, demo.user_id("Samuel Okoro"))
    control.remove_user(demo.TENANT_ID, demo.user_id("Tessa Lund"))

    mode, plan, counts, requests = syncer.sync()

    assert mode == "incremental"
    # two delta rounds and one read of Hannah's properties; that Christie left for good is known from the saved direct
    # members of the Sync Group, without asking Graph
    assert requests == 3
    assert (counts["added"], counts["created"], counts["updated"], counts["removed"]) == (2, 2, 1, 4)
    members = emails_of(team)
    assert {email("Hannah Schmidt"), f"nora.quist@{DOMAIN}"} <= members
    assert not {email(name) for name in ("Quentin Blake", "Christie Cline", "Samuel Okoro", "Tessa Lund")} & members
    rita = User.get(User.email == email("Rita Moreno"))
    assert (rita.name, rita.job_title) == ("Rita Moreno-Diaz", "Support Lead")
    assert nothing_to_do(syncer.full_pass_plan())


def test_leaving_a_nested_group_keeps_a_direct_member(syncer, team, fake_entra):
    syncer.sync()
    fake_entra.control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Zoe Clarke"))

    mode, plan, counts, requests = syncer.sync()

    assert (mode, counts["removed"], requests) == ("incremental", 0, 2)
    assert email("Zoe Clarke") in emails_of(team)
    assert nothing_to_do(syncer.full_pass_plan())


def test_a_user_skipped_for_another_team_is_added_once_that_team_lets_go(syncer, team):
    other = Team.create(name="Sales Academy")
    User.create(email=email("Rita Moreno"), name="Rita Moreno", team=other)
    syncer.sync()
    assert email("Rita Moreno") not in emails_of(team)
    User.update(team=None).where(User.email == email("Rita Moreno")).execute()

    mode, plan, counts, _ = syncer.sync()

    assert (mode, counts["added"]) == ("incremental", 1)
    assert email("Rita Moreno") in emails_of(team)


@pytest.mark.parametrize("change", ["nested group joins", "delta links expire", "settings change",
                                    "team edited elsewhere", "tracking state lost", "a day went by"])
def test_a_full_pass_replaces_delta_when_it_cannot_be_trusted(syncer, team, fake_entra, redis_connection, change):
    control = fake_entra.control
    syncer.sync()
    if change == "nested group joins":
        control.add_member(demo.TENANT_ID, TRAINING, demo.group_id("Marketing"))
    elif change == "delta links expire":
        control.expire_delta_tokens(demo.TENANT_ID)
    elif change == "settings change":
        SyncSettings.update(allow_deletion=False).where(SyncSettings.team == team.id).execute()
    elif change == "team edited elsewhere":
        User.update(team=None).where(User.email == email("Rita Moreno")).execute()
        membership.changed(redis_connection, team.id)
    elif change == "tracking state lost":
        redis_connection.delete(*redis_connection.keys(f"entra-sync:delta:{team.id}:*"))
    else:
        redis_connection.hset(f"entra-sync:delta:{team.id}", "full_at", time.time() - 25 * 3600)

    mode, plan, counts, _ = syncer.sync()

    assert mode == "full"
    assert nothing_to_do(syncer.full_pass_plan())
    if change == "nested group joins":
        assert email("Gareth Jones") in emails_of(team)
    if change == "team edited elsewhere":
        assert email("Rita Moreno") in emails_of(team)
    assert syncer.sync()[0] == "incremental"


def test_removals_past_the_deletion_guard_wait_for_a_review_from_a_full_pass(syncer, team, fake_entra):
    strict = (1.0, 1, 500)  # at most one removal without a review
    syncer.sync(guard=strict)
    fake_entra.control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id("Quentin Blake"))
    assert syncer.sync(guard=strict)[:1] == ("incremental",), "one removal passes the guard"
    for name in ("Rita Moreno", "Samuel Okoro"):
        fake_entra.control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id(name))

    mode, plan, counts, _ = syncer.sync(guard=strict)

    assert (mode, plan.needs_review, counts["removed"]) == ("full", True, 0)
    assert {email("Rita Moreno"), email("Samuel Okoro")} <= emails_of(team)
    assert syncer.sync(guard=strict)[0] == "full", "no incremental run until the review is done"


def test_changed_users_whose_entries_leave_out_never_set_properties_are_not_read_again(syncer, team, fake_entra):
    syncer.sync()
    # Lynne has no mail and Kofi (a guest) no job title or department: later delta rounds leave those out
    fake_entra.control.update_user(demo.TENANT_ID, demo.user_id("Lynne Robbins"), displayName="Lynne Robbins-Kay")
    fake_entra.control.update_user(demo.TENANT_ID, demo.user_id("Kofi Mensah"), displayName="Kofi A. Mensah")

    mode, plan, counts, requests = syncer.sync()

    assert (mode, requests, counts["updated"]) == ("incremental", 2, 2)
    assert User.get(User.email == demo.NO_MAIL_UPN).name == "Lynne Robbins-Kay"
    kofi = User.get(User.email == "kofi.mensah@partner.example")
    assert (kofi.name, kofi.job_title, kofi.department) == ("Kofi A. Mensah", "", "")
    assert nothing_to_do(syncer.full_pass_plan())


def test_a_thousand_user_group_with_five_changes_costs_two_requests(app, make_team, make_leader_of, fake_entra,
                                                                     redis_connection):
    tenant = fake_entra.control.create_tenant(seed=12, users=1000, groups=3)
    team = make_team("Generated Academy")
    make_leader_of(team)
    connect(app, team, tenant_id=tenant["tenant_id"], client_id=tenant["app"]["client_id"],
            secret=tenant["app"]["client_secret"], group_id=tenant["big_group_id"], allow_deletion=True)
    app.config.update(ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url)
    syncer = Syncer(app, team, redis_connection)
    assert syncer.sync()[0] == "full"
    users = {user["id"]: user for user in requests_users(fake_entra, tenant)}
    guests = [user_id for user_id, user in users.items() if user["userType"] == "Guest"][:2]
    without_mail = [user_id for user_id, user in users.items() if user["mail"] is None][:1]
    members = [user_id for user_id, user in users.items() if user["userType"] == "Member" and user["mail"]][:2]
    for number, user_id in enumerate(guests + without_mail + members):
        fake_entra.control.update_user(tenant["tenant_id"], user_id, displayName=f"Renamed {number}")

    mode, plan, counts, requests = syncer.sync()

    assert (mode, requests) == ("incremental", 2)
    assert counts["updated"] == sum(1 for user_id in guests + without_mail + members
                                    if users[user_id]["accountEnabled"])
    assert nothing_to_do(syncer.full_pass_plan())


def requests_users(fake_entra, tenant):
    """Every user of a generated tenant with the properties the test picks by."""
    token = fake_entra.app_token(tenant["tenant_id"], tenant["app"]["client_id"], tenant["app"]["client_secret"])
    url = f"{fake_entra.graph_url}/users?$select=id,mail,userType,accountEnabled&$top=999"
    found = []
    while url:
        page = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        found.extend(page["value"])
        url = page.get("@odata.nextLink")
    return found


LAG = 3.0  # seconds the index of advanced queries lags the directory


def test_a_change_made_just_before_a_full_pass_is_not_lost_to_the_lagging_index(syncer, team, fake_entra,
                                                                                 redis_connection):
    control = fake_entra.control
    control.set_index_lag(LAG)
    syncer.sync()
    redis_connection.delete(f"entra-sync:delta:{team.id}")  # the next run is a full pass
    control.add_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Hannah Schmidt"))
    control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id("Rita Moreno"))

    mode, plan, counts, _ = syncer.sync()

    assert mode == "full"
    assert email("Hannah Schmidt") in emails_of(team) and email("Rita Moreno") not in emails_of(team)
    assert syncer.sync()[0] == "incremental"
    control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Hannah Schmidt"))
    assert syncer.sync()[0] == "incremental"
    assert email("Hannah Schmidt") not in emails_of(team)
    time.sleep(LAG)
    assert nothing_to_do(syncer.full_pass_plan())


def test_a_full_pass_right_after_a_join_does_not_remove_the_new_member(syncer, team, fake_entra, redis_connection):
    control = fake_entra.control
    control.set_index_lag(LAG)
    syncer.sync()
    control.add_member(demo.TENANT_ID, TRAINING, demo.user_id("Hannah Schmidt"))
    mode, _, counts, _ = syncer.sync()
    assert (mode, counts["added"]) == ("incremental", 1)
    assert email("Hannah Schmidt") in emails_of(team)
    redis_connection.delete(f"entra-sync:delta:{team.id}")

    mode, plan, counts, _ = syncer.sync()

    assert (mode, counts["removed"]) == ("full", 0)
    assert email("Hannah Schmidt") in emails_of(team)
    time.sleep(LAG)
    assert nothing_to_do(syncer.full_pass_plan())


def test_leaving_the_last_nested_group_is_seen_although_the_index_still_lists_the_user(syncer, team, fake_entra):
    fake_entra.control.set_index_lag(LAG)
    syncer.sync()
    fake_entra.control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Christie Cline"))

    mode, plan, counts, _ = syncer.sync()

    assert (mode, counts["removed"]) == ("incremental", 1)
    assert email("Christie Cline") not in emails_of(team)
    time.sleep(LAG)
    assert nothing_to_do(syncer.full_pass_plan())


def test_a_listing_far_ahead_of_the_member_list_changes_nobody(app, make_team, make_leader_of, fake_entra,
                                                                redis_connection):
    tenant = fake_entra.control.create_tenant(seed=13, users=1000, groups=3)
    team = make_team("Generated Academy")
    make_leader_of(team)
    connect(app, team, tenant_id=tenant["tenant_id"], client_id=tenant["app"]["client_id"],
            secret=tenant["app"]["client_secret"], group_id=tenant["big_group_id"], allow_deletion=True)
    app.config.update(ENTRA_AUTHORITY_URL=fake_entra.authority_url, GRAPH_API_URL=fake_entra.graph_url)
    syncer = Syncer(app, team, redis_connection)
    syncer.sync()
    before = emails_of(team)
    fake_entra.control.set_index_lag(60)
    direct = [user["id"] for user in requests_users(fake_entra, tenant)][:40]  # the first 900 are direct members
    for user_id in direct:
        fake_entra.control.remove_member(tenant["tenant_id"], tenant["big_group_id"], user_id)
    redis_connection.delete(f"entra-sync:delta:{team.id}")

    with pytest.raises(MembershipMismatch, match="no longer holds 40 of them"):
        syncer.sync()

    assert emails_of(team) == before
    fake_entra.control.set_index_lag(0)
    mode, plan, counts, _ = syncer.sync()
    assert (mode, counts["removed"]) == ("full", 40)
