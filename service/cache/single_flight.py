"""Identical metric-cache misses on several replicas compute once: a short Redis lock.

Within a process, :class:`service.cache.MetricCache` already lets one request compute and
the identical ones wait for it. Across replicas (``CX_CACHE_BACKEND=redis``) that one
request first takes ``{key}:lock`` with ``SET NX PX`` (``CX_SINGLE_FLIGHT_TIMEOUT_MS``):

- it got the lock: it looks in the cache once more (another replica may have stored the
  answer a moment ago), computes, stores the answer, and only then lets the lock go, so a
  replica that takes the lock after it finds the answer;
- it did not: it polls the cache for the answer (10 ms, growing to 100 ms) and tries the
  lock again each time (a holder that failed let it go; a holder that died lets it lapse);
  after the timeout it computes by itself.

Never an error: a Redis that fails (before, during or after) makes the request compute on
its own, as without Redis. The lock only saves work; the answer is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("cxgraph.cache")
T = TypeVar("T")
FIRST_POLL_S = 0.01
LAST_POLL_S = 0.1
RETRY_AFTER_S = 1.0  # a Redis that failed is left alone this long
# Deletes the lock only if it is still ours: a lock that lapsed may be another's now.
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


@dataclass
class FlightStats:
    process_waits: int = 0  # identical misses that waited for this process's computation
    replica_waits: int = 0  # misses that waited for another replica's lock
    shared: int = 0  # of those, answered by the result another replica stored
    lock_timeouts: int = 0  # waited the whole timeout, then computed by themselves


class ReplicaLock:
    def __init__(self, redis_url: str, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.client = aioredis.Redis.from_url(
            redis_url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        self._failed_at: float | None = None

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000

    async def acquire(self, name: str, token: str) -> bool | None:
        """True: ours; False: another holds it; None: Redis did not answer."""
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER_S:
            return None
        try:
            got = await self.client.set(name, token, nx=True, px=self.timeout_ms)
        except (RedisError, OSError) as exc:
            if self._failed_at is None:
                log.warning("single-flight lock unavailable, computing without it: %r", exc)
            self._failed_at = time.monotonic()
            return None
        self._failed_at = None
        return bool(got)

    async def release(self, name: str, token: str) -> None:
        with contextlib.suppress(RedisError, OSError):  # else it lapses by itself
            await self.client.eval(RELEASE, 1, name, token)

    async def close(self) -> None:
        await self.client.aclose()


async def once_across_replicas(
    lock: ReplicaLock,
    key: str,
    compute: Callable[[], Awaitable[T]],
    lookup: Callable[[str], Awaitable[tuple[Any] | None]],
    store: Callable[[str, Any], Awaitable[None]],
    failing: Callable[[], bool],
    stats: FlightStats,
) -> T:
    """``compute`` and ``store`` the answer under ``key`` once across replicas (see above)."""
    name, token = f"{key}:lock", uuid.uuid4().hex
    deadline = time.monotonic() + lock.timeout_s
    poll, waited = FIRST_POLL_S, False
    while True:
        got = await lock.acquire(name, token)
        if got is None:
            break
        if got:
            try:
                found = await lookup(key)
                if found is not None:  # stored by another replica a moment ago
                    stats.shared += 1
                    value: T = found[0]
                    return value
                return await _compute_and_store(key, compute, store)
            finally:
                await lock.release(name, token)
        if not waited:
            waited = True
            stats.replica_waits += 1
        left = deadline - time.monotonic()
        if left <= 0:
            stats.lock_timeouts += 1
            break
        await asyncio.sleep(min(poll, left))
        poll = min(poll * 1.5, LAST_POLL_S)
        found = await lookup(key)
        if found is not None:
            stats.shared += 1
            shared: T = found[0]
            return shared
        if failing():
            break
    return await _compute_and_store(key, compute, store)


async def _compute_and_store(
    key: str, compute: Callable[[], Awaitable[T]], store: Callable[[str, Any], Awaitable[None]]
) -> T:
    result = await compute()
    await store(key, result)
    return result
