"""Arguments checked and turned into the domain's queries, before any I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from schema.enums import Channel, Component
from schema.inputs import TimeWindow
from schema.metrics import MetricFilter
from service.domain.metrics.cells import CellFilter
from service.domain.metrics.query import MetricQuery, Source
from service.domain.metrics.timeframe import Window, default_window, zone
from service.domain.metrics.timeframe import window as make_window
from service.domain.model import Calendar, Dimension, Granularity, MetricKind, WeekStart
from service.settings import Settings


def cell_filter(flt: MetricFilter | None) -> CellFilter:
    if flt is None:
        return CellFilter()

    def values(items: list[str] | list[Channel] | list[Component] | None) -> frozenset[str] | None:
        if items is None:
            return None
        return frozenset(i.value if isinstance(i, Enum) else i for i in items)

    return CellFilter(
        segments=values(flt.segments), journeys=values(flt.journeys), stages=values(flt.stages),
        channels=values(flt.channels), components=values(flt.components),
    )  # fmt: skip


def build_query(
    settings: Settings,
    kind: MetricKind,
    window: TimeWindow | None,
    flt: MetricFilter | None,
    *,
    by: list[Dimension] | None = None,
    granularity: Granularity | None = None,
    timezone: str | None = None,
    source: Source = Source.AUTO,
    calendar: Calendar | None = None,
    week_start: WeekStart | None = None,
) -> MetricQuery:
    """Arguments checked and turned into the planner's query (no I/O); a calendar and week
    start not given are the tenant's."""
    tz = zone(timezone or settings.timezone)
    return MetricQuery(kind=kind, window=checked_window(settings, window),
                       filter=cell_filter(flt), by=tuple(by or ()), granularity=granularity,
                       timezone=tz, source=source, calendar=calendar or settings.calendar,
                       week_start=week_start or settings.week_start)  # fmt: skip


def checked_window(settings: Settings, window: TimeWindow | None) -> Window:
    """The window asked for, checked; without one, the tenant's last 30 days."""
    if window is None:
        return default_window(zone(settings.timezone), datetime.now(UTC))
    return make_window(window.from_, window.to, settings.max_window_days)
