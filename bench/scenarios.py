"""The benchmark scenarios; each returns one result row (a dict) for the table."""
import datetime as dt
import statistics
import time
from collections import Counter

from bench.floors import fetch_floor, raw_write_floor, write_floor
from bench.stage import peak_rss_mb
from webapp.accounts import make_leader
from webapp.connections import save_enterprise_app
from webapp.engine.lifecycle import ACTIVE, queue_run
from webapp.models import SyncRun, SyncSettings, Team, User

LEADER_PASSWORD = "bench-password"
REQUESTS_PER_LIST = 50


def make_team(stage, name, group_id, auto_sync=False):
    """A team connected to the bench tenant's enterprise app, syncing one group, with Allow Deletion on."""
    team = Team.create(name=name)
    make_leader(f"leader{team.id}@bench.example", team.id, LEADER_PASSWORD, name="Bench Leader")
    app = stage.tenant["app"]
    save_enterprise_app(team.id, stage.tenant["tenant_id"], app["client_id"], app["client_secret"],
                        stage.app.extensions["secret_box"], tenant_name=stage.tenant["name"])
    SyncSettings.create(team=team, group_id=group_id, group_name=name, auto_sync=auto_sync, allow_deletion=True)
    return team


def wait_for(run_ids, timeout=900):
    """Poll until every run has ended; return the runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs = list(SyncRun.select().where(SyncRun.id.in_(run_ids)))
        if all(run.status not in ACTIVE for run in runs):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs {run_ids} still active after {timeout} s")
        time.sleep(0.01)


def timed_sync(stage, team):
    """Enqueue a manual sync through the real queue and wait until its run row says it ended."""
    started = time.perf_counter()
    run = queue_run(team.id, "manual", stage.redis)
    (run,) = wait_for([run.id])
    elapsed = time.perf_counter() - started
    if run.status != "succeeded":
        raise RuntimeError(f"run {run.id} of team {team.id} ended {run.status}: {run.error}")
    return elapsed, run


def counts(run):
    return (f"+{run.added} new {run.created} upd {run.updated} -{run.removed} "
            f"other {run.skipped_other_team} off {run.skipped_disabled}")


def sync_row(scenario, kind, size, elapsed, floor, run, rss, extra="", latency=False):
    return {"scenario": scenario, "database": kind, "size": size, "latency": "on" if latency else "off",
            "seconds": round(elapsed, 3), "floor_seconds": round(floor, 3),
            "ratio": round(elapsed / floor, 2) if floor else None,
            "graph_requests": run.graph_requests, "peak_rss_mb": round(rss, 1) if rss else None,
            "notes": (f"{run.mode}: " + counts(run) + (" " + extra if extra else "")).strip()}


def first_sync(stage, kind, size, team, group_id, latency=False):
    """Scenario 1: first sync into an empty team, against the fetch floor plus the raw write floor (the
    database's bulk path); the project's own write floor (its insert_many into its own tables) beside it."""
    _, fetch_seconds, fetch_requests = fetch_floor(stage.fake, stage.tenant, group_id)
    raw_seconds = raw_write_floor(size)
    own_seconds = write_floor(size)
    stage.fake.control.reset_counts()
    with stage.worker() as pid:
        elapsed, run = timed_sync(stage, team)
        rss = peak_rss_mb(pid)
    members = member_requests(stage.fake.control.counts())
    row = sync_row("1 first sync", kind, size, elapsed, fetch_seconds + raw_seconds, run, rss,
                   f"(fetch floor {fetch_seconds:.2f} s/{fetch_requests} req, raw write floor {raw_seconds:.2f} s, "
                   f"own write floor {own_seconds:.2f} s; {members} member requests, "
                   f"{run.graph_requests - members} to follow changes)", latency)
    own_floor = fetch_seconds + own_seconds
    row.update(member_requests=members, fetch_floor_seconds=round(fetch_seconds, 3),
               raw_write_floor_seconds=round(raw_seconds, 3), own_floor_seconds=round(own_floor, 3),
               own_ratio=round(elapsed / own_floor, 2), fetch_ratio=round(elapsed / fetch_seconds, 2))
    return row


def member_requests(counts):
    """Graph requests that listed a group's users."""
    return sum(count for endpoint, count in counts.items()
               if endpoint.startswith("GET /groups/") and endpoint.endswith("/microsoft.graph.user"))


def second_sync(stage, kind, size, team, group_id, scenario, latency=False):
    """Scenarios 2 and 3: a later sync, against the fetch floor."""
    _, fetch_seconds, _ = fetch_floor(stage.fake, stage.tenant, group_id)
    with stage.worker() as pid:
        elapsed, run = timed_sync(stage, team)
        rss = peak_rss_mb(pid)
    return sync_row(scenario, kind, size, elapsed, fetch_seconds, run, rss, latency=latency)


def change_one_percent(stage, group_id, member_ids, size, round_number):
    """Joins, leaves and renames touching 1 % of the group, made in fake_entra."""
    control, tenant_id = stage.fake.control, stage.tenant["tenant_id"]
    changes = max(4, size // 100)
    leaves, joins = changes // 2, changes // 4
    renames = changes - leaves - joins
    for user_id in member_ids[:leaves]:
        control.remove_member(tenant_id, group_id, user_id)
    for number in range(joins):
        name = f"joiner{round_number}x{number}.{size}"
        user = control.add_user(tenant_id, f"Joiner {round_number} {number}", f"{name}@bench.onmicrosoft.com",
                                mail=f"{name}@bench.example", accountEnabled=True, userType="Member")
        control.add_member(tenant_id, group_id, user["id"])
    for user_id in member_ids[leaves:leaves + renames]:
        control.update_user(tenant_id, user_id, displayName=f"Renamed {round_number} {user_id[:8]}")
    return member_ids[leaves:]


def server_times(client, url, count=REQUESTS_PER_LIST):
    """Median and p95 in ms of `count` requests handled in-process, and the largest response."""
    times, largest = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, headers={"HX-Request": "true"})
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        largest = max(largest, len(response.data))
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], largest


def signed_in_client(stage, team):
    client = stage.app.test_client()
    client.post("/login", data={"email": f"leader{team.id}@bench.example", "password": LEADER_PASSWORD})
    return client


def list_rows(scenario, kind, size, client, urls):
    rows = []
    for label, url in urls:
        median, p95, largest = server_times(client, url)
        rows.append({"scenario": f"{scenario}: {label}", "database": kind, "size": size,
                     "median_ms": round(median, 1), "p95_ms": round(p95, 1), "largest_kb": round(largest / 1024, 1)})
    return rows


def sync_users_list(stage, kind, size, team, group_id):
    """Scenario 4: the Sync Users list after the first load (which fetches the group once)."""
    client = signed_in_client(stage, team)
    base = f"/teams/{team.id}/entra-sync/users?group_id={group_id}&users_open=1&allow_deletion=1"
    client.get(base)
    word = User.select(User.name).where(User.team == team).order_by(User.id.desc()).first().name.split()[-1]
    return list_rows("4 Sync Users", kind, size, client, [
        ("first page", base), ("search", f"{base}&user_q={word.lower()}"), ("page 20", f"{base}&users_page=20")])


def members_search(stage, kind, size, team):
    """Scenario 5: the Members page on a big team: a search, the first page and page 20."""
    client = signed_in_client(stage, team)
    base = f"/teams/{team.id}/members/"
    word = User.select(User.name).where(User.team == team).order_by(User.id.desc()).first().name.split()[0]
    return list_rows("5 Members", kind, size, client, [
        ("search", f"{base}?q={word.lower()}"), ("first page", base), ("page 20", f"{base}?page=20")])


def scheduler_round(stage, kind, group_ids, members_per_team):
    """Scenario 6: one scheduler tick queues every team with Auto Sync on; one worker works them all.
    The first round imports every team; the next one (a day later, nothing changed) is what a worker does daily."""
    from worker.jobs import tick

    for number, group_id in enumerate(group_ids):
        make_team(stage, f"Auto {number}", group_id, auto_sync=True)
    rows, runs = [], []
    with stage.worker(forking=True) as pid:
        for label in ("6 scheduler round", "6 next round"):
            if rows:
                a_day_later(runs)
            started = time.perf_counter()
            run_ids = tick()
            runs = wait_for(run_ids)
            elapsed = time.perf_counter() - started
            rows.append(round_row(label, kind, runs, elapsed, peak_rss_mb(pid), len(group_ids), members_per_team))
    return rows


def a_day_later(runs):
    """Move the round's runs two days back, so every team is due again."""
    for run in runs:
        SyncRun.update(finished_at=run.finished_at - dt.timedelta(days=2)).where(SyncRun.id == run.id).execute()


def round_row(label, kind, runs, elapsed, rss, teams, members_per_team):
    succeeded = sum(run.status == "succeeded" for run in runs)
    modes = Counter(run.mode for run in runs)
    errors = sorted({f"{run.status}: {run.error}" for run in runs if run.status != "succeeded"})
    return {"scenario": label, "database": kind, "size": teams * members_per_team,
            "seconds": round(elapsed, 3), "graph_requests": sum(run.graph_requests for run in runs),
            "peak_rss_mb": round(rss, 1) if rss else None,
            "notes": f"{teams} teams x {members_per_team}; {succeeded}/{len(runs)} runs succeeded"
                     + "".join(f", {count} {mode}" for mode, count in sorted(modes.items(), key=str))
                     + "".join(f"; {error}" for error in errors)}
