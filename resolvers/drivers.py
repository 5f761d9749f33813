"""The `drivers` query: thin — check arguments, ask the key-driver analysis, wrap it."""

from __future__ import annotations

import strawberry

from resolvers.arguments import cell_filter, checked_window
from resolvers.context import CxInfo
from schema.drivers import DriverAnalysis
from schema.inputs import TimeWindow
from schema.metrics import MetricFilter, MetricWindow
from schema.permissions import MetricsRead
from service.domain.metrics.driver_results import DriversQuery
from service.domain.metrics.timeframe import zone
from service.domain.model import MetricKind
from service.metrics import driver_analysis


@strawberry.type
class DriversField:
    @strawberry.field(
        permission_classes=[MetricsRead],
        description="Which of the six CX components, emotion and value-for-effort move an "
        "outcome rating: correlations, Johnson's relative weights with bootstrap intervals, "
        "and the importance-vs-performance quadrant (docs/metrics.md, Drivers). Window "
        "default: the last 30 days.",
    )
    async def drivers(
        self,
        info: CxInfo,
        outcome: MetricKind = MetricKind.NPS,
        window: TimeWindow | None = None,
        filter: MetricFilter | None = None,
        min_data_version: int | None = None,
    ) -> DriverAnalysis | None:
        ctx = info.context
        q = DriversQuery(outcome=outcome, window=checked_window(ctx.settings, window),
                         filter=cell_filter(filter))  # fmt: skip
        result = await driver_analysis.analyse(ctx.metrics, ctx.tenant, q, min_data_version)
        return DriverAnalysis.of(result, MetricWindow.of(q.window, zone(ctx.settings.timezone)))
