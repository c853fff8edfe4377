"""Counting what one phone did lately, in memory, bounded.

For refusals that cost the box work (a voice note that had to be parsed to be
refused): after a few, the same phone's next uploads are turned away before any
parsing. In memory on purpose: a restart forgives, and nothing is written to the SD
card per refused request.
"""

from __future__ import annotations

import threading
import time


class Recent:
    """Events per key within ``window`` seconds; at most ``max_keys`` keys are kept
    (the oldest forgotten first), so a flood of addresses cannot grow it."""

    def __init__(self, window: float, limit: int, max_keys: int = 4096) -> None:
        self.window, self.limit, self.max_keys = window, limit, max_keys
        self._events: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._events.get(key, []) if now - t < self.window]

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.limit

    def note(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            events = self._recent(key, now) + [now]
            self._events.pop(key, None)
            self._events[key] = events[-self.limit :]
            while len(self._events) > self.max_keys:
                self._events.pop(next(iter(self._events)))


# Refused voice notes per phone address (appliance.server refuses that phone's next
# large bodies unread; captive_portal.board counts and checks them). Kept on the app.
REFUSALS_ALLOWED = 3
REFUSAL_WINDOW_S = 600.0


def upload_refusals(app) -> Recent:
    """The app's count of refused uploads per phone address (memory only)."""
    return app.extensions.setdefault(
        "espace.upload_refusals", Recent(REFUSAL_WINDOW_S, REFUSALS_ALLOWED)
    )
