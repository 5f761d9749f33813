"""Everything webhooks need in one running app, built once per replica by the app.

Its loops (delivery worker, threshold checks, purge) are stopped, not cancelled: a task
cancelled in the middle of a database call can leak the driver's socket (seen with PyMongo's
async client), so shutdown asks them to finish what they are doing and waits, and cancels
only what outlives the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from service.metrics.service import MetricsService
from service.settings import Settings
from service.store.client import Mongo
from service.tenancy.directory import TenantDirectory
from service.tenancy.version_feed import VersionFeed
from service.webhooks.directory import WebhookDirectory
from service.webhooks.evaluator import ThresholdEvaluator
from service.webhooks.looping import FailureStreak
from service.webhooks.outbox import WebhookOutbox
from service.webhooks.service import WebhookService
from service.webhooks.worker import SHUTDOWN_GRACE_S, DeliveryWorker

PURGE_INTERVAL_S = 3600.0


class Webhooks:
    def __init__(self, mongo: Mongo, settings: Settings, metrics: MetricsService,
                 tenants: TenantDirectory, versions: VersionFeed) -> None:  # fmt: skip
        self.settings = settings
        self.directory = WebhookDirectory(mongo)
        self.worker = DeliveryWorker(mongo, settings)
        self.outbox = WebhookOutbox(mongo, self.directory, self.worker.wake)
        self.service = WebhookService(mongo, settings, self.directory)
        self.evaluator = ThresholdEvaluator(mongo, settings, metrics, tenants, versions,
                                            self.worker.wake)  # fmt: skip
        self._stop = asyncio.Event()
        self._purges = FailureStreak("purging old webhook deliveries")
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """The worker, the threshold checks every CX_WEBHOOK_POLL_INTERVAL_S, the hourly purge."""
        self._tasks = [
            asyncio.create_task(self.worker.run()),
            asyncio.create_task(self._every(self.settings.webhook_poll_interval_s,
                                            self.evaluator.run_quietly)),
            asyncio.create_task(self._every(PURGE_INTERVAL_S, self._purge)),
        ]  # fmt: skip

    async def _every(self, interval_s: float, job: Callable[[], Awaitable[object]]) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval_s)
            if not self._stop.is_set():
                await job()

    async def _purge(self) -> None:
        try:
            await self.worker.purge()
        except Exception:
            self._purges.failed()
        else:
            self._purges.ok()

    async def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop the loops (each finishes the step it is in), give attempts in flight
        ``grace_s``, then close the HTTP client. Before the database client closes."""
        self._stop.set()
        self.worker.stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace_s)
        await self.worker.close(grace_s)
