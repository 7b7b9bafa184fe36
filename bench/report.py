"""The benchmark's table and its verdicts against the targets of the benchmark issue."""
import json

SYNC_COLUMNS = ("scenario", "database", "size", "seconds", "floor_seconds", "ratio", "graph_requests",
                "peak_rss_mb", "notes")
LIST_COLUMNS = ("scenario", "database", "size", "median_ms", "p95_ms", "largest_kb")


def _table(rows, columns):
    cells = [[("" if row.get(c) is None else str(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells]
    return "\n".join(lines)


def verdicts(rows):
    """Each target of the issue with the measured figure and whether it is met."""
    found = []
    by_key = {(r["scenario"], r["database"], r["size"]): r for r in rows}
    for row in rows:
        name = row["scenario"]
        if name.startswith("1 "):
            found.append((f"1 <= 1.5 x floors ({row['database']}, {row['size']})", row["ratio"], row["ratio"] <= 1.5))
            expected = -(-row["size"] // 999)
            found.append((f"1 member requests = ceil(N/999) = {expected} ({row['database']}, {row['size']})",
                          row.get("member_requests", row["graph_requests"]),
                          row.get("member_requests", row["graph_requests"]) <= expected))
        elif name.startswith(("2 ", "3 ")):
            found.append((f"{name[0]} <= 1.2 x fetch floor ({row['database']}, {row['size']})", row["ratio"],
                          row["ratio"] <= 1.2))
            if name.startswith("2 "):
                found.append((f"2 Graph requests <= 5 with delta queries ({row['database']}, {row['size']})",
                              row["graph_requests"], row["graph_requests"] <= 5))
        elif name.startswith(("4 ", "5 ")):
            found.append((f"{name} p95 <= 50 ms ({row['database']}, {row['size']})", row["p95_ms"], row["p95_ms"] <= 50))
            found.append((f"{name} <= 200 KB ({row['database']}, {row['size']})", row["largest_kb"],
                          row["largest_kb"] <= 200))
        elif name.startswith("6 "):
            found.append((f"6 one round <= 60 s ({row['database']})", row["seconds"], row["seconds"] <= 60))
        if row.get("peak_rss_mb") and row["size"] >= 100_000 and not name.startswith("6 "):
            found.append((f"{name[0]} worker RSS <= 300 MB ({row['database']})", row["peak_rss_mb"],
                          row["peak_rss_mb"] <= 300))
    for (name, database, size), row in by_key.items():
        small = by_key.get((name, database, size // 10))
        if name.startswith("1 ") and size >= 100_000 and small:
            ratio = (row["seconds"] / size) / (small["seconds"] / small["size"])
            found.append((f"1 per-member cost 100k vs 10k <= 1.3 ({database})", round(ratio, 2), ratio <= 1.3))
    return found


def render(rows):
    syncs = [r for r in rows if "seconds" in r]
    lists = [r for r in rows if "median_ms" in r]
    checks = verdicts(rows)
    lines = [_table(syncs, SYNC_COLUMNS), "", _table(lists, LIST_COLUMNS), "", "Targets:"]
    lines += [f"  {'met   ' if ok else 'MISSED'} {name}: {value}" for name, value, ok in checks]
    return "\n".join(lines)


def write_json(path, rows, meta):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": rows,
                                "targets": [{"target": n, "measured": v, "met": ok} for n, v, ok in verdicts(rows)]},
                               indent=2))
