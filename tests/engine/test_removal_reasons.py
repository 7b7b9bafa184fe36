"""Every removal in history says why: left the Sync Group or which nested group, disabled, deleted softly or for
good in Entra, or removed by a confirmed review."""
from fake_entra import demo
from tests.engine.test_incremental_sync import (NEW_STARTERS, TRAINING, email, redis_connection, syncer,  # noqa: F401
                                                team)
from webapp.engine.reconcile import PlatformUser, SyncRules, reconcile
from webapp.models import SyncOutcome


def removal_reasons():
    return {o.email: o.reason for o in SyncOutcome.select().where(SyncOutcome.action == "removed")}


def test_an_incremental_run_says_why_each_member_was_removed(syncer, team, fake_entra):
    control = fake_entra.control
    assert syncer.sync()[0] == "full"
    control.remove_member(demo.TENANT_ID, TRAINING, demo.user_id("Quentin Blake"))
    control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Christie Cline"))
    control.remove_member(demo.TENANT_ID, NEW_STARTERS, demo.user_id("Zoe Clarke"))  # still in Training directly
    control.disable_user(demo.TENANT_ID, demo.user_id("Samuel Okoro"))
    control.remove_user(demo.TENANT_ID, demo.user_id("Tessa Lund"), reason="changed")
    control.remove_user(demo.TENANT_ID, demo.user_id("Ursula Kemp"), reason="deleted")

    mode, _, counts, _ = syncer.sync()

    assert mode == "incremental" and counts["removed"] == 5
    assert removal_reasons() == {
        email("Quentin Blake"): "left the Sync Group Training",
        email("Christie Cline"): "left New Starters, nested in the Sync Group Training",
        email("Samuel Okoro"): "disabled in Entra",
        email("Tessa Lund"): "deleted in Entra (in its deleted items, restorable there for 30 days)",
        email("Ursula Kemp"): "permanently deleted in Entra",
    }


def _member(user_id):
    return PlatformUser(user_id, f"m{user_id}@example.com", f"M {user_id}", "", "", 7, True, "t", f"oid-{user_id}", 7)


def test_removals_confirmed_after_a_review_say_so():
    rules = SyncRules(team_id=7, tenant_id="t", allow_deletion=True, confirmed_removals=frozenset({1, 2}))
    plan = reconcile([], [_member(n) for n in range(1, 31)], [], set(), rules)
    assert sorted(plan.removals) == [1, 2]
    assert {o.reason for o in plan.outcomes if o.action == "removed"} == {
        "not in the group; removed by a confirmed review"}
