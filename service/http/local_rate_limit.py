"""A moving-window rate limit in this process's memory, in constant time per request.

The ``limits`` library's in-memory moving window inserts every request at the front of a
list holding the whole window (a copy of up to ``limit`` entries each time) and sorts out
expired entries in a thread per key: under load that was a sixth of a cached answer's cost
and grows with the limit (docs/adr/0024). The rule is the same here — a request of cost
``c`` is allowed when the units allowed in the last 60 s plus ``c`` stay within the limit —
kept as a queue of (time, units) with a running total. Requests within ``MERGE_S`` of each
other share one entry stamped with the later time: a unit then leaves the window at most
``MERGE_S`` late, never early, so the limit is never exceeded.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from limits import RateLimitItem

MERGE_S = 0.01


@dataclass
class _Window:
    entries: deque[list[float]] = field(default_factory=deque)  # [monotonic time, units]
    total: float = 0


@dataclass(frozen=True)
class WindowStats:
    reset_time: float  # epoch seconds when enough units have left for one more request
    remaining: int


class LocalMovingWindow:
    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def _expired(self, key: str, seconds: float, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        entries = window.entries
        while entries and entries[0][0] <= now - seconds:
            window.total -= entries.popleft()[1]
        return window

    async def hit(self, item: RateLimitItem, key: str, cost: int = 1) -> bool:
        now = time.monotonic()
        seconds = item.get_expiry()
        window = self._expired(key, seconds, now)
        if window.total + cost > item.amount:
            return False
        last = window.entries[-1] if window.entries else None
        if last is not None and now - last[0] < MERGE_S:
            last[0], last[1] = now, last[1] + cost
        else:
            window.entries.append([now, cost])
        window.total += cost
        if len(self._windows) > 100_000:  # bounded: drop idle credentials
            for idle in [k for k, w in self._windows.items() if not w.entries]:
                del self._windows[idle]
        return True

    async def get_window_stats(self, item: RateLimitItem, key: str) -> WindowStats:
        now = time.monotonic()
        seconds = item.get_expiry()
        window = self._expired(key, seconds, now)
        remaining = int(item.amount - window.total)
        if remaining > 0 or not window.entries:
            return WindowStats(time.time(), max(remaining, 0))
        # The earliest moment a unit is free again: when the oldest entry leaves.
        return WindowStats(time.time() + window.entries[0][0] + seconds - now, 0)
