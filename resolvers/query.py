"""Root queries: thin — read arguments, call the reader, wrap records in types."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry

from resolvers.context import CxInfo
from resolvers.drivers import DriversField
from resolvers.metrics import MetricsQuery
from resolvers.nodes import Customer, Journey, SurveyResponse, Touchpoint
from resolvers.webhooks import WebhookQuery
from schema.connections import Connection
from schema.enums import RecordOrder
from schema.inputs import RecordFilter as RecordFilterInput
from schema.inputs import RecordRefInput
from schema.permissions import DataRead, JourneysRead
from service.domain.errors import BadUserInput
from service.domain.records import RecordFilter
from service.domain.search_terms import search_terms

SEARCH = (
    "Words the comment must all contain, whole words, in any order; case, Arabic/Persian "
    "letter forms, diacritics and the zero-width non-joiner are ignored (docs/ingestion.md)."
)


def _filter(flt: RecordFilterInput | None) -> RecordFilter:
    if flt is None:
        return RecordFilter()
    return RecordFilter(
        customer_id=str(flt.customer) if flt.customer is not None else None,
        journey=flt.journey,
        stage=flt.stage,
        channel=flt.channel.value if flt.channel is not None else None,
        start=flt.window.from_ if flt.window else None,
        end=flt.window.to if flt.window else None,
    )


@strawberry.type
class Query(MetricsQuery, DriversField, WebhookQuery):
    # Nullable like the metric fields (ADR 7): a field the credential may not read answers
    # null with FORBIDDEN, and the fields it may read still answer.
    @strawberry.field(permission_classes=[JourneysRead])
    async def journeys(self, info: CxInfo) -> list[Journey] | None:
        ctx = info.context
        return [Journey.of(j) for j in await ctx.reader.journeys(ctx.tenant)]

    @strawberry.field(permission_classes=[JourneysRead])
    async def journey(self, info: CxInfo, key: str) -> Journey | None:
        ctx = info.context
        doc = await ctx.reader.journey(ctx.tenant, key)
        return Journey.of(doc) if doc else None

    @strawberry.field(
        permission_classes=[DataRead],
        description="One customer, by its id or by its partner reference.",
    )
    async def customer(
        self, info: CxInfo, id: strawberry.ID | None = None, ref: RecordRefInput | None = None
    ) -> Customer | None:
        ctx = info.context
        if (id is None) == (ref is None):
            raise BadUserInput("pass exactly one of id or ref", reason="INVALID_ARGUMENTS")
        if ref is not None:
            doc = await ctx.reader.customer_by_ref(ctx.tenant, ref.source, ref.external_id)
        else:
            doc = await ctx.reader.customer(ctx.tenant, str(id))
        return Customer.of(doc) if doc else None

    @strawberry.field(permission_classes=[DataRead])
    async def customers(
        self,
        info: CxInfo,
        segment: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Customer] | None:
        ctx = info.context
        page = await ctx.reader.customers(ctx.tenant, segment, first, after)
        return Connection.from_page(page, Customer.of)

    @strawberry.field(permission_classes=[DataRead])
    async def touchpoints(
        self,
        info: CxInfo,
        filter: RecordFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: RecordOrder = RecordOrder.OLDEST_FIRST,
    ) -> Connection[Touchpoint] | None:
        ctx = info.context
        newest_first = order_by is RecordOrder.NEWEST_FIRST
        page = await ctx.reader.touchpoints(ctx.tenant, _filter(filter), first, after, newest_first)
        return Connection.from_page(page, Touchpoint.of)

    @strawberry.field(permission_classes=[DataRead])
    async def survey_responses(
        self,
        info: CxInfo,
        filter: RecordFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: RecordOrder = RecordOrder.OLDEST_FIRST,
        search: Annotated[str | None, strawberry.argument(description=SEARCH)] = None,
    ) -> Connection[SurveyResponse] | None:
        ctx = info.context
        newest_first = order_by is RecordOrder.NEWEST_FIRST
        flt = _filter(filter)
        if search is not None:
            flt = replace(flt, terms=tuple(search_terms(search, ctx.settings.max_string_length)))
        page = await ctx.reader.survey_responses(ctx.tenant, flt, first, after, newest_first)
        return Connection.from_page(page, SurveyResponse.of)
