"""Rollups kept warm: the days a write touched are materialised in the background.

The Ingestor tells the warmer which tenant-days a write marked written (after the mark, so
the warmer never reads a state from before it). A day waits ``CX_WARM_DELAY_MS`` for more
writes, then one of ``CX_WARM_CONCURRENCY`` workers materialises it:

- **Coalescing.** Days wait in a set per tenant: a day touched a hundred times while it
  waits is materialised once, and at most once more if it is touched again while that runs.
- **One replica per tenant-day.** A worker takes a lease per day in MongoDB
  (:mod:`service.store.leases`, ``CX_WARM_LEASE_S``); a day another replica holds is tried
  again shortly, and by then it is usually fresh and skipped. Within a process, a day is
  never given to two workers at once.
- **Same protocol as a query.** The state is read after the leases are taken, and only
  days still behind are materialised, under the versions that read named
  (:func:`service.store.rollups.materialize`): a write landing meanwhile leaves the day
  stale for the next run, never double-counted.

Correctness never depends on this: a query that finds a stale day materialises it itself.
A failure is logged and its days dropped; a replica that dies loses its queue (queries and
the next write pick the days up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.domain.errors import CxError
from service.store import leases, rollups
from service.store.client import UNAVAILABLE_ERRORS, Mongo, is_timeout
from service.tenancy.directory import TenantDirectory

log = logging.getLogger("cxgraph.warm")

CHUNK_DAYS = 7  # days one worker materialises in one go (one aggregation)
BUSY_RETRY_S = 0.5  # a day another replica holds is looked at again after this long


@dataclass
class WarmStats:
    days: int = 0  # days materialised in the background
    batches: int = 0  # materialisations (one aggregation over up to CHUNK_DAYS days)
    fresh: int = 0  # days already fresh when their turn came (a query or replica was first)
    lease_busy: int = 0  # days another replica held when this one asked
    failures: int = 0  # batches that failed (their days are left to queries)


def lease_name(tenant: str, day: str) -> str:
    return f"rollup:{tenant}:{day}"


class RollupWarmer:
    def __init__(
        self,
        mongo: Mongo,
        tenants: TenantDirectory,
        *,
        concurrency: int = 2,
        delay_s: float = 0.2,
        lease_s: float = 60.0,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.mongo = mongo
        self.tenants = tenants
        self.concurrency = concurrency
        self.delay_s = delay_s
        self.lease_s = lease_s
        self.observe = observe  # seconds of each background materialisation
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = WarmStats()
        self._pending: dict[str, set[str]] = {}  # tenant -> days waiting
        self._running: dict[str, set[str]] = {}  # tenant -> days a worker has now
        self._scheduled: set[str] = set()  # tenants queued or waiting for their delay
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()

    # -- what writers call ----------------------------------------------------------------
    def notify(self, tenant: str, days: Iterable[str]) -> None:
        """Days a write marked written: materialise them soon (once, however often told)."""
        days = set(days)
        if not days:
            return
        self._pending.setdefault(tenant, set()).update(days)
        self._idle.clear()
        self._schedule(tenant, self.delay_s)

    # -- what /metrics and tests read ---------------------------------------------------------
    @property
    def queued_days(self) -> int:
        """Tenant-days waiting to be materialised (not those being materialised now)."""
        return sum(len(days) for days in self._pending.values())

    @property
    def idle(self) -> bool:
        return not self.queued_days and not any(self._running.values()) and not self._scheduled

    async def wait_idle(self) -> None:
        """Until nothing waits or runs (tests; a day another replica holds keeps it busy)."""
        await self._idle.wait()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(), name=f"rollup warmer {i}")
                             for i in range(self.concurrency)]  # fmt: skip

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    # -- scheduling -------------------------------------------------------------------------
    def _schedule(self, tenant: str, delay_s: float) -> None:
        if tenant in self._scheduled:
            return
        self._scheduled.add(tenant)
        if delay_s <= 0:
            self._queue.put_nowait(tenant)
        else:
            loop = asyncio.get_running_loop()
            self._timers[tenant] = loop.call_later(delay_s, self._due, tenant)

    def _due(self, tenant: str) -> None:
        self._timers.pop(tenant, None)
        self._queue.put_nowait(tenant)

    async def _work(self) -> None:
        while True:
            tenant = await self._queue.get()
            self._scheduled.discard(tenant)
            running = self._running.setdefault(tenant, set())
            pending = self._pending.get(tenant, set())
            batch = sorted(pending - running)[:CHUNK_DAYS]
            if not batch:
                continue  # what waits is being materialised: its worker reschedules it
            pending.difference_update(batch)
            running.update(batch)
            if pending - running:
                self._schedule(tenant, 0)  # more days of this tenant: another worker may start
            busy: list[str] = []
            try:
                busy = await self._warm(tenant, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.failures += 1
                # A database that is down or slow is expected: one line. Anything else is ours.
                expected = isinstance(exc, (*UNAVAILABLE_ERRORS, CxError)) or is_timeout(exc)
                log.warning("background materialisation of %s %s failed (%r); queries will "
                            "materialise these days", tenant, batch, exc,
                            exc_info=not expected)  # fmt: skip
            finally:
                running.difference_update(batch)
            pending = self._pending.setdefault(tenant, set())  # a write may have added days
            pending.update(busy)
            if busy:
                self._schedule(tenant, BUSY_RETRY_S)
            elif pending:
                self._schedule(tenant, self.delay_s)  # written again while it ran
            self._forget_if_done(tenant)
            if self.idle:
                self._idle.set()

    def _forget_if_done(self, tenant: str) -> None:
        if not self._pending.get(tenant) and not self._running.get(tenant):
            self._pending.pop(tenant, None)
            self._running.pop(tenant, None)

    # -- the work ---------------------------------------------------------------------------
    async def _warm(self, tenant: str, batch: list[str]) -> list[str]:
        """Materialise the days of ``batch`` still behind whose lease this replica gets;
        returns the days another replica holds."""
        tz = (await self.tenants.get(tenant)).tz
        current = await rollups.current_state(self.mongo, tenant, tz)
        stale = current.stale(d for d in batch if current.written.get(d))
        self.stats.fresh += len(batch) - len(stale)
        if not stale:
            return []
        got = await asyncio.gather(*(
            leases.acquire(self.mongo, lease_name(tenant, d), self.holder, self.lease_s)
            for d in stale
        ))  # fmt: skip
        held = [d for d, ok in zip(stale, got, strict=True) if ok]
        busy = [d for d, ok in zip(stale, got, strict=True) if not ok]
        self.stats.lease_busy += len(busy)
        if not held:
            return busy
        try:
            # Read again under the leases: another holder may have finished a moment ago.
            current = await rollups.current_state(self.mongo, tenant, tz)
            todo = current.stale(held)
            self.stats.fresh += len(held) - len(todo)
            if todo:
                started = time.perf_counter()
                async with self.mongo.budget(f"background materialisation of {tenant}"):
                    await rollups.materialize(self.mongo, tenant, tz, todo, current)
                self.stats.days += len(todo)
                self.stats.batches += 1
                if self.observe is not None:
                    self.observe(time.perf_counter() - started)
        finally:
            await asyncio.gather(*(
                leases.release(self.mongo, lease_name(tenant, d), self.holder) for d in held
            ), return_exceptions=True)  # fmt: skip
        return busy
