"""What this replica knows of its subscriptions: how many each credential holds (bounded by
``CX_SUBSCRIPTIONS_PER_KEY``) and each subscribed tenant's data version.

Versions come from the replica's one feed (service/tenancy/version_feed.py, docs/adr/0014): a tick
asks it for each tenant that has a subscriber. The feed answers from memory while its copy is
younger than ``CX_VERSION_STALENESS_MS`` and re-reads the tenant from MongoDB otherwise, so a
write through this replica is seen at the next tick and a write through any other replica
sharing the database within the staleness bound, at one database read per subscribed tenant
per staleness interval, however many subscribers it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry, Counter, Gauge

from service.domain.errors import CxError
from service.tenancy.version_feed import VersionFeed

log = logging.getLogger("cxgraph.live")

MIN_TICK_S = 0.05
MAX_TICK_S = 0.25


class TooManySubscriptions(CxError):
    code = "TOO_MANY_SUBSCRIPTIONS"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this credential already holds {limit} subscriptions on this server "
            "(CX_SUBSCRIPTIONS_PER_KEY): complete one before starting another",
            limit=limit,
        )


class TenantVersion:
    """A tenant's latest data version as the hub saw it, and a way to wait for a newer one."""

    def __init__(self) -> None:
        self.version = -1
        self.subscribers = 0
        self._changed = asyncio.Event()

    def advance(self, version: int) -> None:
        if version > self.version:
            self.version = version
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def beyond(self, version: int) -> int:
        """Wait until a version above ``version`` is seen; return it."""
        while self.version <= version:
            await self._changed.wait()
        return self.version

    async def next_change(self, timeout_s: float) -> bool:
        """Whether the version moves again within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True


class LiveHub:
    def __init__(self, per_key: int, registry: CollectorRegistry | None = None) -> None:
        self.per_key = per_key
        self.held: dict[str, int] = {}  # credential id -> open subscriptions
        self.tenants: dict[str, TenantVersion] = {}
        self.versions: VersionFeed | None = None
        self.tick_s = MAX_TICK_S
        self._ticker: asyncio.Task[None] | None = None
        self._failing = False
        registry = registry if registry is not None else CollectorRegistry()  # tests: own
        Gauge("cx_subscriptions_active", "Open metric subscriptions on this replica.",
              registry=registry).set_function(lambda: self.active)  # fmt: skip
        self.refused = Counter(
            "cx_subscriptions_refused",
            "Subscriptions refused because their credential held CX_SUBSCRIPTIONS_PER_KEY.",
            registry=registry,
        )
        self.updates = Counter(
            "cx_subscription_messages",
            "Answers sent to subscribers (first answers and updates).",
            registry=registry,
        )

    @property
    def active(self) -> int:
        return sum(self.held.values())

    def start(self, versions: VersionFeed) -> None:
        """At app start: the replica's feed; a tick a quarter of its staleness bound."""
        self.versions = versions
        self.tick_s = min(MAX_TICK_S, max(MIN_TICK_S, versions.staleness_s / 4))

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    @contextlib.asynccontextmanager
    async def subscription(self, credential_id: str, tenant: str) -> AsyncIterator[TenantVersion]:
        """One open subscription: counted against its credential while the block runs."""
        if self.held.get(credential_id, 0) >= self.per_key:
            self.refused.inc()
            raise TooManySubscriptions(self.per_key)
        self.held[credential_id] = self.held.get(credential_id, 0) + 1
        watched = self.tenants.get(tenant)
        if watched is None:
            watched = self.tenants[tenant] = TenantVersion()
        watched.subscribers += 1
        self._ensure_ticking()
        try:
            yield watched
        finally:
            watched.subscribers -= 1
            if watched.subscribers == 0 and self.tenants.get(tenant) is watched:
                del self.tenants[tenant]
            left = self.held[credential_id] - 1
            if left:
                self.held[credential_id] = left
            else:
                del self.held[credential_id]

    def sent(self) -> None:
        self.updates.inc()

    def _ensure_ticking(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick_while_watched())

    async def _tick_while_watched(self) -> None:
        while self.tenants:
            await self.check_once()
            await asyncio.sleep(self.tick_s)
        self._ticker = None

    async def check_once(self) -> None:
        """Ask the feed for every subscribed tenant's version (from memory while fresh)."""
        if self.versions is None:
            return
        watched = list(self.tenants.items())
        found = await asyncio.gather(*(self.versions.get(t) for t, _ in watched),
                                     return_exceptions=True)  # fmt: skip
        failed = [f for f in found if isinstance(f, BaseException)]
        if failed and not self._failing:  # once per outage, not once per tick
            log.warning("reading data versions for subscriptions failed: %s", failed[0])
        self._failing = bool(failed)
        for (_, tv), version in zip(watched, found, strict=True):
            if isinstance(version, int):
                tv.advance(version)
