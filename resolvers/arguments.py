"""Arguments checked and turned into the domain's queries, before any I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum

from schema.enums import Channel, Component
from schema.inputs import TimeWindow
from schema.metrics import MAX_QUESTION_LENGTH, MAX_QUESTIONS, MetricFilter
from service.domain.errors import BadUserInput
from service.domain.metrics.cells import CellFilter
from service.domain.metrics.query import MetricQuery, Source
from service.domain.metrics.timeframe import Window, default_window, zone
from service.domain.metrics.timeframe import window as make_window
from service.domain.model import Calendar, Dimension, Granularity, MetricKind, WeekStart
from service.settings import Settings


def _questions(questions: list[str] | None) -> frozenset[str] | None:
    if questions is None:
        return None
    if len(questions) > MAX_QUESTIONS:
        raise BadUserInput(
            f"filter.questions has {len(questions)} ids; the limit is {MAX_QUESTIONS}",
            reason="INVALID_QUESTIONS", maximum=MAX_QUESTIONS,
        )  # fmt: skip
    for question in questions:
        if len(question) > MAX_QUESTION_LENGTH:
            raise BadUserInput(
                f"a question id in filter.questions is {len(question)} characters; the limit "
                f"is {MAX_QUESTION_LENGTH}",
                reason="INVALID_QUESTIONS", maximum=MAX_QUESTION_LENGTH,
            )  # fmt: skip
    return frozenset(questions)


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
        questions=_questions(flt.questions),
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
