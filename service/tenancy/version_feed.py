"""Each tenant's data version, held in memory so a cached answer needs no database round
trip. A version is re-read when it is older than ``CX_VERSION_STALENESS_MS`` (another
replica's writes are seen within that bound); a write through this replica tells it the
version it produced (``observe``), so its own writes are seen by the next request."""

from __future__ import annotations

import time
from collections.abc import Callable

from service.store import tenants
from service.store.client import Mongo


class VersionFeed:
    def __init__(self, mongo: Mongo, staleness_ms: int) -> None:
        self.mongo = mongo
        self.staleness_s = staleness_ms / 1000
        self._known: dict[str, tuple[float, int]] = {}
        self.reads = 0  # database reads, for /metrics and tests
        # Told how old each version it answers is (/metrics: cx_version_feed_lag_seconds).
        self.on_served: Callable[[float], None] | None = None

    async def get(self, tenant: str, at_least: int | None = None) -> int:
        held = self.known(tenant, at_least)
        if held is not None:
            return held
        now = time.monotonic()
        self.reads += 1
        version = await tenants.data_version(self.mongo, tenant)
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[tenant] = (now, version)
        if self.on_served is not None:
            self.on_served(0.0)
        return version

    def known(self, tenant: str, at_least: int | None = None) -> int | None:
        """What ``get`` would answer without reading the database; None where it would."""
        found = self._known.get(tenant)
        if found is None:
            return None
        age = time.monotonic() - found[0]
        if age >= self.staleness_s or (at_least is not None and found[1] < at_least):
            return None
        if self.on_served is not None:
            self.on_served(age)
        return found[1]

    def observe(self, tenant: str, version: int) -> int:
        """A version this replica's own write just produced: known at once."""
        found = self._known.get(tenant)
        if found is None or found[1] <= version:
            self._known[tenant] = (time.monotonic(), version)
        return version
