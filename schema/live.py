"""Live metric types: what a metric subscription sends."""

from __future__ import annotations

import strawberry

from schema.metrics import MetricGroup


@strawberry.type(
    description="A metric subscription's answer: the first at once, then one each time a "
    'write changed it (README "Live metrics").'
)
class MetricChange:
    data_version: int = strawberry.field(description="The data version the answer reflects.")
    answer: strawberry.Private[list[MetricGroup] | None]
    error: strawberry.Private[Exception | None] = None

    @strawberry.field(
        description="As breakdown answers them; one group with no keys when `by` is empty. "
        "Null, with its error, when the answer could not be computed (a database that is away, "
        "answers on different scales): the subscription goes on and answers again when it can."
    )
    def groups(self) -> list[MetricGroup] | None:
        if self.error is not None:
            raise self.error
        return self.answer
