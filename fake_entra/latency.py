"""How long Graph takes to answer: a delay per request plus a cost per object returned (off unless set)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field


@dataclass
class Latency:
    """Seconds every Graph answer waits before it is sent: `request` once, plus `per_object` for each object in
    it (each entry of a listing's `value`, else one). Answers wait outside the directory's lock, so requests in
    flight at once overlap as they do at Microsoft."""

    request: float = 0.0
    per_object: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, request: float = 0.0, per_object: float = 0.0) -> dict:
        """Set the model; zeros turn it off."""
        if not (0 <= request <= 60 and 0 <= per_object <= 1):
            raise ValueError("latency must be 0-60 seconds a request and 0-1 second an object")
        with self.lock:
            self.request, self.per_object = float(request), float(per_object)
        return self.as_dict()

    def as_dict(self) -> dict:
        """JSON view for the control API."""
        return {"request": self.request, "per_object": self.per_object}

    def delay(self, body: bytes, is_json: bool) -> float:
        """Seconds to wait before sending this answer."""
        if not self.request and not self.per_object:
            return 0.0
        objects = 1
        if self.per_object and is_json:
            value = json.loads(body).get("value")
            objects = len(value) if isinstance(value, list) else 1
        return self.request + self.per_object * objects
