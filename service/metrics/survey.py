"""Survey metrics: cells from rollups (whole tenant-local days) and raw edges, or all raw."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from service.metrics.cells import (
    Cell,
    CellKey,
    GroupKey,
    PackedGrouper,
    ScaledHistograms,
    group_cells,
)
from service.metrics.query import SURVEY_FAMILY, MetricQuery, PeriodKey, Source
from service.metrics.timeframe import Window, split_into_days
from service.store import rollups, survey_cells
from service.store.client import Mongo
from service.store.survey_cells import PeriodBy

_UNIT = {"DAY": "day", "WEEK": "week", "MONTH": "month"}


def _period_by(q: MetricQuery) -> PeriodBy:
    if q.granularity is None:
        return PeriodBy()
    return PeriodBy(unit=_UNIT[q.granularity.value], timezone=q.timezone.key)


def _tag(raw: dict[tuple[Any, str], dict[CellKey, Cell]]) -> list[tuple[PeriodKey, Cell]]:
    """Pipeline cells with their period: None, or a period start as a UTC timestamp."""
    out: list[tuple[PeriodKey, Cell]] = []
    for (period, _family), cells in raw.items():
        assert period is None or isinstance(period, float)
        out.extend((period, c) for c in cells.values())
    return out


async def raw_cells(mongo: Mongo, tenant: str, q: MetricQuery) -> list[tuple[PeriodKey, Cell]]:
    family = SURVEY_FAMILY[q.kind]
    found = await survey_cells.cells(mongo, tenant, [q.window], q.filter, _period_by(q), family)
    return _tag(found)


async def rollup_histograms(
    mongo: Mongo, tenant: str, tenant_tz: ZoneInfo, q: MetricQuery
) -> dict[tuple[PeriodKey, GroupKey], ScaledHistograms]:
    family = SURVEY_FAMILY[q.kind]
    day_period: dict[str, PeriodKey] = {}
    edges: list[Window] = []
    for key, win in q.periods():
        split = split_into_days(win, tenant_tz)
        day_period.update((d.isoformat(), key) for d in split.days)
        edges.extend(split.edges)

    current = await rollups.current_state(mongo, tenant, tenant_tz)
    with_data = [d for d in day_period if current.written.get(d)]
    stale = current.stale(with_data)
    stale_set = set(stale)
    fresh = [d for d in with_data if d not in stale_set]

    out: list[tuple[PeriodKey, Cell]] = []
    computed = await rollups.materialize(mongo, tenant, tenant_tz, stale, current)
    for (day, fam), cells in computed.items():
        if fam == family:
            out.extend((day_period[day], c) for c in cells)
    if edges:
        found = await survey_cells.cells(mongo, tenant, edges, q.filter, _period_by(q), family)
        out.extend(_tag(found))
    grouper: PackedGrouper[PeriodKey] = PackedGrouper(q.filter, q.by)
    for day, packed_days in (await rollups.read(mongo, tenant, family, fresh, current)).items():
        for packed in packed_days:
            grouper.add(day_period[day], packed)
    grouped = grouper.result()
    for group, hists in group_cells(out, q.filter, q.by).items():
        target = grouped.setdefault(group, ScaledHistograms())
        for scale, hist in hists.by_scale.items():
            target.add(scale, hist)
    return grouped


async def histograms(
    mongo: Mongo, tenant: str, tenant_tz: ZoneInfo, q: MetricQuery
) -> dict[tuple[PeriodKey, GroupKey], ScaledHistograms]:
    if q.source is Source.RAW:
        return group_cells(await raw_cells(mongo, tenant, q), q.filter, q.by)
    return await rollup_histograms(mongo, tenant, tenant_tz, q)
