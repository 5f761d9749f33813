"""Survey metrics: cells from rollups (whole days, quarter-hour slots), raw edges, or all raw."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.metrics.cells import (
    RESPONSE,
    Cell,
    CellKey,
    GroupKey,
    PackedGrouper,
    ScaledHistograms,
    group_cells,
    per_component,
)
from service.domain.metrics.query import SURVEY_FAMILY, MetricQuery, PeriodKey, Source
from service.domain.metrics.timeframe import DayPart, Window, split_into_slots
from service.domain.model import Dimension
from service.store import rollups, survey_cells
from service.store.client import Mongo
from service.store.rollups import RollupDay
from service.store.survey_cells import PeriodBy

_UNIT = {"DAY": "day", "WEEK": "week", "MONTH": "month"}


def _period_by(q: MetricQuery) -> PeriodBy:
    if q.granularity is None:
        return PeriodBy()
    if not q.gregorian_periods:  # local days, each then given its period (_tag)
        return PeriodBy(unit="date", timezone=q.timezone.key)
    return PeriodBy(unit=_UNIT[q.granularity.value], timezone=q.timezone.key)


def _tag(
    raw: dict[tuple[Any, str], dict[CellKey, Cell]], q: MetricQuery
) -> list[tuple[PeriodKey, Cell]]:
    """Pipeline cells with their period: None, or a period start as a UTC timestamp."""
    days = {} if q.gregorian_periods else day_periods(q)
    out: list[tuple[PeriodKey, Cell]] = []
    for (period, _family), cells in raw.items():
        if isinstance(period, str):
            period = days[period]
        assert period is None or isinstance(period, float)
        out.extend((period, c) for c in cells.values())
    return out


def day_periods(q: MetricQuery) -> dict[str, PeriodKey]:
    """Each local day ("YYYY-MM-DD" in the query's timezone) of the periods: its period."""
    out: dict[str, PeriodKey] = {}
    for p in q.period_list():
        day, last = p.label.date(), p.end.date()
        while day < last:
            out[day.isoformat()] = p.label.timestamp()
            day += timedelta(days=1)
    return out


def family_of(q: MetricQuery) -> str:
    """The cells a survey query reads. Answer cells hold one value per respondent: a
    response's answers of the metric averaged, or, for a COMPONENT breakdown or a filter of
    one component, averaged per component (``per_component``)."""
    family = SURVEY_FAMILY[q.kind]
    components = q.filter.components
    if family != RESPONSE and (
        Dimension.COMPONENT in q.by
        or q.component_units
        or (components is not None and len(components) <= 1)
    ):
        return per_component(family)
    return family


def needs_raw(q: MetricQuery) -> bool:
    """Whether only raw documents answer the query exactly. Rollups keep each response's
    mean over all its answers of a metric, and per component; a filter that picks some of
    a response's answers — ``questions``, or two components or more without a COMPONENT
    breakdown — asks for a mean over those answers only."""
    if q.filter.questions is not None:
        return True
    components = q.filter.components
    return (
        family_of(q) == SURVEY_FAMILY[q.kind] != RESPONSE
        and components is not None
        and len(components) > 1
    )


async def raw_cells(mongo: Mongo, tenant: str, q: MetricQuery) -> list[tuple[PeriodKey, Cell]]:
    family = family_of(q)
    found = await survey_cells.cells(mongo, tenant, [q.window], q.filter, _period_by(q), family)
    return _tag(found, q)


def add_part(
    grouper: PackedGrouper[PeriodKey], period: PeriodKey, stored: RollupDay, part: DayPart
) -> None:
    """Slots [first, last) of a day: summed, or the day less the other slots when those are
    fewer entries (a day cut one hour from its end reads that hour, not 23)."""
    slots = stored.slots
    assert slots is not None
    keys, count = stored.cells.keys, len(slots.starts) - 1
    inside = slots.entries(part.first, part.last)
    if inside <= slots.entries(0, count) - inside + len(keys):
        grouper.add_slots(period, keys, slots, part.first, part.last)
        return
    grouper.add(period, stored.cells)
    grouper.add_slots(period, keys, slots, 0, part.first, sign=-1)
    grouper.add_slots(period, keys, slots, part.last, count, sign=-1)


async def _no_cells() -> dict[tuple[Any, str], dict[CellKey, Cell]]:
    return {}


async def rollup_histograms(
    mongo: Mongo, tenant: str, tenant_tz: ZoneInfo, q: MetricQuery
) -> dict[tuple[PeriodKey, GroupKey], ScaledHistograms]:
    """Whole tenant-local days from day rollups, the parts of days a period boundary cuts
    (another timezone's midnight, an unaligned window) from slot rollups, and what is left
    of an end off the quarter-hour grid from raw documents: exact, in any timezone."""
    family = family_of(q)
    whole: dict[str, PeriodKey] = {}
    parts: list[tuple[PeriodKey, DayPart]] = []
    edges: list[Window] = []
    for key, win in q.periods():
        split = split_into_slots(win, tenant_tz)
        whole.update((d.isoformat(), key) for d in split.days)
        parts.extend((key, part) for part in split.parts)
        edges.extend(split.edges)
    cut = {part.day.isoformat() for _, part in parts}

    current = await rollups.current_state(mongo, tenant, tenant_tz)
    stale = set(current.stale(d for d in [*whole, *cut] if current.written.get(d)))
    fresh = [d for d in whole if current.written.get(d) and d not in stale]
    fresh_cut = [d for d in cut if current.written.get(d) and d not in stale]

    computed = await rollups.materialize(mongo, tenant, tenant_tz, sorted(stale), current, family)
    stored_whole, stored_cut, edge_cells = await asyncio.gather(
        rollups.read(mongo, tenant, family, fresh, current),
        rollups.read(mongo, tenant, family, fresh_cut, current, slots=True),
        survey_cells.cells(mongo, tenant, edges, q.filter, _period_by(q), family)
        if edges else _no_cells(),
    )  # fmt: skip
    days: dict[str, list[RollupDay]] = {**stored_whole, **stored_cut}
    for (day, fam), stored in computed.items():
        if fam == family:
            days.setdefault(day, []).append(stored)

    grouper: PackedGrouper[PeriodKey] = PackedGrouper(q.filter, q.by)
    for day, period in whole.items():
        for stored in days.get(day, ()):
            grouper.add(period, stored.cells)
    for period, part in parts:
        for stored in days.get(part.day.isoformat(), ()):
            add_part(grouper, period, stored, part)
    grouped = grouper.result()
    for group, hists in group_cells(_tag(edge_cells, q), q.filter, q.by).items():
        target = grouped.setdefault(group, ScaledHistograms())
        for measure, hist in hists.by_scale.items():
            target.add(measure, hist)
    return grouped


async def histograms(
    mongo: Mongo, tenant: str, tenant_tz: ZoneInfo, q: MetricQuery
) -> dict[tuple[PeriodKey, GroupKey], ScaledHistograms]:
    if q.source is Source.RAW or needs_raw(q):
        return group_cells(await raw_cells(mongo, tenant, q), q.filter, q.by)
    return await rollup_histograms(mongo, tenant, tenant_tz, q)
