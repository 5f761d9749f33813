"""Everything webhooks need in one running app, built once per replica by the app."""

from __future__ import annotations

from service.metrics.service import MetricsService
from service.settings import Settings
from service.store.client import Mongo
from service.tenant_settings import TenantDirectory
from service.version_feed import VersionFeed
from service.webhooks.directory import WebhookDirectory
from service.webhooks.evaluator import ThresholdEvaluator
from service.webhooks.outbox import WebhookOutbox
from service.webhooks.service import WebhookService
from service.webhooks.worker import DeliveryWorker

PURGE_INTERVAL_S = 3600.0


class Webhooks:
    def __init__(self, mongo: Mongo, settings: Settings, metrics: MetricsService,
                 tenants: TenantDirectory, versions: VersionFeed) -> None:  # fmt: skip
        self.directory = WebhookDirectory(mongo)
        self.worker = DeliveryWorker(mongo, settings)
        self.outbox = WebhookOutbox(mongo, self.directory, self.worker.wake)
        self.service = WebhookService(mongo, settings, self.directory)
        self.evaluator = ThresholdEvaluator(mongo, settings, metrics, tenants, versions,
                                            self.worker.wake)  # fmt: skip

    async def close(self) -> None:
        await self.worker.close()
