"""Each tenant's data version, held in memory so a cached answer needs no database round
trip, and never older than ``CX_VERSION_STALENESS_MS``.

- A write through this replica tells it the version it produced (``observe``): its own
  writes are seen by the next request.
- Others' writes arrive through a change stream on the tenants collection (``start``;
  docs/adr/0026): while the stream is open and has confirmed within the bound that nothing
  else changed, a version read after it opened stays current without being read again.
- Without change streams (a standalone mongod, ``CX_VERSION_FEED=poll``, or while the
  stream is down) a version older than the bound is read again: polling on read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from service.store import tenant_changes, tenants
from service.store.client import Mongo

log = logging.getLogger("cxgraph.versions")
RETRY_MAX_S = 30.0


class VersionFeed:
    def __init__(self, mongo: Mongo, staleness_ms: int) -> None:
        self.mongo = mongo
        self.staleness_s = staleness_ms / 1000
        self._known: dict[str, tuple[float, int]] = {}
        self.reads = 0  # database reads, for /metrics and tests
        # Told how old each version it answers is (/metrics: cx_version_feed_lag_seconds).
        self.on_served: Callable[[float], None] | None = None
        # Told when a tenant's settings changed (the tenant directory forgets them).
        self.on_settings_changed: Callable[[str], None] | None = None
        # The change stream: versions read at or after ``_followed_since`` are kept current
        # by it, as long as it confirmed less than the bound ago that it had delivered all.
        self._followed_since = math.inf
        self._confirmed_at = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._stream_client: Mongo | None = None
        self.changes = 0  # changes the stream delivered, for /metrics and tests

    @property
    def following(self) -> bool:
        """Whether the change stream keeps versions current right now."""
        return time.monotonic() - self._confirmed_at < self.staleness_s

    def start(self, stream_client: Mongo) -> None:
        """Follow the tenants collection's changes (a background task; ``close`` ends it)
        through ``stream_client``: a client of its own, closed with the feed, so the
        stream's waiting ``getMore`` neither holds a pooled connection nor shows among the
        requests' commands (metrics, traces)."""
        self._stream_client = stream_client
        if self._task is None and self.staleness_s > 0:
            self._task = asyncio.create_task(self._follow(), name="version feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._stream_client is not None:
            await self._stream_client.close()
            self._stream_client = None

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
        if found is None or (at_least is not None and found[1] < at_least):
            return None
        now = time.monotonic()
        age = now - found[0]
        if age >= self.staleness_s:
            confirmed = now - self._confirmed_at
            if found[0] < self._followed_since or confirmed >= self.staleness_s:
                return None  # not followed since it was read: read it again
            age = confirmed  # current as of the stream's last confirmation
        if self.on_served is not None:
            self.on_served(age)
        return found[1]

    def observe(self, tenant: str, version: int) -> int:
        """A version this replica's own write just produced: known at once."""
        found = self._known.get(tenant)
        if found is None or found[1] <= version:
            self._known[tenant] = (time.monotonic(), version)
        return version

    async def _follow(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._follow_stream()
            except tenant_changes.ChangeStreamsUnsupported as exc:
                log.info("no change streams on this database (%s): versions are polled", exc)
                return
            except Exception as exc:
                log.warning("following tenants' changes failed (%r); polling, and trying "
                            "again in %.1f s", exc, delay)  # fmt: skip
            self._followed_since, self._confirmed_at = math.inf, -math.inf
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _follow_stream(self) -> None:
        # Waits at most a quarter of the bound for news, so "nothing more" is confirmed well
        # within it.
        assert self._stream_client is not None
        stream = tenant_changes.follow(self._stream_client, int(self.staleness_s * 250))
        try:
            asked = time.monotonic()
            async for change in stream:
                if change is None:
                    if self._followed_since == math.inf:
                        self._followed_since = time.monotonic()  # after it opened
                        log.info("following tenants' changes: versions are pushed")
                    self._confirmed_at = asked
                else:
                    self._apply(change)
                asked = time.monotonic()
        finally:
            await stream.aclose()

    def _apply(self, change: tenant_changes.TenantChange) -> None:
        self.changes += 1
        if change.data_version is not None:
            self.observe(change.tenant, change.data_version)
        if change.settings_changed and self.on_settings_changed is not None:
            self.on_settings_changed(change.tenant)
