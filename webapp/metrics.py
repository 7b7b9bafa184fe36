"""Run metrics kept in Redis, so that every worker process adds to the same counts, and written out in Prometheus'
text format: runs by result, run duration, time waited in the queue, Graph requests and 429 answers of the runs.

Counters live as long as Redis keeps them: a Redis that restarted empty starts them again at zero, which
Prometheus reads as a counter reset."""
from typing import cast

import redis
from redis.client import Pipeline

KEY = "entra-sync:metrics"
RESULTS = ("succeeded", "needs_review", "failed", "interrupted")
BUCKETS = (1, 5, 15, 60, 300, 900, 3600)
HISTOGRAMS = {
    "duration": ("entra_sync_run_duration_seconds", "How long sync runs took, from start to end."),
    "queue_wait": ("entra_sync_queue_wait_seconds", "How long sync runs waited in the queue for a worker."),
}


def _observe(pipe: Pipeline, name: str, seconds: float) -> None:
    pipe.hincrbyfloat(KEY, f"{name}|sum", seconds)
    pipe.hincrby(KEY, f"{name}|count", 1)
    for bound in BUCKETS:
        if seconds <= bound:
            pipe.hincrby(KEY, f"{name}|le|{bound}", 1)


def record_run(redis: redis.Redis, result: str, duration: float, queue_wait: float, graph_requests: int,
               throttled: int) -> None:
    """Add one ended run to the counts."""
    pipe = redis.pipeline(transaction=False)
    pipe.hincrby(KEY, f"runs|{result}", 1)
    _observe(pipe, "duration", duration)
    _observe(pipe, "queue_wait", queue_wait)
    pipe.hincrby(KEY, "graph_requests", graph_requests)
    pipe.hincrby(KEY, "graph_throttled", throttled)
    pipe.execute()


def _number(value: str | int) -> str:
    return f"{float(value):g}" if "." in str(value) else str(int(value))


def exposition(redis: redis.Redis, gauges: dict[str, tuple[str, int]]) -> str:
    """The metrics page: the counters in Redis, then `gauges` ({name: (help, value)}) as they are now."""
    counters = cast(dict[bytes, bytes], redis.hgetall(KEY))
    stored = {key.decode(): value.decode() for key, value in counters.items()}
    lines = ["# HELP entra_sync_runs_total Sync runs ended, by result.", "# TYPE entra_sync_runs_total counter"]
    lines += [f'entra_sync_runs_total{{result="{result}"}} {stored.get(f"runs|{result}", 0)}' for result in RESULTS]
    for name, (metric, description) in HISTOGRAMS.items():
        lines += [f"# HELP {metric} {description}", f"# TYPE {metric} histogram"]
        lines += [f'{metric}_bucket{{le="{bound}"}} {stored.get(f"{name}|le|{bound}", 0)}' for bound in BUCKETS]
        count = stored.get(f"{name}|count", 0)
        lines += [f'{metric}_bucket{{le="+Inf"}} {count}', f"{metric}_sum {_number(stored.get(f'{name}|sum', 0))}",
                  f"{metric}_count {count}"]
    for metric, key, description in (
            ("entra_sync_graph_requests_total", "graph_requests", "Microsoft Graph requests made by sync runs."),
            ("entra_sync_graph_throttled_total", "graph_throttled",
             "Microsoft Graph requests of sync runs answered 429 (throttled).")):
        lines += [f"# HELP {metric} {description}", f"# TYPE {metric} counter", f"{metric} {stored.get(key, 0)}"]
    for metric, (description, value) in gauges.items():
        lines += [f"# HELP {metric} {description}", f"# TYPE {metric} gauge", f"{metric} {value}"]
    return "\n".join(lines) + "\n"
