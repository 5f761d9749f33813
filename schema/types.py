"""Output types that are data only: no field of theirs reads anything.

Types whose fields fetch (a customer's touchpoints, a stage's metric) are resolvers and live
in resolvers/nodes.py.
"""

from __future__ import annotations

import strawberry

from schema.enums import AnswerMetric, Component, RecordStatus


@strawberry.type
class RecordRef:
    source: str
    external_id: str


@strawberry.type
class Answer:
    question: str
    metric: AnswerMetric
    value: float
    scale_min: int
    scale_max: int
    component: Component | None
    high_is_easy: bool = strawberry.field(
        description="Whether a high value means easy (CES; true unless sent false)."
    )


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
