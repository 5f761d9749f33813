"""GraphQL enums: the domain's own enums, registered with Strawberry as they are."""

from __future__ import annotations

from enum import Enum

import strawberry

from service.domain.model import AnswerMetric, Channel, Component, Phase, RecordStatus

strawberry.enum(Channel, description="Where an interaction happened.")
strawberry.enum(Component, description="The six components of customer experience.")
strawberry.enum(AnswerMetric, description="What a survey answer measures.")
strawberry.enum(Phase, description="Where a journey stage sits around the sale.")
strawberry.enum(RecordStatus, description="What a write did to a record.")


@strawberry.enum(description="The order of a touchpoint or survey-response list, by its time.")
class RecordOrder(Enum):
    OLDEST_FIRST = "OLDEST_FIRST"
    NEWEST_FIRST = "NEWEST_FIRST"  # a timeline


__all__ = ["AnswerMetric", "Channel", "Component", "Phase", "RecordOrder", "RecordStatus"]
