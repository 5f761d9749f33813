"""Webhook types: definitions (never their secrets), thresholds and their state, deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from schema.enums import Channel, Component
from schema.metrics import MetricFilter
from service.domain.model import MetricKind
from service.domain.webhooks.thresholds import ThresholdOperator

strawberry.enum(
    ThresholdOperator,
    description="How a metric's value compares with a threshold: BELOW (<), AT_MOST (<=), "
    "ABOVE (>), AT_LEAST (>=).",
)


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"  # due now or at nextAttemptAt
    DELIVERED = "DELIVERED"  # a 2xx answer
    FAILED = "FAILED"  # CX_WEBHOOK_MAX_ATTEMPTS attempts without a 2xx answer
    CANCELLED = "CANCELLED"  # its webhook was deleted, disabled or dropped the event


@strawberry.input(
    description="A metric.threshold condition: `kind` over the last `windowDays` days of the "
    "tenant's calendar (today included), `filter` applied, compared with `value` by "
    "`operator`. It fires when it becomes true, then again only after it was false."
)
class MetricThresholdInput:
    kind: MetricKind
    operator: ThresholdOperator
    value: float
    window_days: int = strawberry.field(default=7, description="1 to CX_MAX_WINDOW_DAYS.")
    filter: MetricFilter | None = None
    min_sample: int | None = strawberry.field(
        default=None,
        description="The condition is only judged with at least this many answers (default: "
        "the tenant's minimum sample); with fewer, the last judgement stands.",
    )


@strawberry.type(description="A threshold's filter, as defined.")
class ThresholdFilter:
    segments: list[str] | None
    journeys: list[str] | None
    stages: list[str] | None
    channels: list[Channel] | None
    components: list[Component] | None
    questions: list[str] | None


@strawberry.type(description="A threshold's last judgement.")
class ThresholdState:
    met: bool | None = strawberry.field(description="Null until judged with enough answers.")
    value: float | None
    n: int | None
    data_version: int | None
    evaluated_at: datetime | None
    times_met: int = strawberry.field(description="How often the condition became true.")
    error: str | None = strawberry.field(description="Why the last check had no answer.")


@strawberry.type
class MetricThreshold:
    key: str = strawberry.field(description="Stable while the definition is the same.")
    kind: MetricKind
    operator: ThresholdOperator
    value: float
    window_days: int
    min_sample: int | None
    filter: ThresholdFilter
    state: ThresholdState | None


@strawberry.type(description="Where and what a tenant's events are sent. The secret is never "
                 "shown: keep it where you set it.")  # fmt: skip
class Webhook:
    id: strawberry.ID
    url: str
    events: list[str]
    enabled: bool
    thresholds: list[MetricThreshold]
    created_at: datetime
    updated_at: datetime


@strawberry.type
class WebhookAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="Null: no HTTP answer.")
    error: str | None = strawberry.field(description="Null: delivered (a 2xx answer).")
    duration_ms: int


@strawberry.type(description="One event on its way to one webhook, and how it went.")
class WebhookDelivery:
    id: strawberry.ID
    webhook_id: strawberry.ID
    event: str
    idempotency_key: str = strawberry.field(
        description="The event's id: the Idempotency-Key header of every attempt."
    )
    status: WebhookDeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = strawberry.field(description="PENDING only.")
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    payload: str = strawberry.field(description="The JSON body every attempt sends.")
    attempt_log: list[WebhookAttempt] = strawberry.field(description="The last 20 attempts.")
