"""Metric result cache: aiocache (memory or Redis) behind keys we build ourselves.

Keys are ``cx:v{SCHEMA}:{tenant}:{query hash}:d{dataVersion}``: a write bumps the tenant's
data version, so no entry is ever invalidated, only left to expire. Values are wrapped in a
tuple because aiocache reads None as a miss. Concurrent identical misses compute once
(single-flight, per process). A cache that fails (Redis down) is skipped: the request is
computed without it, the failure is logged once and counted for /metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiocache import Cache
from aiocache.serializers import PickleSerializer

from service.settings import Settings

SCHEMA_VERSION = 1
log = logging.getLogger("cxgraph.cache")
T = TypeVar("T")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0


def build_backend(settings: Settings) -> Any:
    if settings.cache_backend == "none":
        return None
    if settings.cache_backend == "redis":
        url = urlparse(settings.redis_url)  # aiocache's from_url takes no serializer
        return Cache(
            Cache.REDIS,
            endpoint=url.hostname or "127.0.0.1",
            port=url.port or 6379,
            db=int(url.path.lstrip("/") or 0),
            password=url.password,
            serializer=PickleSerializer(),
            timeout=0.5,
            create_connection_timeout=0.5,
        )
    return Cache(Cache.MEMORY, serializer=PickleSerializer())


class MetricCache:
    def __init__(self, backend: Any, ttl_s: int) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._failing = False

    @staticmethod
    def key(tenant: str, data_version: int, query: dict[str, Any]) -> str:
        canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        return f"cx:v{SCHEMA_VERSION}:{tenant}:{digest}:d{data_version}"

    async def get_or_compute(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        found = await self._get(key)
        if found is not None:
            self.stats.hits += 1
            value: T = found[0]
            return value
        inflight = self._inflight.get(key)
        if inflight is not None:
            try:
                shared: T = await asyncio.shield(inflight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if inflight.cancelled() and not (task and task.cancelling()):
                    # The request computing it went away, not this one: compute it here.
                    return await self.get_or_compute(key, compute)
                raise
            return shared
        self.stats.misses += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await compute()
        except asyncio.CancelledError:
            future.cancel()  # waiters see a cancelled future and compute for themselves
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a lone failure is not reported twice
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(result)
        await self._set(key, result)
        return result

    async def _get(self, key: str) -> tuple[Any] | None:
        if self.backend is None:
            return None
        try:
            found: tuple[Any] | None = await self.backend.get(key)
        except Exception as exc:
            self._failed(exc)
            return None
        self._recovered()
        return found

    async def _set(self, key: str, value: Any) -> None:
        if self.backend is None:
            return
        try:
            await self.backend.set(key, (value,), ttl=self.ttl_s)
        except Exception as exc:
            self._failed(exc)
        else:
            self._recovered()

    def _failed(self, exc: Exception) -> None:
        self.stats.errors += 1
        if not self._failing:
            log.warning("metric cache unavailable, computing without it: %r", exc)
            self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("metric cache available again")
            self._failing = False

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()
