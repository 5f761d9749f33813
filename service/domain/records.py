"""The records the API shows, as the store hands them over: typed, never raw documents.

The storage layout (field names, encoded attribute keys) stays in service/store/decode.py;
everything above the store sees these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class RecordRef:
    """A record as the partner names it: its source system and its id there."""

    source: str
    external_id: str


@dataclass(frozen=True)
class StageRecord:
    key: str
    name: str
    phase: str
    order: int


@dataclass(frozen=True)
class JourneyRecord:
    key: str
    name: str
    stages: tuple[StageRecord, ...]


@dataclass(frozen=True)
class CustomerRecord:
    id: str
    ref: RecordRef
    stub: bool
    name: str | None
    email: str | None
    segments: tuple[str, ...]
    attributes: dict[str, Any]
    signed_up_at: datetime | None
    churned_at: datetime | None
    revenue: float | None


@dataclass(frozen=True)
class TouchpointRecord:
    id: str
    ref: RecordRef
    customer_id: str
    customer_ref: RecordRef
    segments: tuple[str, ...]
    journey: str | None
    stage: str | None
    channel: str
    kind: str
    occurred_at: datetime
    case_id: str | None
    resolved: bool | None
    component: str | None


@dataclass(frozen=True)
class AnswerRecord:
    question: str
    metric: str
    value: float
    scale_min: int
    scale_max: int
    component: str | None
    high_is_easy: bool = True  # CES: whether a high value means easy (stored only when false)


@dataclass(frozen=True)
class SurveyResponseRecord:
    id: str
    ref: RecordRef
    customer_id: str
    customer_ref: RecordRef
    touchpoint_id: str | None
    touchpoint_ref: RecordRef | None
    segments: tuple[str, ...]
    journey: str | None
    stage: str | None
    channel: str | None
    submitted_at: datetime
    answers: tuple[AnswerRecord, ...]
    comment: str | None


@dataclass(frozen=True)
class CustomerFacts:
    """What the customer metrics (retention, churn, CLV) read of a customer."""

    segments: tuple[str, ...]
    signed_up_at: datetime | None
    churned_at: datetime | None
    revenue: float | None


@dataclass(frozen=True)
class Contact:
    """One contact of a support case, as first-contact resolution reads it."""

    case_id: str
    occurred_at: datetime
    resolved: bool | None
    segments: tuple[str, ...]
    journey: str | None
    stage: str | None
    channel: str | None
    component: str | None


@dataclass(frozen=True)
class Visit:
    """A customer's touchpoint at a journey stage, as the funnel reads it."""

    customer: str
    stage: str
    at: datetime


@dataclass(frozen=True)
class RecordFilter:
    """Filters of the touchpoint and survey-response lists; every one is optional."""

    customer_id: str | None = None
    journey: str | None = None
    stage: str | None = None
    channel: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    terms: tuple[str, ...] = ()  # survey responses: words their comment must all have


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of a keyset-paginated list; ``cursors[i]`` is the cursor after ``rows[i]``."""

    rows: list[Row]
    cursors: list[str]
    has_next: bool
    has_previous: bool
