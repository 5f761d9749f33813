"""Output types. Built from stored documents; nested lists resolve through the context."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.connections import Connection
from schema.enums import AnswerMetric, Channel, Component, Phase, RecordOrder, RecordStatus
from schema.inputs import TimeWindow
from schema.metrics import MetricFilter, MetricResult, build_query
from schema.permissions import MetricsRead
from service.domain import MetricKind
from service.reader import RecordFilter
from service.store.client import Doc
from service.store.fieldnames import decode_keys

if TYPE_CHECKING:
    from service.context import RequestContext

    CxInfo = Info[RequestContext, None]
else:
    CxInfo = Info


@strawberry.type
class RecordRef:
    source: str
    external_id: str

    @classmethod
    def from_doc(cls, doc: Doc | None) -> RecordRef | None:
        return cls(source=doc["source"], external_id=doc["externalId"]) if doc else None


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
    def from_doc(cls, doc: Doc) -> Journey:
        return cls(
            key=doc["key"],
            name=doc["name"],
            stages=[
                Stage(
                    key=s["key"],
                    name=s["name"],
                    phase=Phase(s["phase"]),
                    order=s["order"],
                    journey_key=doc["key"],
                )
                for s in doc["stages"]
            ],
        )


def _optional(enum: Any, value: str | None) -> Any:
    return None if value is None else enum(value)


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
    def from_doc(cls, doc: Doc) -> Customer:
        return cls(
            id=strawberry.ID(doc["_id"]),
            source=doc["source"],
            external_id=doc["externalId"],
            stub=bool(doc.get("stub")),
            name=doc.get("name"),
            email=doc.get("email"),
            segments=list(doc.get("segments") or []),
            attributes=decode_keys(doc.get("attributes") or {}),
            signed_up_at=doc.get("signedUpAt"),
            churned_at=doc.get("churnedAt"),
            revenue=doc.get("revenue"),
        )

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
        return Connection.from_page(page, Touchpoint.from_doc)

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
        return Connection.from_page(page, SurveyResponse.from_doc)


async def _customer(info: CxInfo, customer_id: str) -> Customer | None:
    doc = await info.context.customer_loader.load(customer_id)
    return Customer.from_doc(doc) if doc else None


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
    def from_doc(cls, doc: Doc) -> Touchpoint:
        return cls(
            id=strawberry.ID(doc["_id"]),
            source=doc["source"],
            external_id=doc["externalId"],
            customer_id=strawberry.ID(doc["customerId"]),
            customer_ref=RecordRef(**_ref(doc["customerRef"])),
            segments=list(doc.get("segments") or []),
            journey=doc.get("journey"),
            stage=doc.get("stage"),
            channel=Channel(doc["channel"]),
            kind=doc["kind"],
            occurred_at=doc["occurredAt"],
            case_id=doc.get("caseId"),
            resolved=doc.get("resolved"),
            component=_optional(Component, doc.get("component")),
        )

    @strawberry.field
    async def customer(self, info: CxInfo) -> Customer | None:
        return await _customer(info, str(self.customer_id))


def _ref(ref: Doc) -> dict[str, str]:
    return {"source": ref["source"], "external_id": ref["externalId"]}


@strawberry.type
class Answer:
    question: str
    metric: AnswerMetric
    value: float
    scale_min: int
    scale_max: int
    component: Component | None


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
    def from_doc(cls, doc: Doc) -> SurveyResponse:
        tp_ref = doc.get("touchpointRef")
        return cls(
            id=strawberry.ID(doc["_id"]),
            source=doc["source"],
            external_id=doc["externalId"],
            customer_id=strawberry.ID(doc["customerId"]),
            customer_ref=RecordRef(**_ref(doc["customerRef"])),
            touchpoint_id=doc.get("touchpointId"),
            touchpoint_ref=RecordRef(**_ref(tp_ref)) if tp_ref else None,
            segments=list(doc.get("segments") or []),
            journey=doc.get("journey"),
            stage=doc.get("stage"),
            channel=_optional(Channel, doc.get("channel")),
            submitted_at=doc["submittedAt"],
            answers=[
                Answer(
                    question=a["question"],
                    metric=AnswerMetric(a["metric"]),
                    value=a["value"],
                    scale_min=a["scale"]["min"],
                    scale_max=a["scale"]["max"],
                    component=_optional(Component, a.get("component")),
                )
                for a in doc["answers"]
            ],
            comment=doc.get("comment"),
        )

    @strawberry.field
    async def customer(self, info: CxInfo) -> Customer | None:
        return await _customer(info, str(self.customer_id))


@strawberry.type
class RecordError:
    code: str = strawberry.field(description="Stable machine-readable reason; see docs.")
    field: str | None = strawberry.field(description="The offending field, e.g. answers[1].value")
    message: str


@strawberry.type
class RecordResult:
    index: int = strawberry.field(description="The record's position in the batch.")
    external_id: str | None
    status: RecordStatus
    id: strawberry.ID | None
    error: RecordError | None


@strawberry.type
class BulkResult:
    data_version: int = strawberry.field(
        description="The tenant's data version after this write; pass it as minDataVersion."
    )
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    results: list[RecordResult]


@strawberry.type
class EraseResult:
    customer: bool = strawberry.field(description="Whether the customer record existed.")
    survey_responses: int = strawberry.field(description="Responses whose comment was removed.")
    data_version: int
