"""The ingestion side of webhooks: a write records its responses.ingested deliveries.

One ``insert_many`` per response batch, only when the tenant has a webhook for the event,
before the write's intent closes (service/ingest/announce.py). Sending is the worker's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from service.domain.webhooks import events
from service.ingest.announce import RECOVERED, Written
from service.store import webhook_deliveries as deliveries
from service.store.client import Mongo
from service.webhooks.directory import WebhookDirectory


class WebhookOutbox:
    def __init__(self, mongo: Mongo, directory: WebhookDirectory, wake: Callable[[], None]):
        self.mongo = mongo
        self.directory = directory
        self.wake = wake

    async def responses_written(self, tenant: str, data_version: int,
                                records: list[Written]) -> None:  # fmt: skip
        hooks = await self.directory.subscribed(tenant, events.RESPONSES_INGESTED)
        if not hooks:
            return
        ingested = [events.IngestedRecord(r.id, r.source, r.external_id, r.status, r.write)
                    for r in records]  # fmt: skip
        await self._record(tenant, hooks, ingested, data_version)

    async def write_recovered(self, tenant: str, data_version: int, write: str,
                              record_ids: frozenset[str]) -> None:  # fmt: skip
        hooks = await self.directory.subscribed(tenant, events.RESPONSES_INGESTED)
        if not hooks or not record_ids:
            return
        found = await deliveries.response_refs(self.mongo, tenant, record_ids)
        ingested = [events.IngestedRecord(str(d["_id"]), d["source"], d["externalId"],
                                          RECOVERED, write) for d in found]  # fmt: skip
        await self._record(tenant, hooks, ingested, data_version)

    async def _record(self, tenant: str, hooks: list[str], ingested: list[events.IngestedRecord],
                      data_version: int) -> None:  # fmt: skip
        now = datetime.now(UTC)
        event = events.responses_ingested(tenant, ingested, data_version, now)
        if event is None:
            return
        docs = [deliveries.new_delivery(events.delivery_id(hook, event.id), tenant, hook,
                                        event.id, event.type, event.body, now)
                for hook in hooks]  # fmt: skip
        if await deliveries.record(self.mongo, docs):
            self.wake()
