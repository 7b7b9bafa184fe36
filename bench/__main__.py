"""`python -m bench`: seed fake_entra, run every scenario on SQLite and PostgreSQL, print one table."""
import argparse
import datetime as dt
import os
import platform
import tempfile
from pathlib import Path

from bench import scenarios
from bench.floors import list_member_ids
from bench.report import render, write_json
from bench.stage import stage

ROOT = Path(__file__).resolve().parent.parent
AUTO_TEAMS, AUTO_MEMBERS = 200, 500


def run_sizes(bench, kind, sizes, groups, rows, log):
    for size in sizes:
        group_id, member_ids = groups[size]
        bench.empty_database()
        team = scenarios.make_team(bench, f"Bench {size}", group_id)
        log(f"{kind} {size}: first sync")
        rows.append(scenarios.first_sync(bench, kind, size, team, group_id))
        log(f"{kind} {size}: second sync, no change")
        rows.append(scenarios.second_sync(bench, kind, size, team, group_id, "2 no change"))
        groups[size] = (group_id, scenarios.change_one_percent(bench, group_id, member_ids, size, len(rows)))
        log(f"{kind} {size}: second sync after a 1 % change")
        rows.append(scenarios.second_sync(bench, kind, size, team, group_id, "3 1 % changed"))
        log(f"{kind} {size}: Sync Users list")
        rows.extend(scenarios.sync_users_list(bench, kind, size, team, group_id))
        if size >= 100_000:
            log(f"{kind} {size}: Members page")
            rows.extend(scenarios.members_search(bench, kind, size, team))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="group sizes, comma separated")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--auto-teams", type=int, default=AUTO_TEAMS, help="teams in the scheduler round")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    os.environ["ENTRA_SYNC_ENV"] = "development"  # its processes run on the bench's own keys and services
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.databases.split(",")
    users = max(max(sizes), args.auto_teams * AUTO_MEMBERS)
    rows = []

    def log(message):
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)

    try:
        run_all(args, sizes, kinds, users, rows, log)
    finally:
        print()
        print(render(rows))
        meta = {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "machine": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()}
        write_json(Path(args.out), rows, meta)
        print(f"\nWritten to {args.out}")


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
            run_sizes(bench, kind, sizes, groups, rows, log)
            bench.empty_database()
            log(f"{kind}: scheduler round of {args.auto_teams} teams")
            if auto_groups:
                rows.extend(scenarios.scheduler_round(bench, kind, auto_groups, AUTO_MEMBERS))


if __name__ == "__main__":
    main()
