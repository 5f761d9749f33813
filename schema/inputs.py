"""Input types of the ingestion mutations and the list filters."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from schema.enums import AnswerMetric, Channel, Component, Phase


@strawberry.input(description="A record in a partner system: its source and its id there.")
class RecordRefInput:
    source: str
    external_id: str


@strawberry.input
class StageInput:
    key: str
    name: str
    phase: Phase


@strawberry.input(description="A journey definition; its stages in the order customers go.")
class JourneyInput:
    key: str
    name: str
    stages: list[StageInput]


@strawberry.input
class CustomerInput:
    source: str
    external_id: str
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    segments: list[str] | None = strawberry.UNSET
    attributes: JSON | None = strawberry.UNSET
    signed_up_at: datetime | None = strawberry.UNSET
    churned_at: datetime | None = strawberry.UNSET
    revenue: float | None = strawberry.field(
        default=strawberry.UNSET, description="Revenue to date, for CLV."
    )


@strawberry.input
class TouchpointInput:
    source: str
    external_id: str
    customer: RecordRefInput
    channel: Channel
    kind: str = strawberry.field(description="What happened, e.g. visit, purchase, support_call.")
    occurred_at: datetime = strawberry.field(description="With a UTC offset.")
    journey: str | None = strawberry.UNSET
    stage: str | None = strawberry.UNSET
    case_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="The support case this contact belongs to (FCR)."
    )
    resolved: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether this contact resolved its case."
    )
    component: Component | None = strawberry.UNSET


@strawberry.input
class AnswerInput:
    question: str
    metric: AnswerMetric
    value: float
    scale_min: int
    scale_max: int
    component: Component | None = strawberry.UNSET
    high_is_easy: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="CES answers: whether a high value means easy. Default true (the CES 2.0 "
        "agreement scale, 'the company made it easy'); false for an effort scale ('how much "
        "effort did you put in', high = hard). Other metrics take only true.",
    )


@strawberry.input
class SurveyResponseInput:
    source: str
    external_id: str
    customer: RecordRefInput
    submitted_at: datetime = strawberry.field(description="With a UTC offset.")
    answers: list[AnswerInput]
    touchpoint: RecordRefInput | None = strawberry.UNSET
    journey: str | None = strawberry.UNSET
    stage: str | None = strawberry.UNSET
    channel: Channel | None = strawberry.UNSET
    comment: str | None = strawberry.UNSET


@strawberry.input(description="A half-open time window [from, to); both ends with a UTC offset.")
class TimeWindow:
    from_: datetime = strawberry.field(name="from")
    to: datetime


@strawberry.input
class RecordFilter:
    customer: strawberry.ID | None = None
    journey: str | None = None
    stage: str | None = None
    channel: Channel | None = None
    window: TimeWindow | None = None
