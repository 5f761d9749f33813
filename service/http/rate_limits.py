"""Per-credential request rate limits (the ``limits`` library), in memory or in Redis.

With Redis the limit is shared by every replica. If Redis fails, the limiter falls back to
this process's own counts — never to no limit, and never to an error for the request — and
asks Redis again only after ``RETRY_AFTER_S``, so a hanging Redis costs one 0.5 s timeout
per interval, not one per request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from service.http.local_rate_limit import LocalMovingWindow
from service.settings import Settings

log = logging.getLogger("cxgraph.limits")
RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.item = RateLimitItemPerMinute(max(settings.rate_limit_per_minute, 1))
        self.enabled = settings.rate_limit_per_minute > 0
        budget = settings.rate_limit_cost_per_minute
        self.cost_item = RateLimitItemPerMinute(budget) if budget > 0 else None
        self.refused = 0
        self._local = LocalMovingWindow()  # constant time per request (docs/adr/0024)
        self._shared: MovingWindowRateLimiter | None = None
        self._storage: Storage | None = None
        self._pool: aioredis.ConnectionPool | None = None
        if settings.rate_limit_storage == "redis":
            # Our own pool, so that closing the app closes its connections.
            self._pool = aioredis.ConnectionPool.from_url(
                settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
            self._storage = RedisStorage("async+" + settings.redis_url, implementation="redispy",
                                         connection_pool=self._pool)  # type: ignore[arg-type]  # fmt: skip
            self._shared = MovingWindowRateLimiter(self._storage)
        self._failing = False
        self._failed_at = 0.0

    def _skipping(self) -> bool:
        """Redis just failed: count per process for RETRY_AFTER_S before asking it again."""
        return self._failing and time.monotonic() - self._failed_at < RETRY_AFTER_S

    async def hit(self, credential_id: str) -> Verdict:
        """One request of this credential."""
        if not self.enabled:
            return Verdict(True)
        return await self._take(self.item, credential_id, 1)

    async def spend(self, credential_id: str, cost: int) -> Verdict:
        """A query's cost out of this credential's budget per minute."""
        if self.cost_item is None or cost <= 0:
            return Verdict(True)
        return await self._take(self.cost_item, f"cost:{credential_id}", cost)

    async def _take(self, item: RateLimitItem, key: str, amount: int) -> Verdict:
        limiter: MovingWindowRateLimiter | LocalMovingWindow = self._local
        if self._shared is not None and not self._skipping():
            try:
                allowed = await self._shared.hit(item, key, cost=amount)
                limiter = self._shared
                self._recovered()
            except Exception as exc:  # Redis down: per-process limits
                self._failed(exc)
                allowed = await self._local.hit(item, key, cost=amount)
        else:
            allowed = await self._local.hit(item, key, cost=amount)
        if allowed:
            return Verdict(True)
        self.refused += 1
        try:
            stats = await limiter.get_window_stats(item, key)
            retry = max(1, int(stats.reset_time - _now()) + 1)
        except Exception:
            retry = 60
        return Verdict(False, retry)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    def _failed(self, exc: Exception) -> None:
        self._failed_at = time.monotonic()
        if not self._failing:
            log.warning("rate-limit storage unavailable, limiting per process: %r", exc)
            self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("rate-limit storage available again")
            self._failing = False


def _now() -> float:
    return time.time()
