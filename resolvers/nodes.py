"""The record types whose fields fetch: built from the store's typed records.

Each ``of`` turns a record (service/domain/records.py) into its API type; the storage layout
never reaches this layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from resolvers.arguments import build_query
from resolvers.context import CxInfo
from schema.connections import Connection
from schema.enums import AnswerMetric, Channel, Component, Phase, RecordOrder
from schema.inputs import TimeWindow
from schema.metrics import MetricFilter, MetricResult
from schema.permissions import MetricsRead
from schema.types import Answer, RecordRef
from service.domain.model import MetricKind
from service.domain.records import (
    CustomerRecord,
    JourneyRecord,
    RecordFilter,
    SurveyResponseRecord,
    TouchpointRecord,
)
from service.domain.records import RecordRef as Ref


def ref_of(ref: Ref) -> RecordRef:
    return RecordRef(source=ref.source, external_id=ref.external_id)


def _optional(enum: Any, value: str | None) -> Any:
    return None if value is None else enum(value)


@strawberry.type
class Stage:
    key: str
    name: str
    phase: Phase
    order: int
    journey_key: strawberry.Private[str]

    @strawberry.field(
        permission_classes=[MetricsRead],
        description="A metric over this stage's records: a dashboard row each.",
    )
    async def metric(
        self, info: CxInfo, kind: MetricKind, window: TimeWindow | None = None
    ) -> MetricResult | None:  # nullable like every metric field (docs/adr/0007)
        ctx = info.context
        flt = MetricFilter(journeys=[self.journey_key], stages=[self.key])
        q = build_query(ctx.settings, kind, window, flt)
        return MetricResult.from_outcome(await ctx.metrics.metric(ctx.tenant, q, None), q)


@strawberry.type
class Journey:
    key: str
    name: str
    stages: list[Stage]

    @classmethod
    def of(cls, journey: JourneyRecord) -> Journey:
        stages = [Stage(key=s.key, name=s.name, phase=Phase(s.phase), order=s.order,
                        journey_key=journey.key) for s in journey.stages]  # fmt: skip
        return cls(key=journey.key, name=journey.name, stages=stages)


@strawberry.type
class Customer:
    id: strawberry.ID
    source: str
    external_id: str
    stub: bool = strawberry.field(
        description="Known only from a touchpoint or response so far; its record has not arrived."
    )
    name: str | None
    email: str | None
    segments: list[str]
    attributes: JSON
    signed_up_at: datetime | None
    churned_at: datetime | None
    revenue: float | None

    @classmethod
    def of(cls, c: CustomerRecord) -> Customer:
        return cls(
            id=strawberry.ID(c.id), source=c.ref.source, external_id=c.ref.external_id,
            stub=c.stub, name=c.name, email=c.email, segments=list(c.segments),
            attributes=JSON(c.attributes), signed_up_at=c.signed_up_at, churned_at=c.churned_at,
            revenue=c.revenue,
        )  # fmt: skip

    @strawberry.field
    async def touchpoints(
        self,
        info: CxInfo,
        first: int | None = None,
        after: str | None = None,
        order_by: RecordOrder = RecordOrder.OLDEST_FIRST,
    ) -> Connection[Touchpoint]:
        ctx = info.context
        newest_first = order_by is RecordOrder.NEWEST_FIRST
        page = await ctx.reader.touchpoints(
            ctx.tenant, RecordFilter(customer_id=str(self.id)), first, after, newest_first
        )
        return Connection.from_page(page, Touchpoint.of)

    @strawberry.field
    async def survey_responses(
        self,
        info: CxInfo,
        first: int | None = None,
        after: str | None = None,
        order_by: RecordOrder = RecordOrder.OLDEST_FIRST,
    ) -> Connection[SurveyResponse]:
        ctx = info.context
        newest_first = order_by is RecordOrder.NEWEST_FIRST
        page = await ctx.reader.survey_responses(
            ctx.tenant, RecordFilter(customer_id=str(self.id)), first, after, newest_first
        )
        return Connection.from_page(page, SurveyResponse.of)


async def _customer(info: CxInfo, customer_id: str) -> Customer | None:
    record = await info.context.customer_loader.load(customer_id)
    return Customer.of(record) if record else None


@strawberry.type
class Touchpoint:
    id: strawberry.ID
    source: str
    external_id: str
    customer_id: strawberry.ID
    customer_ref: RecordRef
    segments: list[str] = strawberry.field(
        description="The customer's segments when this was recorded."
    )
    journey: str | None
    stage: str | None
    channel: Channel
    kind: str
    occurred_at: datetime
    case_id: str | None
    resolved: bool | None
    component: Component | None

    @classmethod
    def of(cls, t: TouchpointRecord) -> Touchpoint:
        return cls(
            id=strawberry.ID(t.id), source=t.ref.source, external_id=t.ref.external_id,
            customer_id=strawberry.ID(t.customer_id), customer_ref=ref_of(t.customer_ref),
            segments=list(t.segments), journey=t.journey, stage=t.stage,
            channel=Channel(t.channel), kind=t.kind, occurred_at=t.occurred_at,
            case_id=t.case_id, resolved=t.resolved, component=_optional(Component, t.component),
        )  # fmt: skip

    @strawberry.field
    async def customer(self, info: CxInfo) -> Customer | None:
        return await _customer(info, str(self.customer_id))


@strawberry.type
class SurveyResponse:
    id: strawberry.ID
    source: str
    external_id: str
    customer_id: strawberry.ID
    customer_ref: RecordRef
    touchpoint_id: strawberry.ID | None
    touchpoint_ref: RecordRef | None
    segments: list[str] = strawberry.field(
        description="The customer's segments when this response was recorded."
    )
    journey: str | None
    stage: str | None
    channel: Channel | None
    submitted_at: datetime
    answers: list[Answer]
    comment: str | None

    @classmethod
    def of(cls, r: SurveyResponseRecord) -> SurveyResponse:
        answers = [
            Answer(question=a.question, metric=AnswerMetric(a.metric), value=a.value,
                   scale_min=a.scale_min, scale_max=a.scale_max,
                   component=_optional(Component, a.component), high_is_easy=a.high_is_easy)
            for a in r.answers
        ]  # fmt: skip
        return cls(
            id=strawberry.ID(r.id), source=r.ref.source, external_id=r.ref.external_id,
            customer_id=strawberry.ID(r.customer_id), customer_ref=ref_of(r.customer_ref),
            touchpoint_id=strawberry.ID(r.touchpoint_id) if r.touchpoint_id else None,
            touchpoint_ref=ref_of(r.touchpoint_ref) if r.touchpoint_ref else None,
            segments=list(r.segments), journey=r.journey, stage=r.stage,
            channel=_optional(Channel, r.channel), submitted_at=r.submitted_at,
            answers=answers, comment=r.comment,
        )  # fmt: skip

    @strawberry.field
    async def customer(self, info: CxInfo) -> Customer | None:
        return await _customer(info, str(self.customer_id))
