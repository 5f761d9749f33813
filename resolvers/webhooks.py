"""Webhook queries and mutations: thin — check scopes of the events, call the service, shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry

from resolvers.arguments import cell_filter
from resolvers.context import CxInfo
from schema.enums import Channel, Component
from schema.permissions import WebhooksRead, WebhooksWrite
from schema.webhooks import (
    MetricThreshold,
    MetricThresholdInput,
    ThresholdFilter,
    ThresholdState,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from service.domain.errors import CxError
from service.domain.model import MetricKind
from service.domain.principal import Principal, Scope
from service.domain.webhooks.events import METRIC_THRESHOLD, RESPONSES_INGESTED
from service.domain.webhooks.thresholds import ThresholdOperator
from service.webhooks.service import ThresholdRequest

# What an event shows its receiver, and so the scope a credential needs to subscribe to it.
EVENT_SCOPES = {RESPONSES_INGESTED: Scope.DATA_READ, METRIC_THRESHOLD: Scope.METRICS_READ}


def _check_event_scopes(principal: Principal, events: list[str]) -> None:
    for event in events:
        scope = EVENT_SCOPES.get(event)
        if scope is not None and not principal.allows(scope):
            raise CxError(f"the event {event} shows what the scope {scope.value} reads; this "
                          "credential lacks it", code="FORBIDDEN", scope=scope.value)  # fmt: skip


def _request(t: MetricThresholdInput) -> ThresholdRequest:
    """The threshold as the service takes it; its filter checked as a query's is."""
    checked = cell_filter(t.filter)
    return ThresholdRequest(
        kind=t.kind, operator=t.operator, value=t.value, window_days=t.window_days,
        min_sample=t.min_sample,
        filter={name: None if v is None else sorted(v) for name, v in vars(checked).items()},
    )  # fmt: skip


def _threshold(doc: Mapping[str, Any], state: Mapping[str, Any] | None) -> MetricThreshold:
    f = doc.get("filter") or {}
    channels = f.get("channels")
    components = f.get("components")
    return MetricThreshold(
        key=doc["key"], kind=MetricKind(doc["kind"]), operator=ThresholdOperator(doc["operator"]),
        value=doc["value"], window_days=doc["windowDays"], min_sample=doc.get("minSample"),
        filter=ThresholdFilter(
            segments=f.get("segments"), journeys=f.get("journeys"), stages=f.get("stages"),
            channels=[Channel(c) for c in channels] if channels is not None else None,
            components=[Component(c) for c in components] if components is not None else None,
            questions=f.get("questions"),
        ),
        state=ThresholdState(
            met=state.get("met"), value=state.get("value"), n=state.get("n"),
            data_version=state.get("dataVersion"), evaluated_at=state.get("evaluatedAt"),
            times_met=int(state.get("episode", 0)), error=state.get("error"),
        ) if state else None,
    )  # fmt: skip


def webhook_of(doc: Mapping[str, Any]) -> Webhook:
    states = doc.get("thresholdState") or {}
    return Webhook(
        id=strawberry.ID(doc["_id"]), url=doc["url"], events=list(doc["events"]),
        enabled=bool(doc["enabled"]),
        thresholds=[_threshold(t, states.get(t["key"])) for t in doc.get("thresholds") or []],
        created_at=doc["createdAt"], updated_at=doc["updatedAt"],
    )  # fmt: skip


def delivery_of(doc: Mapping[str, Any]) -> WebhookDelivery:
    status = WebhookDeliveryStatus(doc["status"])
    return WebhookDelivery(
        id=strawberry.ID(doc["_id"]), webhook_id=strawberry.ID(doc["webhookId"]),
        event=doc["event"], idempotency_key=doc["eventId"], status=status,
        attempts=doc["attempts"], created_at=doc["createdAt"],
        next_attempt_at=doc.get("nextAttemptAt") if status is WebhookDeliveryStatus.PENDING
        else None,
        finished_at=doc.get("finishedAt"), last_status_code=doc.get("lastStatusCode"),
        last_error=doc.get("lastError"), payload=doc["body"],
        attempt_log=[WebhookAttempt(at=a["at"], status_code=a.get("statusCode"),
                                    error=a.get("error"), duration_ms=a.get("durationMs", 0))
                     for a in doc.get("attemptLog") or []],
    )  # fmt: skip


@strawberry.type
class WebhookQuery:
    @strawberry.field(permission_classes=[WebhooksRead], description="The tenant's webhooks.")
    async def webhooks(self, info: CxInfo) -> list[Webhook] | None:
        ctx = info.context
        return [webhook_of(d) for d in await ctx.webhooks.webhooks(ctx.tenant)]

    @strawberry.field(
        permission_classes=[WebhooksRead],
        description="Recent deliveries, newest first (kept CX_WEBHOOK_RETENTION_DAYS once "
        "finished); `webhook` and `status` narrow the list.",
    )
    async def webhook_deliveries(
        self,
        info: CxInfo,
        webhook: strawberry.ID | None = None,
        status: WebhookDeliveryStatus | None = None,
        first: int | None = None,
    ) -> list[WebhookDelivery] | None:
        ctx = info.context
        docs = await ctx.webhooks.deliveries(
            ctx.tenant, str(webhook) if webhook is not None else None,
            status.value if status is not None else None, first,
        )  # fmt: skip
        return [delivery_of(d) for d in docs]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        permission_classes=[WebhooksWrite],
        description="Send events (responses.ingested, metric.threshold) to `url`, signed with "
        "`secret` (docs/webhooks.md). The same url again replaces its events, secret and "
        "thresholds.",
    )
    async def define_webhook(
        self,
        info: CxInfo,
        url: str,
        events: list[str],
        secret: str,
        thresholds: list[MetricThresholdInput] | None = None,
    ) -> Webhook:
        ctx = info.context
        _check_event_scopes(ctx.principal, events)
        requests = [_request(t) for t in thresholds or []]
        doc = await ctx.webhooks.define(ctx.tenant, url, events, secret, requests,
                                        ctx.settings.max_window_days)  # fmt: skip
        return webhook_of(doc)

    @strawberry.mutation(
        permission_classes=[WebhooksWrite],
        description="Pause (its pending deliveries are cancelled) or resume a webhook.",
    )
    async def set_webhook_enabled(self, info: CxInfo, id: strawberry.ID, enabled: bool) -> Webhook:
        ctx = info.context
        return webhook_of(await ctx.webhooks.set_enabled(ctx.tenant, str(id), enabled))

    @strawberry.mutation(
        permission_classes=[WebhooksWrite],
        description="Delete a webhook; its pending deliveries are cancelled, its history kept.",
    )
    async def delete_webhook(self, info: CxInfo, id: strawberry.ID) -> bool:
        ctx = info.context
        await ctx.webhooks.delete(ctx.tenant, str(id))
        return True

    @strawberry.mutation(
        permission_classes=[WebhooksWrite],
        description="Send a finished delivery again now (same body and idempotency key); a "
        "PENDING one is answered as it is.",
    )
    async def retry_webhook_delivery(self, info: CxInfo, id: strawberry.ID) -> WebhookDelivery:
        ctx = info.context
        return delivery_of(await ctx.webhooks.retry_delivery(ctx.tenant, str(id)))
