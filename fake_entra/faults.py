"""Injected faults (throttling, outages, slow or failing pages) and request counts."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

FAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
               503: "ServiceUnavailable", 504: "GatewayTimeout"}


@dataclass
class Fault:
    """One rule: for the next `count` matching calls, wait `delay` and/or answer `status`; or answer normally but
    end the listing there (`truncate`: the page comes without its `@odata.nextLink`) or report an `@odata.count`
    off by `count_offset`, the faults a client can only catch by checking the count."""

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    count: int | None = 1
    path: str | None = None
    method: str | None = None
    page: int | None = None
    truncate: bool = False
    count_offset: int = 0
    hits: int = 0

    def applies(self, method: str, path: str, page: int) -> bool:
        """Whether this rule matches a request and still has uses left."""
        return ((self.count is None or self.hits < self.count)
                and (self.path is None or self.path in path)
                and (self.method is None or self.method.upper() == method)
                and (self.page is None or self.page == page))

    def as_dict(self) -> dict:
        """JSON view for the control API."""
        return {"status": self.status, "retry_after": self.retry_after, "delay": self.delay,
                "count": self.count, "path": self.path, "method": self.method, "page": self.page,
                "truncate": self.truncate, "count_offset": self.count_offset, "hits": self.hits}

    def alter(self, body: dict) -> dict:
        """A listing page as this fault changes it."""
        if self.truncate:
            body.pop("@odata.nextLink", None)
        if self.count_offset and "@odata.count" in body:
            body["@odata.count"] += self.count_offset
        return body


def retry_after_header(seconds: float) -> str:
    """Retry-After as Graph writes it: whole seconds as an integer, else a decimal."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@dataclass
class FaultBook:
    """The active fault rules and per-endpoint request counts."""

    faults: list[Fault] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        """Arm a fault rule; earlier rules win when several match."""
        with self.lock:
            self.faults.append(fault)

    def take(self, method: str, path: str, page: int) -> Fault | None:
        """Use up the first rule matching a request."""
        with self.lock:
            for fault in self.faults:
                if fault.applies(method, path, page):
                    fault.hits += 1
                    return fault
        return None

    def count(self, key: str) -> None:
        """Count one request under its endpoint key."""
        with self.lock:
            self.counts[key] += 1

    def snapshot(self) -> dict:
        """Counts and rules as JSON."""
        with self.lock:
            return {"counts": dict(self.counts), "faults": [f.as_dict() for f in self.faults]}

    def clear_faults(self) -> None:
        """Disarm every fault rule."""
        with self.lock:
            self.faults.clear()

    def clear_counts(self) -> None:
        """Start counting from zero."""
        with self.lock:
            self.counts.clear()
