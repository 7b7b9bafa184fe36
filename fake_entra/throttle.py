"""Graph's resource-unit budgets (Microsoft's identity and access throttling limits): one per app and tenant, by
the tenant's size, every 10 seconds, and one per app across all tenants every 20 seconds; off unless turned on."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field


def tenant_limit(user_count: int) -> int:
    """Resource units per window for a tenant of this size."""
    if user_count < 50:
        return 3500
    if user_count <= 500:
        return 5000
    return 8000


APP_LIMIT, APP_WINDOW = 150_000, 20.0  # resource units per app across all tenants


def _wait(history, used: int, cost: int, limit: int, window: float, now: float) -> float:
    """Seconds until enough of the window's spending has aged out for `cost` to fit."""
    freed = 0
    for stamp, units in history:
        freed += units
        if used - freed + cost <= limit:
            return stamp + window - now
    return window


def _age(history, window: float, now: float) -> int:
    """Drop what left the window; the units still in it."""
    while history and history[0][0] <= now - window:
        history.popleft()
    return sum(units for _, units in history)


@dataclass
class Verdict:
    """What one charge decided: `wait` seconds (None when the request may go on), the share of the app and
    tenant budget used (percent) and, when throttled, the scope that said no (Tenant_Application or Application)."""

    wait: float | None
    used: float
    scope: str = ""


@dataclass
class Throttle:
    """Sliding windows of spent resource units per (app, tenant) and per app."""

    enabled: bool = False
    limit: int | None = None
    window: float = 10.0
    app_limit: int = APP_LIMIT
    spent: dict[tuple[str, str], deque] = field(default_factory=dict)
    app_spent: dict[str, deque] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, enabled: bool, limit: int | None = None, window: float = 10.0,
                  app_limit: int | None = None) -> dict:
        """Turn the budgets on or off; limit None means Microsoft's size-based limit for the app and tenant,
        app_limit None Microsoft's per-app limit."""
        with self.lock:
            self.enabled, self.limit, self.window = enabled, limit, window
            self.app_limit = app_limit or APP_LIMIT
            self.spent.clear()
            self.app_spent.clear()
        return {"enabled": enabled, "limit": limit, "window": window, "app_limit": self.app_limit}

    def charge(self, app_id: str, tenant_id: str, user_count: int, cost: int) -> Verdict:
        """Spend units, or say how long to wait when a budget has no room for them."""
        if not self.enabled:
            return Verdict(None, 0.0)
        limit = self.limit or tenant_limit(user_count)
        now = time.monotonic()
        with self.lock:
            history = self.spent.setdefault((app_id, tenant_id), deque())
            app_history = self.app_spent.setdefault(app_id, deque())
            used = _age(history, self.window, now)
            app_used = _age(app_history, APP_WINDOW, now)
            share = 100.0 * used / limit
            if used + cost > limit:
                wait, scope = _wait(history, used, cost, limit, self.window, now), "Tenant_Application"
            elif app_used + cost > self.app_limit:
                wait, scope = _wait(app_history, app_used, cost, self.app_limit, APP_WINDOW, now), "Application"
            else:
                history.append((now, cost))
                app_history.append((now, cost))
                return Verdict(None, 100.0 * (used + cost) / limit)
            return Verdict(max(math.ceil(wait * 1000) / 1000, 0.001), share, scope)
