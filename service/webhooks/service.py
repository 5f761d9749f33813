"""The webhook use cases behind the GraphQL fields: define, list, switch, delete, deliveries.

Every call acts for one tenant, the credential's; another tenant's webhook or delivery is
NOT_FOUND, never shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from service.domain.errors import BadUserInput, NotFound
from service.domain.model import MetricKind
from service.domain.webhooks import thresholds
from service.domain.webhooks.events import EVENT_TYPES, METRIC_THRESHOLD
from service.domain.webhooks.thresholds import ThresholdOperator
from service.domain.webhooks.urls import check_addresses, parse_url
from service.settings import Settings
from service.store import webhook_deliveries as deliveries
from service.store import webhooks as stored
from service.store.client import Doc, Mongo
from service.webhooks.directory import WebhookDirectory
from service.webhooks.transport import resolve

MAX_WEBHOOKS = 25  # per tenant
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256
MAX_EVENT_NAME = 100


@dataclass(frozen=True)
class ThresholdRequest:
    """A threshold as the client sent it (checked by :func:`thresholds.checked`)."""

    kind: MetricKind
    filter: dict[str, list[str] | None]
    operator: ThresholdOperator
    value: float
    window_days: int
    min_sample: int | None


def webhook_id(tenant: str, url: str) -> str:
    return "whk_" + hashlib.blake2b(f"{tenant}\x1f{url}".encode(), digest_size=12).hexdigest()


def _events(names: Sequence[str]) -> list[str]:
    if not names:
        raise BadUserInput(f"events: name at least one of {', '.join(EVENT_TYPES)}",
                           reason="NO_EVENTS", field="events")  # fmt: skip
    for name in names:
        if name not in EVENT_TYPES:
            shown = name[:MAX_EVENT_NAME]
            raise BadUserInput(f"events: unknown event {shown!r}; one of {', '.join(EVENT_TYPES)}",
                               reason="UNKNOWN_EVENT", field="events")  # fmt: skip
    return [e for e in EVENT_TYPES if e in names]


def _secret(secret: str) -> str:
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise BadUserInput(
            f"secret: {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters (e.g. 32 random "
            f"bytes, hex-encoded); got {len(secret)}", reason="INVALID_SECRET", field="secret",
        )  # fmt: skip
    return secret


class WebhookService:
    def __init__(self, mongo: Mongo, settings: Settings, directory: WebhookDirectory) -> None:
        self.mongo = mongo
        self.settings = settings
        self.directory = directory

    async def define(
        self,
        tenant: str,
        url: str,
        events: Sequence[str],
        secret: str,
        threshold_requests: Sequence[ThresholdRequest] | None,
        max_window_days: int,
    ) -> Doc:
        """Create the webhook of ``url``, or replace its events, secret and thresholds."""
        wanted = _events(events)
        _secret(secret)
        requests = list(threshold_requests or [])
        if METRIC_THRESHOLD in wanted and not 1 <= len(requests) <= thresholds.MAX_THRESHOLDS:
            raise BadUserInput(f"thresholds: {METRIC_THRESHOLD} needs 1 to "
                               f"{thresholds.MAX_THRESHOLDS} thresholds",
                               reason="INVALID_THRESHOLD", field="thresholds")  # fmt: skip
        if METRIC_THRESHOLD not in wanted and requests:
            raise BadUserInput(f"thresholds: only with the event {METRIC_THRESHOLD}",
                               reason="INVALID_THRESHOLD", field="thresholds")  # fmt: skip
        checked = [thresholds.checked(i, r.kind, r.filter, r.operator, r.value, r.window_days,
                                      r.min_sample, max_window_days)
                   for i, r in enumerate(requests)]  # fmt: skip
        if len({t.key for t in checked}) != len(checked):
            raise BadUserInput("thresholds: the same threshold twice", reason="INVALID_THRESHOLD",
                               field="thresholds")  # fmt: skip
        target = parse_url(url)
        addresses = await resolve(target.host, target.port)
        check_addresses(target.host, addresses, self.settings.webhook_allow_private)
        hook_id = webhook_id(tenant, url)
        new = not await stored.exists(self.mongo, tenant, hook_id)
        if new and await stored.count(self.mongo, tenant) >= MAX_WEBHOOKS:
            raise BadUserInput(f"a tenant has at most {MAX_WEBHOOKS} webhooks; delete one first",
                               reason="TOO_MANY_WEBHOOKS")  # fmt: skip
        fields = {"url": url, "events": wanted, "secret": secret,
                  "thresholds": [t.as_doc() for t in checked]}  # fmt: skip
        doc = await stored.upsert(self.mongo, hook_id, tenant, fields, datetime.now(UTC))
        self.directory.invalidate(tenant)
        return doc

    async def webhooks(self, tenant: str) -> list[Doc]:
        return await stored.of_tenant(self.mongo, tenant)

    async def set_enabled(self, tenant: str, hook_id: str, enabled: bool) -> Doc:
        now = datetime.now(UTC)
        doc = await stored.set_enabled(self.mongo, tenant, hook_id, enabled, now)
        if doc is None:
            raise _unknown_webhook(hook_id)
        self.directory.invalidate(tenant)
        if not enabled:
            await deliveries.cancel_pending(self.mongo, tenant, hook_id,
                                            "the webhook is disabled", now)  # fmt: skip
        return doc

    async def delete(self, tenant: str, hook_id: str) -> None:
        if not await stored.delete(self.mongo, tenant, hook_id):
            raise _unknown_webhook(hook_id)
        self.directory.invalidate(tenant)
        await deliveries.cancel_pending(self.mongo, tenant, hook_id, "the webhook was deleted",
                                        datetime.now(UTC))  # fmt: skip

    async def deliveries(self, tenant: str, hook_id: str | None, status: str | None,
                         first: int | None) -> list[Doc]:  # fmt: skip
        limit = self.settings.default_page_size if first is None else first
        if not 1 <= limit <= self.settings.max_page_size:
            raise BadUserInput(f"first must be from 1 to {self.settings.max_page_size}",
                               reason="INVALID_PAGE_SIZE",
                               maximum=self.settings.max_page_size)  # fmt: skip
        return await deliveries.recent(self.mongo, tenant, hook_id, status, limit)

    async def retry_delivery(self, tenant: str, delivery_id: str) -> Doc:
        """Send a finished delivery again (same body and idempotency key)."""
        doc = await deliveries.retry(self.mongo, tenant, delivery_id, datetime.now(UTC))
        if doc is None:
            doc = await deliveries.get(self.mongo, tenant, delivery_id)
            if doc is None:
                raise NotFound(f"no webhook delivery {delivery_id[:100]!r}",
                               reason="UNKNOWN_DELIVERY")  # fmt: skip
        return doc


def _unknown_webhook(hook_id: str) -> NotFound:
    return NotFound(f"no webhook {hook_id[:100]!r}", reason="UNKNOWN_WEBHOOK")
