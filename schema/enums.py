"""GraphQL enums, the domain's own enums exposed as they are."""

from __future__ import annotations

import strawberry

from service import domain

Channel = strawberry.enum(domain.Channel, description="Where an interaction happened.")
Component = strawberry.enum(
    domain.Component, description="The six components of customer experience."
)
AnswerMetric = strawberry.enum(domain.AnswerMetric, description="What a survey answer measures.")
Phase = strawberry.enum(domain.Phase, description="Where a journey stage sits around the sale.")
RecordStatus = strawberry.enum(domain.RecordStatus, description="What a write did to a record.")
