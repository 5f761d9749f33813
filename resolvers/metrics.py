"""Root metric queries: thin — check arguments into a query, ask the metrics service."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import strawberry

from resolvers.arguments import build_query, cell_filter, checked_window
from resolvers.context import CxInfo
from schema.inputs import TimeWindow
from schema.metrics import (
    Comparand,
    Comparison,
    DimensionValue,
    FunnelStage,
    MetricFilter,
    MetricGroup,
    MetricResult,
    Segment,
    SignificanceTest,
    TrendPoint,
)
from schema.permissions import MetricsRead
from service.domain.errors import BadUserInput
from service.domain.metrics import multiple
from service.domain.metrics.multiple import Adjustment, Against, GroupTest, Outcome, Withheld
from service.domain.metrics.query import IncompatibleDirections, IncompatibleScales, Source
from service.domain.model import Calendar, Dimension, Granularity, MetricKind, WeekStart
from service.metrics.service import MetricResult as Result


def _outcome(result: Result) -> Outcome:
    return Outcome(value=result.value, low_sample=result.low_sample)


def _check(significance: Against | None, wanted: Against, query: str) -> None:
    if significance is not None and significance is not wanted:
        raise BadUserInput(f"{query} tests with significance: {wanted.value} only",
                           reason="UNSUPPORTED_SIGNIFICANCE")  # fmt: skip


# `source` is a name strawberry's permission extension passes on its own: the Python
# parameter is `source_`, the GraphQL argument stays `source`.
SourceArgument = Annotated[Source, strawberry.argument(name="source")]


@strawberry.type
class MetricsQuery:
    # Every metric field is nullable: one that fails (a timeout, a bad argument) answers null
    # with its error, and the rest of the request still answers (docs/adr/0007).
    @strawberry.field(
        permission_classes=[MetricsRead],
        description="One metric over a window (default: the last 30 days).",
    )
    async def metric(
        self,
        info: CxInfo,
        kind: MetricKind,
        window: TimeWindow | None = None,
        filter: MetricFilter | None = None,
        min_data_version: int | None = None,
        source_: SourceArgument = Source.AUTO,
    ) -> MetricResult | None:
        ctx = info.context
        q = build_query(ctx.settings, kind, window, filter, source=source_)
        outcome = await ctx.metrics.metric(ctx.tenant, q, min_data_version)
        return MetricResult.from_outcome(outcome, q)

    @strawberry.field(
        permission_classes=[MetricsRead], description="A metric per group of one or two dimensions."
    )
    async def breakdown(
        self,
        info: CxInfo,
        kind: MetricKind,
        by: list[Dimension],
        window: TimeWindow | None = None,
        filter: MetricFilter | None = None,
        min_data_version: int | None = None,
        source_: SourceArgument = Source.AUTO,
        significance: Against | None = None,
        adjustment: Adjustment = Adjustment.HOLM,
    ) -> list[MetricGroup] | None:
        ctx = info.context
        _check(significance, Against.VS_REST, "breakdown")
        q = build_query(ctx.settings, kind, window, filter, by=by, source=source_)
        rows = await ctx.metrics.breakdown(ctx.tenant, q, min_data_version)
        tests: list[GroupTest | None] = [None] * len(rows)
        if significance is not None and rows:
            total: Outcome | None = None
            no_total = Withheld.INCOMPATIBLE_SCALES
            try:  # the whole filtered population, at the groups' data version
                whole = build_query(ctx.settings, kind, window, filter, source=source_)
                # the groups' units: a COMPONENT breakdown's are per response and component
                whole = replace(whole, component_units=Dimension.COMPONENT in by)
                version = rows[0][1].data_version
                total = _outcome(await ctx.metrics.metric(ctx.tenant, whole, version))
            except IncompatibleScales:
                total = None
            except IncompatibleDirections:
                total, no_total = None, Withheld.INCOMPATIBLE_DIRECTIONS
            groups = [_outcome(result) for _, result in rows]
            tests = list(multiple.vs_rest(kind, total, groups, adjustment, no_total))
        return [
            MetricGroup(
                keys=[DimensionValue(dimension=d, value=v) for d, v in zip(by, keys, strict=True)],
                result=MetricResult.from_outcome(result, q),
                test=SignificanceTest.of(test) if test else None,
            )
            for (keys, result), test in zip(rows, tests, strict=True)
        ]

    @strawberry.field(
        permission_classes=[MetricsRead],
        description="A metric per day, week or month of a calendar (the tenant's unless "
        "given); empty periods included.",
    )
    async def trend(
        self,
        info: CxInfo,
        kind: MetricKind,
        granularity: Granularity,
        window: TimeWindow,
        timezone: str | None = None,
        filter: MetricFilter | None = None,
        min_data_version: int | None = None,
        source_: SourceArgument = Source.AUTO,
        significance: Against | None = None,
        adjustment: Adjustment = Adjustment.HOLM,
        calendar: Calendar | None = None,
        week_start: WeekStart | None = None,
    ) -> list[TrendPoint] | None:
        ctx = info.context
        _check(significance, Against.VS_PREVIOUS, "trend")
        q = build_query(ctx.settings, kind, window, filter, granularity=granularity,
                        timezone=timezone, source=source_, calendar=calendar,
                        week_start=week_start)  # fmt: skip
        points = await ctx.metrics.trend(ctx.tenant, q, min_data_version)
        tests: list[GroupTest | None] = [None] * len(points)
        if significance is not None:
            outcomes = [_outcome(r) for _, r in points]
            tests = list(multiple.vs_previous(kind, outcomes, adjustment))
        periods = q.period_list()
        return [TrendPoint(period_start=label, period_end=p.end, label=p.name,
                           result=MetricResult.from_outcome(r, q, p.window),
                           test=SignificanceTest.of(t) if t else None)
                for (label, r), t, p in zip(points, tests, periods, strict=True)]  # fmt: skip

    @strawberry.field(
        permission_classes=[MetricsRead],
        description="Two filters or periods side by side, with a p-value.",
    )
    async def compare(
        self, info: CxInfo, kind: MetricKind, a: Comparand, b: Comparand
    ) -> Comparison | None:
        ctx = info.context
        qa = build_query(ctx.settings, kind, a.window, a.filter)
        qb = build_query(ctx.settings, kind, b.window, b.filter)
        c = await ctx.metrics.compare(ctx.tenant, qa, qb)
        return Comparison(
            a=MetricResult.from_outcome(c.a, qa), b=MetricResult.from_outcome(c.b, qb),
            difference=c.difference, p_value=c.p_value, significant=c.significant,
        )  # fmt: skip

    @strawberry.field(
        permission_classes=[MetricsRead],
        description="The cohort that entered a journey's first stage in the window, followed "
        "through each stage in order.",
    )
    async def journey_funnel(
        self,
        info: CxInfo,
        journey: str,
        window: TimeWindow | None = None,
        filter: MetricFilter | None = None,
    ) -> list[FunnelStage] | None:
        ctx = info.context
        win = checked_window(ctx.settings, window)
        steps = await ctx.metrics.funnel(ctx.tenant, journey, win, cell_filter(filter))
        names = await ctx.reader.stage_names(ctx.tenant, journey)
        return [
            FunnelStage(stage=st.stage, stage_name=names.get(st.stage, st.stage),
                        customers=st.customers,
                        conversion_from_previous=st.conversion_from_previous,
                        median_hours_to_next_stage=st.median_hours_to_next_stage)
            for st in steps
        ]  # fmt: skip

    @strawberry.field(
        permission_classes=[MetricsRead], description="Segments with their number of customers."
    )
    async def segments(self, info: CxInfo) -> list[Segment] | None:
        ctx = info.context
        return [Segment(key=k, customers=n) for k, n in await ctx.metrics.segments(ctx.tenant)]
