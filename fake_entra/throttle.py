"""Graph's resource-unit budget per app and tenant (Microsoft's identity and access throttling limits), off unless a test turns it on."""

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


@dataclass
class Throttle:
    """A sliding window of spent resource units per (app, tenant)."""

    enabled: bool = False
    limit: int | None = None
    window: float = 10.0
    spent: dict[tuple[str, str], deque] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, enabled: bool, limit: int | None = None, window: float = 10.0) -> dict:
        """Turn the budget on or off; limit None means Microsoft's size-based limit."""
        with self.lock:
            self.enabled, self.limit, self.window = enabled, limit, window
            self.spent.clear()
        return {"enabled": enabled, "limit": limit, "window": window}

    def charge(self, app_id: str, tenant_id: str, user_count: int, cost: int) -> tuple[float | None, float]:
        """Spend units: (seconds to wait when over budget else None, percentage of the budget used)."""
        if not self.enabled:
            return None, 0.0
        limit = self.limit or tenant_limit(user_count)
        now = time.monotonic()
        with self.lock:
            history = self.spent.setdefault((app_id, tenant_id), deque())
            while history and history[0][0] <= now - self.window:
                history.popleft()
            used = sum(units for _, units in history)
            if used + cost > limit:
                freed, wait = 0, self.window
                for stamp, units in history:
                    freed += units
                    if used - freed + cost <= limit:
                        wait = stamp + self.window - now
                        break
                return max(math.ceil(wait * 1000) / 1000, 0.001), 100.0 * used / limit
            history.append((now, cost))
            return None, 100.0 * (used + cost) / limit
