"""Metric result cache: aiocache (memory or Redis) behind keys we build ourselves.

Keys are ``cx:v{SCHEMA}:{tenant}:{query hash}:d{dataVersion}``: a write bumps the tenant's
data version, so no entry is ever invalidated, only left to expire. The hash covers the
query and every setting that changes its answer (given as ``params``). Values are JSON
written by :mod:`service.cache.codec` (never pickle); one that fails to decode is a miss,
counted. The in-memory backend is bounded (``CX_CACHE_MAX_ENTRIES``, least recently used
first out). Concurrent identical misses compute once (single-flight): per process, and
across replicas with a Redis lock when ``flight`` is set (:mod:`.single_flight`). A cache
that fails (Redis down) is skipped: the request is computed without it, the failure is
logged once and counted for /metrics, and the backend is left alone for ``RETRY_AFTER_S``
before it is tried again, so a Redis that hangs adds at most its timeout (0.5 s) to a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiocache import Cache
from aiocache.serializers import BaseSerializer

from service.cache.codec import CODEC_VERSION, Codec, Undecodable
from service.cache.single_flight import FlightStats, ReplicaLock, once_across_replicas
from service.settings import Settings

SCHEMA_VERSION = 2  # 2: values are JSON (cache_codec), keys cover the answer's settings
log = logging.getLogger("cxgraph.cache")
RETRY_AFTER_S = 1.0  # a failed backend is tried again after this long
T = TypeVar("T")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    undecodable: int = 0  # values that were not ours to decode: served as misses
    evictions: int = 0  # entries the bounded memory backend let go


class RawBytes(BaseSerializer):  # type: ignore[misc]
    """Hands values through untouched: the codec, not aiocache, turns them into data."""

    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> Any:
        return value

    def loads(self, value: Any) -> Any:
        return value


class BoundedMemoryCache:
    """A per-process LRU with a TTL per entry, bounded in entries (aiocache's is not)."""

    def __init__(self, max_entries: int, stats: CacheStats | None = None) -> None:
        self.max_entries = max_entries
        self.stats = stats or CacheStats()
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def get(self, key: str) -> Any:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value = found
        if expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, ttl: float) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def __len__(self) -> int:
        return len(self._entries)

    async def close(self) -> None:
        self._entries.clear()


def build_backend(settings: Settings, stats: CacheStats | None = None) -> Any:
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
            serializer=RawBytes(),
            timeout=0.5,
            create_connection_timeout=0.5,
        )
    return BoundedMemoryCache(settings.cache_max_entries, stats)


class MetricCache:
    def __init__(
        self,
        backend: Any,
        ttl_s: int,
        codec: Codec | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.ttl_s = ttl_s
        self.codec = codec or Codec(())
        self.params = params or {}
        self.stats = CacheStats()
        if isinstance(backend, BoundedMemoryCache):
            backend.stats = self.stats
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.flight: ReplicaLock | None = None  # with Redis: once across replicas too
        self.flight_stats = FlightStats()
        self._failing = False
        self._failed_at = 0.0

    def key(self, tenant: str, data_version: int, query: dict[str, Any]) -> str:
        described = {"query": query, "params": self.params, "codec": CODEC_VERSION}
        canonical = json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)
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
            self.flight_stats.process_waits += 1
            try:
                shared: T = await asyncio.shield(inflight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if inflight.cancelled() and not (task and task.cancelling()):
                    # The request computing it went away, not this one: compute it here.
                    return await self.get_or_compute(key, compute)
                raise
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._compute_once(key, compute)
        except asyncio.CancelledError:
            future.cancel()  # waiters see a cancelled future and compute for themselves
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so a lone failure is not reported twice
            raise
        finally:
            self._inflight.pop(key, None)  # only once stored: a later miss finds it
        future.set_result(result)
        return result

    async def _compute_once(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """Compute and store; with a Redis lock, once across replicas."""

        async def counted() -> T:
            self.stats.misses += 1
            return await compute()

        if self.flight is not None and not self._skipping():
            return await once_across_replicas(self.flight, key, counted, self._look_again,
                                              self._set, self._skipping,
                                              self.flight_stats)  # fmt: skip
        result = await counted()
        await self._set(key, result)
        return result

    async def _look_again(self, key: str) -> tuple[Any] | None:
        return await self._get(key, again=True)

    def _skipping(self) -> bool:
        """A backend that just failed is left alone for RETRY_AFTER_S: a Redis that does not
        answer costs one timeout per interval and process, not one per request."""
        if self.backend is None:
            return True
        return self._failing and time.monotonic() - self._failed_at < RETRY_AFTER_S

    async def _get(self, key: str, again: bool = False) -> tuple[Any] | None:
        """The cached value (in a tuple: None is a value), or None. ``again``: a look while
        waiting for another replica, whose undecodable value was counted already."""
        if self._skipping():
            return None
        try:
            blob = await self.backend.get(key)
        except Exception as exc:
            self._failed(exc)
            return None
        self._recovered()
        if blob is None:
            return None
        try:
            return (self.codec.decode(blob),)
        except Undecodable as exc:
            if again:
                return None
            self.stats.undecodable += 1
            log.warning("cached value under %s does not decode (%s): computing it", key, exc)
            return None

    async def _set(self, key: str, value: Any) -> None:
        if self._skipping():
            return
        try:
            blob = self.codec.encode(value)
        except TypeError:  # a type the codec lacks: our bug, but never the request's failure
            self.stats.errors += 1
            log.exception("a metric result under %s cannot be cached", key)
            return
        try:
            await self.backend.set(key, blob, ttl=self.ttl_s)
        except Exception as exc:
            self._failed(exc)
        else:
            self._recovered()

    def _failed(self, exc: Exception) -> None:
        self.stats.errors += 1
        self._failed_at = time.monotonic()
        if not self._failing:
            log.warning("metric cache unavailable, computing without it: %r", exc)
            self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("metric cache available again")
            self._failing = False

    async def close(self) -> None:
        if self.flight is not None:
            await self.flight.close()
        if self.backend is not None:
            await self.backend.close()
