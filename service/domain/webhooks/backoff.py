"""When a failed delivery is tried again: exponential backoff with jitter."""

from __future__ import annotations

import random


def retry_delay(
    failed_attempts: int,
    base_s: float,
    max_s: float,
    rng: random.Random | None = None,
    retry_after_s: float | None = None,
) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure (1 for the first).

    The ceiling doubles each time from ``base_s`` up to ``max_s``; the wait is half the
    ceiling plus a uniform random part of the other half ("equal jitter"), so waits keep
    growing while replicas and receivers that failed together spread out. A receiver's
    ``Retry-After`` (429, 503) is honoured up to ``max_s``.
    """
    rng = rng or random.Random()
    exponent = min(max(failed_attempts - 1, 0), 62)
    ceiling = min(max_s, base_s * 2.0**exponent)
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, max_s))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is ignored: backoff applies)."""
    if value is None:
        return None
    value = value.strip()
    return float(value) if value.isdigit() else None
