"""Root mutations: thin — turn inputs into records, call the ingestor, shape the result."""

from __future__ import annotations

import strawberry

from resolvers.context import CxInfo
from resolvers.fast_input import CustomerRecords, SurveyResponseRecords, TouchpointRecords
from resolvers.nodes import Journey
from resolvers.records import as_record
from resolvers.webhooks import WebhookMutation
from schema.inputs import JourneyInput, RecordRefInput
from schema.permissions import DataWrite
from schema.types import BulkResult, EraseResult, RecordError, RecordResult
from service.domain.model import RecordStatus
from service.ingest.service import BulkOutcome


def _bulk_result(outcome: BulkOutcome) -> BulkResult:
    return BulkResult(
        data_version=outcome.data_version,
        inserted=outcome.count(RecordStatus.INSERTED),
        updated=outcome.count(RecordStatus.UPDATED),
        unchanged=outcome.count(RecordStatus.UNCHANGED),
        rejected=outcome.count(RecordStatus.REJECTED),
        results=[
            RecordResult(
                index=r.index,
                external_id=r.external_id,
                status=r.status,
                id=strawberry.ID(r.id) if r.id else None,
                error=RecordError(code=r.error.code, field=r.error.field, message=r.error.message)
                if r.error
                else None,
            )
            for r in outcome.results
        ],
    )


@strawberry.type
class Mutation(WebhookMutation):
    @strawberry.mutation(
        permission_classes=[DataWrite],
        description="Create or replace a journey and its ordered stages.",
    )
    async def define_journey(self, info: CxInfo, input: JourneyInput) -> Journey:
        ctx = info.context
        doc = await ctx.ingestor.define_journey(ctx.tenant, as_record(input))
        return Journey.of(doc)

    @strawberry.mutation(
        permission_classes=[DataWrite],
        description="Insert or update customers, idempotently by source+externalId.",
    )
    async def upsert_customers(self, info: CxInfo, input: CustomerRecords) -> BulkResult:
        ctx = info.context
        return _bulk_result(await ctx.ingestor.upsert_customers(ctx.tenant, input))

    @strawberry.mutation(
        permission_classes=[DataWrite],
        description="Record interactions; unknown customers are created as stubs.",
    )
    async def record_touchpoints(self, info: CxInfo, input: TouchpointRecords) -> BulkResult:
        ctx = info.context
        return _bulk_result(await ctx.ingestor.record_touchpoints(ctx.tenant, input))

    @strawberry.mutation(
        permission_classes=[DataWrite], description="Submit survey responses with their answers."
    )
    async def submit_survey_responses(
        self, info: CxInfo, input: SurveyResponseRecords
    ) -> BulkResult:
        ctx = info.context
        outcome = await ctx.ingestor.submit_survey_responses(ctx.tenant, input)
        return _bulk_result(outcome)

    @strawberry.mutation(
        permission_classes=[DataWrite],
        description="Remove a customer's personal data (name, e-mail, attributes, comments); "
        "its anonymous answers stay, so aggregates do not move.",
    )
    async def erase_customer(self, info: CxInfo, ref: RecordRefInput) -> EraseResult:
        ctx = info.context
        erased, version = await ctx.ingestor.erase_customer(
            ctx.tenant, ref.source, ref.external_id, ctx.principal.credential_id
        )
        return EraseResult(customer=erased.customer, survey_responses=erased.survey_responses,
                           data_version=version)  # fmt: skip
