"""Scenario 7: Auto Sync at platform scale. Many small teams over tenants of different sizes, each tenant's teams
sharing one app and so one Graph throttling budget (fake_entra's resource-unit budgets on); a first round imports
every team, then no-change rounds are worked by one worker and by two."""
import datetime as dt
import os
from contextlib import ExitStack

import psutil

from bench.floors import list_member_ids
from bench.scenarios import wait_for
from webapp.connections import save_enterprise_app
from webapp.db import database
from webapp.metrics import KEY as METRICS_KEY
from webapp.microsoft.errors import Throttled
from webapp.models import EntraConnection, SyncRun, SyncSettings, Team, utcnow

MEMBERS_PER_TEAM = 10
ROUND_TIMEOUT = 3600


def tenant_shares(teams, tenants):
    """Teams per tenant, of different sizes (tenant n gets a share like 1/(n+1)), every tenant at least one."""
    weights = [1 / (n + 1) for n in range(tenants)]
    shares = [max(1, int(teams * weight / sum(weights))) for weight in weights]
    shares[0] += teams - sum(shares)
    return shares


def seed(stage, teams, tenants, log):
    """The tenants in fake_entra (users and one small group per team) and their Auto Sync teams in the database;
    returns {tenant id: team count}."""
    control, box = stage.fake.control, stage.app.extensions["secret_box"]
    made = {}
    for number, share in enumerate(tenant_shares(teams, tenants)):
        users = share * MEMBERS_PER_TEAM
        tenant = control.create_tenant(seed=700 + number, users=users, groups=1, big_group_size=users,
                                       name=f"Platform Tenant {number}", domain=f"platform{number}.onmicrosoft.com")
        everyone = list_member_ids(stage.fake, tenant, tenant["big_group_id"])
        groups = [control.add_group(tenant["tenant_id"], f"Team group {n}",
                                    members=tuple(everyone[n * MEMBERS_PER_TEAM:(n + 1) * MEMBERS_PER_TEAM]))["id"]
                  for n in range(share)]
        with database.atomic():
            for n, group_id in enumerate(groups):
                team = Team.create(name=f"Platform {number}.{n}")
                save_enterprise_app(team.id, tenant["tenant_id"], tenant["app"]["client_id"],
                                    tenant["app"]["client_secret"], box, tenant_name=tenant["name"])
                SyncSettings.create(team=team, group_id=group_id, group_name=f"Team group {n}", auto_sync=True,
                                    allow_deletion=True)
        made[tenant["tenant_id"]] = share
        log(f"  tenant {number}: {share} teams, {users} users")
    # Their connection checks are not what this scenario measures: marked done, so the tick queues syncs only.
    EntraConnection.update(health_checked_at=utcnow()).execute()
    return made


def platform_rounds(stage, kind, teams, tenants, log):
    """Scenario 7: a first round (every team imported, two workers), then a no-change round with one worker and
    one with two, each started by one tick as the scheduler starts it."""
    from worker.jobs import tick

    shares = seed(stage, teams, tenants, log)
    stage.fake.control.set_throttling()
    rows = []
    try:
        for label, workers in (("7 platform first round", 2), ("7 platform no change, 1 worker", 1),
                               ("7 platform no change, 2 workers", 2)):
            if rows:
                SyncRun.update(finished_at=utcnow() - dt.timedelta(days=2)).execute()  # a day later: all due
            log(f"{kind}: {label}")
            rows.append(one_round(stage, kind, label, workers, tick, shares))
    finally:
        stage.fake.control.set_throttling(enabled=False)
    return rows


def one_round(stage, kind, label, workers, tick, shares):
    """One tick, `workers` workers working the round out; the round's row."""
    throttled_before = int(stage.redis.hget(METRICS_KEY, "graph_throttled") or 0)
    with ExitStack() as stack:
        pids = [stack.enter_context(stage.worker(forking=True)) for _ in range(workers)]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        started = dt.datetime.now()
        clock = utcnow()
        runs = wait_for(tick(), timeout=ROUND_TIMEOUT)
        elapsed = (dt.datetime.now() - started).total_seconds()
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        load = os.getloadavg()[0]
    throttled = int(stage.redis.hget(METRICS_KEY, "graph_throttled") or 0) - throttled_before
    row = round_row(kind, label, workers, runs, elapsed, throttled, shares, clock)
    row["notes"] += f"; the workers were on a CPU {cpu / elapsed / workers:.0%} of the time; load average {load:.1f}"
    return row


def cpu_seconds(pid):
    """CPU seconds a worker and its work horses used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def round_row(kind, label, workers, runs, elapsed, throttled, shares, clock):
    succeeded = sum(run.status == "succeeded" for run in runs)
    errors = sorted({run.error for run in runs if run.status != "succeeded"})
    waits = [(run.started_at - clock).total_seconds() for run in runs if run.started_at]
    per_team = elapsed * workers / len(runs) * 1000 if runs else None
    return {"scenario": label, "database": kind, "size": len(runs), "workers": workers, "seconds": round(elapsed, 3),
            "ms_per_team_per_worker": round(per_team, 1) if per_team else None,
            "graph_requests": sum(run.graph_requests for run in runs), "throttled_429": throttled,
            "unanswered_429": sum(Throttled.default_message in (run.error or "") for run in runs),
            "longest_wait_seconds": round(max(waits, default=0), 2),
            "notes": f"{len(runs)} teams x {MEMBERS_PER_TEAM} members over {len(shares)} tenants "
                     f"({max(shares.values())} to {min(shares.values())} teams each); "
                     f"{succeeded}/{len(runs)} runs succeeded" + "".join(f"; {error}" for error in errors)}
