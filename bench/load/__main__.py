"""`python -m bench.load`: the load test of the Done-when of issue 11, on SQLite and PostgreSQL.

For each database: 50 teams of 1,000 members, each with its leader, connected to a seeded fake_entra tenant;
the portal under gunicorn as the Procfile runs it; two rq workers (the Procfile's worker class) syncing teams
whose Sync Groups have 10,000 members each, re-queued as soon as a run ends; and Locust's 50 leaders for
`--seconds`. Prints throughput, median and p95 per page, errors, and what the workers synced meanwhile.
"""
import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

from bench.floors import list_member_ids
from bench.scenarios import LEADER_PASSWORD, make_team
from bench.stage import ROOT, stage
from webapp.accounts import make_leader
from webapp.connections import save_enterprise_app
from webapp.db import database
from webapp.engine.lifecycle import ACTIVE, queue_run
from webapp.models import SyncRun, SyncSettings, Team, User

BIN = Path(sys.executable).parent
TARGET_P95_MS = 300
UNTARGETED = {"Aggregated": "  (all pages)",
              "Sign in": "  (once per leader; the password hash is slow on purpose)"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_leader_teams(bench, count: int, members: int, group: dict) -> list[dict]:
    """`count` teams of `members` members, each connected with a small Sync Group chosen; their leaders' logins."""
    leaders = []
    app = bench.tenant["app"]
    pages = -(-(members + 1) // bench.app.config["MEMBERS_PER_PAGE"])  # the leader is a member too
    for n in range(count):
        team = Team.create(name=f"Load team {n:02d}")
        User.insert_many([{"email": f"m{i}.t{team.id}@load.example", "name": f"Member {i:05d}", "team": team.id}
                          for i in range(members)]).execute()
        email = f"leader{team.id}@load.example"
        make_leader(email, team.id, LEADER_PASSWORD, name="Load Leader")
        save_enterprise_app(team.id, bench.tenant["tenant_id"], app["client_id"], app["client_secret"],
                            bench.app.extensions["secret_box"], tenant_name=bench.tenant["name"])
        SyncSettings.create(team=team, group_id=group["id"], group_name=group["name"])
        leaders.append({"email": email, "password": LEADER_PASSWORD, "team_id": team.id, "pages": pages,
                        "group_id": group["id"], "group_name": group["name"]})
    return leaders


class KeepSyncing(threading.Thread):
    """Queue a sync of each sync team whenever it has none queued or running, until stopped."""

    def __init__(self, bench, team_ids: list[int]) -> None:
        super().__init__(daemon=True)
        self.bench, self.team_ids = bench, team_ids
        self.stopped = threading.Event()

    def run(self) -> None:
        with database.connection_context():
            while not self.stopped.wait(0.5):
                busy = {run.team_id for run in SyncRun.select(SyncRun.team).where(
                    SyncRun.team.in_(self.team_ids) & SyncRun.status.in_(list(ACTIVE)))}
                for team_id in self.team_ids:
                    if team_id not in busy:
                        queue_run(team_id, "manual", self.bench.redis)


def serve(bench, env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    """The portal under gunicorn, as the Procfile's web process; returns the process and its URL once it answers."""
    port = free_port()
    process = subprocess.Popen([str(BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--threads", "4"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/login", timeout=5)
            return process, url
        except (requests.ConnectionError, requests.Timeout):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
            time.sleep(0.2)


def locust_failures(prefix: Path) -> list[dict]:
    with open(f"{prefix}_failures.csv") as failures:
        return [{"page": row["Name"], "error": row["Error"], "count": int(row["Occurrences"])}
                for row in csv.DictReader(failures)]


def locust_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv") as stats:
        return [{"page": row["Name"], "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                 "median_ms": float(row["Median Response Time"]), "p95_ms": float(row["95%"]),
                 "per_second": float(row["Requests/s"])} for row in csv.DictReader(stats)]


def run_load(bench, kind: str, leaders: list[dict], sync_team_ids: list[int], args, workdir: Path) -> dict:
    leaders_path = workdir / f"leaders-{kind}.json"
    leaders_path.write_text(json.dumps(leaders))
    # Every leader signs in from 127.0.0.1; every run of the workers is a full pass of its 10,000-member group.
    env = dict(bench.environment(), ENTRA_SYNC_ENV="development", LOGIN_ATTEMPTS_PER_CLIENT_PER_15_MINUTES="100000",
               SYNC_FULL_PASS_HOURS="0", LOAD_LEADERS=str(leaders_path))
    web_log = workdir / f"gunicorn-{kind}.log"
    prefix = workdir / f"locust-{kind}"
    with ExitStack() as stack:
        web, url = serve(bench, env, web_log)
        stack.callback(web.wait, 30)
        stack.callback(web.terminate)
        for _ in range(2):
            stack.enter_context(bench.worker(forking=True, env=env))
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        feeder = KeepSyncing(bench, sync_team_ids)
        feeder.start()
        reset = ["--reset-stats"] if args.steady else []
        locust = subprocess.run([str(BIN / "locust"), "-f", str(ROOT / "bench" / "load" / "locustfile.py"),
                                 "--headless", "--users", str(args.leaders), "--spawn-rate", "10",
                                 "--run-time", f"{args.seconds}s", "--host", url, "--csv", str(prefix),
                                 "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING", *reset],
                                cwd=ROOT, env=env, capture_output=True, text=True)
        feeder.stopped.set()
        feeder.join()
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"Locust did not run:\n{locust.stderr[-2000:]}")
    runs = list(SyncRun.select().where(SyncRun.team.in_(sync_team_ids) & (SyncRun.created_at >= started)
                                       & SyncRun.status.not_in(list(ACTIVE))))
    logged = re.findall(r"webapp\.request \S+ (\S+) (\d{3}) ([\d.]+)ms", web_log.read_text())
    server_ms = sorted(float(ms) for path, _, ms in logged if path != "/login")  # sign-in hashes on purpose
    server_errors = sum(status.startswith("5") for _, status, _ in logged)
    return {"database": kind, "pages": locust_stats(prefix), "failures": locust_failures(prefix),
            "server_errors": server_errors,
            "server_p95_ms": server_ms[int(len(server_ms) * 0.95)] if server_ms else None,
            "server_median_ms": server_ms[len(server_ms) // 2] if server_ms else None,
            "load_average": os.getloadavg()[0],
            "full_passes": sum(run.mode == "full" and run.status == "succeeded" for run in runs),
            "incremental_runs": sum(run.mode == "incremental" and run.status == "succeeded" for run in runs),
            "failed_runs": [run.error for run in runs if run.status != "succeeded"],
            "users_added": sum(run.added for run in runs), "group_size": args.group_size}


def render(results: list[dict]) -> str:
    lines = []
    for result in results:
        lines.append(f"\n{result['database']}: {'page':<18} {'requests':>8} {'errors':>6} {'median ms':>9} "
                     f"{'p95 ms':>7} {'req/s':>7}")
        for page in result["pages"]:
            verdict = UNTARGETED.get(page["page"]) or (
                "  met" if page["p95_ms"] < TARGET_P95_MS else f"  MISSED (target {TARGET_P95_MS})")
            lines.append(f"{'':<{len(result['database']) + 2}}{page['page']:<18} {page['requests']:>8} "
                         f"{page['failures']:>6} {page['median_ms']:>9.0f} {page['p95_ms']:>7.0f} "
                         f"{page['per_second']:>7.1f}{verdict}")
        lines.append(f"  meanwhile the two workers: {result['full_passes']} full passes of "
                     f"{result['group_size']:,}-member groups, "
                     f"{result['incremental_runs']} incremental runs, {result['users_added']:,} users added, "
                     f"{len(result['failed_runs'])} failed runs; {result['server_errors']} 5xx answers logged")
        lines.append(f"  time inside the portal (its request log, sign-in aside): "
                     f"median {result['server_median_ms']} ms, "
                     f"p95 {result['server_p95_ms']} ms; load average {result['load_average']:.1f} "
                     f"on {os.cpu_count()} CPUs")
        for failure in result["failures"]:
            lines.append(f"  error on {failure['page']} ({failure['count']}x): {failure['error'][:200]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--seconds", type=int, default=60, help="how long the leaders browse")
    parser.add_argument("--leaders", type=int, default=50, help="concurrent leaders (each its own team)")
    parser.add_argument("--members", type=int, default=1000, help="members of each leader's team")
    parser.add_argument("--sync-teams", type=int, default=4, help="teams the workers sync, 10,000 users each")
    parser.add_argument("--group-size", type=int, default=10_000, help="members of each synced group")
    parser.add_argument("--steady", action="store_true",
                        help="count only what follows the last leader's start (Locust's --reset-stats)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load-latest.json"))
    args = parser.parse_args()
    os.environ["ENTRA_SYNC_ENV"] = "development"  # its processes run on the load test's own keys and services
    results = []
    users = args.sync_teams * args.group_size
    with tempfile.TemporaryDirectory(prefix="entra-load-") as tmp, stage(tmp, users) as bench:
        workdir = Path(tmp)
        control, tenant_id = bench.fake.control, bench.tenant["tenant_id"]
        everyone = list_member_ids(bench.fake, bench.tenant, bench.tenant["big_group_id"])
        groups = [control.add_group(tenant_id, f"Load sync {n}",
                                    members=tuple(everyone[n * args.group_size:(n + 1) * args.group_size]))["id"]
                  for n in range(args.sync_teams)]
        small = control.add_group(tenant_id, "Load leaders' group", members=tuple(everyone[:50]))
        for kind in args.databases.split(","):
            print(f"[{dt.datetime.now():%H:%M:%S}] {kind}: seeding {args.leaders} teams", flush=True)
            bench.use_database(kind, "entra_load")
            os.environ.update(bench.environment())
            leaders = make_leader_teams(bench, args.leaders, args.members,
                                        {"id": small["id"], "name": "Load leaders' group"})
            sync_team_ids = [make_team(bench, f"Sync {n}", group_id).id for n, group_id in enumerate(groups)]
            print(f"[{dt.datetime.now():%H:%M:%S}] {kind}: {args.leaders} leaders for {args.seconds} s", flush=True)
            results.append(run_load(bench, kind, leaders, sync_team_ids, args, workdir))
            print(render(results[-1:]), flush=True)
            bench.empty_database()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "machine": platform.node(), "cpus": os.cpu_count(), "results": results}, indent=2))
    print(f"\nWritten to {out}")


if __name__ == "__main__":
    main()
