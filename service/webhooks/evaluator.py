"""metric.threshold: thresholds are checked after writes move a tenant's data version.

Every replica looks, each CX_WEBHOOK_POLL_INTERVAL_S, at the data version of the tenants
that have threshold webhooks (through the replica's version feed, so writes on any replica
count). A version that has not moved for CX_WEBHOOK_THRESHOLD_DEBOUNCE_MS (or that keeps
moving for ten times that) is settled: a burst of writes is checked once. A webhook's
thresholds are then checked by one replica — the one that claims the check at that version —
and a threshold whose condition became true fires one event
(service/domain/webhooks/thresholds.py). The event is recorded before the new state, and its
id counts the times the condition became true, so a check cut short and run again records
the same event, never a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain.errors import CxError
from service.domain.metrics.results import MetricResult
from service.domain.webhooks import events
from service.domain.webhooks.thresholds import Threshold
from service.metrics.service import MetricsService
from service.settings import Settings
from service.store import webhook_deliveries as deliveries
from service.store import webhooks as stored
from service.store.client import Doc, Mongo
from service.tenancy.directory import TenantDirectory
from service.tenancy.version_feed import VersionFeed
from service.webhooks.looping import FailureStreak, cancelled

log = logging.getLogger("cxgraph.webhooks")

MAX_WAIT_FACTOR = 10  # a tenant written to without pause is checked at least this often


@dataclass
class _Seen:
    version: int
    since: float  # when this replica first saw this version
    first: float  # when the unsettled run of versions began


class ThresholdEvaluator:
    def __init__(self, mongo: Mongo, settings: Settings, metrics: MetricsService,
                 tenants: TenantDirectory, versions: VersionFeed, wake: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.mongo = mongo
        self.settings = settings
        self.metrics = metrics
        self.tenants = tenants
        self.versions = versions
        self.wake = wake
        self.clock = clock
        self.owner = uuid.uuid4().hex
        self.debounce_s = settings.webhook_threshold_debounce_ms / 1000
        self.lease = timedelta(seconds=settings.mongo_query_timeout_s + 30)
        self._seen: dict[str, _Seen] = {}
        self.evaluations = 0  # checks this replica ran (/metrics: cx_webhook_threshold_checks)
        self.failures = FailureStreak("checking webhook thresholds")

    async def run_quietly(self) -> None:
        """:meth:`run_once` for the background loop: failures logged once per streak."""
        try:
            await self.run_once()
        except Exception:
            if cancelled():
                raise asyncio.CancelledError() from None
            self.failures.failed()
        else:
            self.failures.ok()

    async def run_once(self) -> int:
        """Check every webhook whose tenant's data settled at a version it has not seen."""
        hooks = await stored.watching(self.mongo, events.METRIC_THRESHOLD)
        by_tenant: dict[str, list[Doc]] = {}
        for hook in hooks:
            by_tenant.setdefault(hook["tenant"], []).append(hook)
        checked = 0
        for tenant, tenant_hooks in by_tenant.items():
            version = await self.versions.get(tenant)
            if not self._settled(tenant, version):
                continue
            for hook in tenant_hooks:
                if int(hook.get("evaluatedVersion", -1)) < version:
                    checked += await self.evaluate(hook["_id"], tenant, version)
        return checked

    def _settled(self, tenant: str, version: int) -> bool:
        now = self.clock()
        seen = self._seen.get(tenant)
        if seen is None or seen.version != version:
            first = seen.first if seen is not None and seen.first > 0 else now
            seen = self._seen[tenant] = _Seen(version, since=now, first=first)
        quiet = now - seen.since >= self.debounce_s
        overdue = now - seen.first >= MAX_WAIT_FACTOR * self.debounce_s
        if quiet or overdue:
            seen.first = 0.0  # the next change starts a new run
            return True
        return False

    async def evaluate(self, webhook_id: str, tenant: str, version: int) -> int:
        """Check one webhook's thresholds at ``version`` if this replica gets the claim."""
        now = datetime.now(UTC)
        hook = await stored.claim_evaluation(self.mongo, webhook_id, version, self.owner, now,
                                             self.lease)  # fmt: skip
        if hook is None:
            return 0
        try:
            states, fired = await self._check(hook, tenant, now)
            if await deliveries.record(self.mongo, fired):
                self.wake()
            revision = int(hook.get("revision", 0))
            await stored.finish_evaluation(self.mongo, webhook_id, self.owner, revision, version,
                                           states)  # fmt: skip
        except Exception:  # released for the next look (a cancelled check lets the lease lapse)
            await stored.release_evaluation(self.mongo, webhook_id, self.owner)
            raise
        self.evaluations += 1
        return 1

    async def _check(
        self, hook: Doc, tenant: str, now: datetime
    ) -> tuple[dict[str, Any], list[Doc]]:
        settings = await self.tenants.get(tenant)
        states: dict[str, Any] = {}
        fired: list[Doc] = []
        previous_states = hook.get("thresholdState") or {}
        for definition in hook.get("thresholds") or []:
            key = definition["key"]
            previous = previous_states.get(key) or {}
            threshold = Threshold.from_doc(definition)
            try:
                result = await self.metrics.metric(tenant, threshold.query(settings.tz, now), None)
            except CxError as exc:  # e.g. answers on two scales: said in the webhook's state
                states[key] = {**previous, "error": exc.message, "evaluatedAt": now}
                continue
            holds = threshold.holds(result.value.value, result.value.n, settings.min_sample)
            was = previous.get("met")
            episode = int(previous.get("episode", 0))
            if holds is True and was is not True:
                episode += 1
                event = events.threshold_met(tenant, hook["_id"], definition, episode,
                                             _result_doc(result, threshold, settings.tz, now),
                                             result.data_version, now)  # fmt: skip
                fired.append(deliveries.new_delivery(
                    events.delivery_id(hook["_id"], event.id), tenant, hook["_id"], event.id,
                    event.type, event.body, now,
                ))  # fmt: skip
            states[key] = {"met": was if holds is None else holds, "value": result.value.value,
                           "n": result.value.n, "dataVersion": result.data_version,
                           "evaluatedAt": now, "episode": episode, "error": None}  # fmt: skip
        return states, fired


def _result_doc(result: MetricResult, threshold: Threshold, tz: Any, now: datetime) -> Doc:
    window = threshold.query(tz, now).window
    v = result.value
    return {"value": v.value, "n": v.n, "lowSample": result.low_sample,
            "marginOfError": v.margin_of_error,
            "window": {"from": window.start.astimezone(tz).isoformat(),
                       "to": window.end.astimezone(tz).isoformat(), "timezone": tz.key},
            "computedAt": result.computed_at.isoformat()}  # fmt: skip
