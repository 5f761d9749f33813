"""Windows, trend periods and their split into whole tenant-local days plus partial edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain import Granularity
from service.errors import BadUserInput


@dataclass(frozen=True)
class Window:
    """Half-open [start, end), both aware and in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Period:
    label: datetime  # the calendar start of the period in the query's timezone
    window: Window  # the part of the query window the period covers


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadUserInput(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin or Asia/Tehran",
            reason="UNKNOWN_TIMEZONE",
        ) from None


def window(start: datetime, end: datetime, max_days: int) -> Window:
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadUserInput(f"window.{name} needs a UTC offset (Z or +03:30)",
                               reason="MISSING_UTC_OFFSET")  # fmt: skip
    if end <= start:
        raise BadUserInput("the window is empty or reversed: `to` must be after `from`",
                           reason="INVALID_WINDOW")  # fmt: skip
    if end - start > timedelta(days=max_days):
        raise BadUserInput(
            f"the window is longer than {max_days} days (CX_MAX_WINDOW_DAYS)",
            reason="WINDOW_TOO_LONG", maximum=max_days,
        )  # fmt: skip
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local date (fold=0 picks the earliest; a gap maps forward)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def default_window(tz: ZoneInfo, now: datetime, days: int = 30) -> Window:
    today = now.astimezone(tz).date()
    return Window(day_start(today - timedelta(days=days - 1), tz),
                  day_start(today + timedelta(days=1), tz))  # fmt: skip


def _period_start(day: date, granularity: Granularity) -> date:
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def _next_period(start: date, granularity: Granularity) -> date:
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(win: Window, granularity: Granularity, tz: ZoneInfo) -> list[Period]:
    out: list[Period] = []
    local = _period_start(win.start.astimezone(tz).date(), granularity)
    while True:
        start = day_start(local, tz)
        if start >= win.end:
            return out
        nxt = _next_period(local, granularity)
        end = day_start(nxt, tz)
        clipped = Window(max(start, win.start), min(end, win.end))
        if clipped.start < clipped.end:
            out.append(Period(label=start.astimezone(tz), window=clipped))
        local = nxt


@dataclass(frozen=True)
class Split:
    days: list[date]  # tenant-local days wholly inside the range: read from rollups
    edges: list[Window]  # what is left at the range's ends: read from raw documents


def split_into_days(win: Window, tz: ZoneInfo) -> Split:
    first = win.start.astimezone(tz).date()
    if day_start(first, tz) < win.start:
        first += timedelta(days=1)
    days: list[date] = []
    day = first
    while day_start(day + timedelta(days=1), tz) <= win.end:
        days.append(day)
        day += timedelta(days=1)
    if not days:
        return Split(days=[], edges=[win])
    edges = []
    head_end, tail_start = day_start(days[0], tz), day_start(days[-1] + timedelta(days=1), tz)
    if win.start < head_end:
        edges.append(Window(win.start, head_end))
    if tail_start < win.end:
        edges.append(Window(tail_start, win.end))
    return Split(days=days, edges=edges)
