"""`python -m bench`: seed fake_entra, run every scenario on SQLite and PostgreSQL, print one table."""
import argparse
import datetime as dt
import os
import platform
import sqlite3
import tempfile
from pathlib import Path

import psycopg2

from bench import scenarios
from bench.auto_round import platform_rounds
from bench.floors import list_member_ids
from bench.report import merged, render, write_json
from bench.stage import POSTGRES_URL, stage

ROOT = Path(__file__).resolve().parent.parent
AUTO_TEAMS, AUTO_MEMBERS = 200, 500


# The latency model: Microsoft answers a 999-user page in hundreds of milliseconds (fake_entra alone in about 10).
LATENCY_REQUEST, LATENCY_PER_OBJECT = 0.1, 0.0002


def run_sizes(bench, kind, sizes, groups, rows, log, latency=False):
    """Scenarios 1-3 for each size (and, without the latency model, the lists), on an emptied database."""
    control = bench.fake.control
    for size in sizes:
        group_id, member_ids = groups[size]
        bench.empty_database()
        team = scenarios.make_team(bench, f"Bench {size}", group_id)
        label = f"{kind} {size}{' (latency model)' if latency else ''}"
        if latency:
            control.set_latency(LATENCY_REQUEST, LATENCY_PER_OBJECT)
            control.set_throttling()
        try:
            log(f"{label}: first sync")
            rows.append(scenarios.first_sync(bench, kind, size, team, group_id, latency))
            log(f"{label}: second sync, no change")
            rows.append(scenarios.second_sync(bench, kind, size, team, group_id, "2 no change", latency))
            groups[size] = (group_id, scenarios.change_one_percent(bench, group_id, member_ids, size, len(rows)))
            log(f"{label}: second sync after a 1 % change")
            rows.append(scenarios.second_sync(bench, kind, size, team, group_id, "3 1 % changed", latency))
        finally:
            control.set_latency(0, 0)
            control.set_throttling(enabled=False)
        if latency:
            continue
        log(f"{label}: Sync Users list")
        rows.extend(scenarios.sync_users_list(bench, kind, size, team, group_id))
        if size >= 100_000:
            log(f"{label}: Members page")
            rows.extend(scenarios.members_search(bench, kind, size, team))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="group sizes, comma separated")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--auto-teams", type=int, default=AUTO_TEAMS, help="teams in the scheduler round")
    parser.add_argument("--latency", default="off,on", help="the sync scenarios without (off) and/or with (on) "
                                                            "fake_entra's latency model and throttling")
    parser.add_argument("--platform-teams", type=int, default=0,
                        help="scenario 7, Auto Sync at platform scale: this many teams (e.g. 2000; 0: skipped)")
    parser.add_argument("--platform-tenants", type=int, default=20, help="the tenants scenario 7 spreads them over")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of --out of the scenarios this run leaves out, replacing only its own")
    parser.add_argument("--note", default="", help="a line saying how the machine was used meanwhile")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    os.environ["ENTRA_SYNC_ENV"] = "development"  # its processes run on the bench's own keys and services
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = args.databases.split(",")
    users = max(*sizes, args.auto_teams * AUTO_MEMBERS, AUTO_MEMBERS)
    rows = []

    def log(message):
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)

    try:
        run_all(args, sizes, kinds, users, rows, log)
    finally:
        print()
        meta = machine(args.note)
        if args.merge:
            rows, meta = merged(Path(args.out), rows, meta)
        print(render(rows))
        write_json(Path(args.out), rows, meta)
        print(f"\nWritten to {args.out}")


def machine(note):
    """What the numbers ran on."""
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
        with admin.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgresql = cursor.fetchone()[0]
        admin.close()
    except psycopg2.Error:
        postgresql = None
    return {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": platform.node(),
            "cpus": os.cpu_count(), "cpu_model": cpu_model, "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "postgresql": postgresql,
            "load": " ".join(f"{value:.2f}" for value in os.getloadavg()), "note": note}


def run_all(args, sizes, kinds, users, rows, log):
    with tempfile.TemporaryDirectory(prefix="entra-bench-") as workdir, stage(workdir, users) as bench:
        log(f"fake_entra seeded: {users:,} users")
        control, tenant_id = bench.fake.control, bench.tenant["tenant_id"]
        everyone = list_member_ids(bench.fake, bench.tenant, bench.tenant["big_group_id"])
        groups = {size: (control.add_group(tenant_id, f"Bench {size}", members=tuple(everyone[:size]))["id"],
                         everyone[:size]) for size in sizes}
        auto_groups = [control.add_group(tenant_id, f"Auto {n}",
                                         members=tuple(everyone[n * AUTO_MEMBERS:(n + 1) * AUTO_MEMBERS]))["id"]
                       for n in range(args.auto_teams)]
        for kind in kinds:
            bench.use_database(kind)
            os.environ.update(bench.environment())
            for mode in filter(None, args.latency.split(",")):
                run_sizes(bench, kind, sizes, groups, rows, log, latency=mode == "on")
            bench.empty_database()
            if auto_groups:
                log(f"{kind}: scheduler round of {args.auto_teams} teams")
                rows.extend(scenarios.scheduler_round(bench, kind, auto_groups, AUTO_MEMBERS))
            if args.platform_teams:
                bench.empty_database()
                log(f"{kind}: Auto Sync of {args.platform_teams} teams over {args.platform_tenants} tenants")
                rows.extend(platform_rounds(bench, kind, args.platform_teams, args.platform_tenants, log))


if __name__ == "__main__":
    main()
