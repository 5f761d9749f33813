"""Which webhooks of a tenant want an event, remembered per process for a few seconds.

Ingestion asks for every response batch, so the answer is kept: a tenant without webhooks
costs a write nothing but a dictionary lookup. A definition, deletion or switch on this
replica is seen at once; on another replica within ``STALENESS_S``.
"""

from __future__ import annotations

import time

from service.store import webhooks as stored
from service.store.client import Mongo

STALENESS_S = 5.0
MAX_TENANTS = 100_000


class WebhookDirectory:
    def __init__(self, mongo: Mongo, staleness_s: float = STALENESS_S) -> None:
        self.mongo = mongo
        self.staleness_s = staleness_s
        self._known: dict[tuple[str, str], tuple[float, list[str]]] = {}

    async def subscribed(self, tenant: str, event: str) -> list[str]:
        """Ids of the tenant's enabled webhooks for ``event``."""
        now = time.monotonic()
        found = self._known.get((tenant, event))
        if found is not None and now - found[0] < self.staleness_s:
            return found[1]
        ids = [str(d["_id"]) for d in await stored.subscribed(self.mongo, tenant, event)]
        if len(self._known) > MAX_TENANTS:
            self._known.clear()
        self._known[(tenant, event)] = (now, ids)
        return ids

    def invalidate(self, tenant: str) -> None:
        for key in [k for k in self._known if k[0] == tenant]:
            del self._known[key]
