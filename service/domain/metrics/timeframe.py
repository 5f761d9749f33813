"""Windows, trend periods and their split into whole tenant-local days plus partial edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.errors import BadUserInput
from service.domain.metrics import calendars
from service.domain.model import Calendar, Granularity, WeekStart


@dataclass(frozen=True)
class Window:
    """Half-open [start, end), both aware and in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Period:
    label: datetime  # the calendar start of the period in the query's timezone
    window: Window  # the part of the query window the period covers
    end: datetime  # the calendar end of the period (the next one's start), same timezone
    name: str  # the period in its calendar: 1405-01 (month), 1405-01-01 (day, week's first day)


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


def _period_start(day: date, granularity: Granularity, calendar: Calendar,
                  week_start: WeekStart) -> date:  # fmt: skip
    if granularity is Granularity.WEEK:
        return calendars.week_first_day(day, week_start)
    if granularity is Granularity.MONTH:
        return calendars.month_first_day(day, calendar)
    return day


def _next_period(start: date, granularity: Granularity, calendar: Calendar) -> date:
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    return calendars.next_month_first_day(start, calendar)


def periods(
    win: Window,
    granularity: Granularity,
    tz: ZoneInfo,
    calendar: Calendar = Calendar.GREGORIAN,
    week_start: WeekStart = WeekStart.MONDAY,
) -> list[Period]:
    """The periods of ``calendar`` (weeks from ``week_start``) in ``tz`` that meet ``win``."""
    out: list[Period] = []
    local = _period_start(win.start.astimezone(tz).date(), granularity, calendar, week_start)
    while True:
        start = day_start(local, tz)
        if start >= win.end:
            return out
        try:
            nxt = _next_period(local, granularity, calendar)
        except OverflowError:
            raise calendars.CalendarOutOfRange(calendar) from None
        end = day_start(nxt, tz)
        clipped = Window(max(start, win.start), min(end, win.end))
        if clipped.start < clipped.end:
            out.append(Period(label=start.astimezone(tz), window=clipped,
                              end=end.astimezone(tz),
                              name=calendars.label(local, granularity, calendar)))  # fmt: skip
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


# -- quarter-hour slots ---------------------------------------------------------------------
# Rollups keep each tenant-local day also in slots of the UTC quarter-hour grid, so a query
# in another timezone reads the part of a day it needs from rollups: every timezone's
# midnight is on that grid today (offsets are whole quarter hours: +03:30, +05:45, -09:30).

SLOT = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def grid_floor(instant: datetime) -> datetime:
    return _EPOCH + ((instant - _EPOCH) // SLOT) * SLOT


def on_grid(instant: datetime) -> bool:
    return (instant - _EPOCH) % SLOT == timedelta(0)


def slot_of(instant: datetime, day: Window) -> int:
    """The slot of an instant within its day: slot 0 starts at the day's first instant, and
    the others on the grid (a day that does not start on the grid has a short slot 0)."""
    return (instant - grid_floor(day.start)) // SLOT


def slot_count(day: Window) -> int:
    return -((grid_floor(day.start) - day.end) // SLOT)


@dataclass(frozen=True)
class DayPart:
    day: date  # a tenant-local day
    first: int  # slots [first, last) of that day
    last: int


@dataclass(frozen=True)
class SlotSplit:
    days: list[date]  # whole tenant-local days: read from day rollups
    parts: list[DayPart]  # whole slots of the days cut by the range: read from slot rollups
    edges: list[Window]  # less than a slot at an unaligned end: read from raw documents


def _boundary(instant: datetime, day: Window, upward: bool) -> tuple[int, datetime]:
    """The slot boundary at or inside ``instant`` and the instant it stands for."""
    if instant in (day.start, day.end):
        return (0 if instant == day.start else slot_count(day)), instant
    aligned = grid_floor(instant)
    if aligned != instant and upward:
        aligned += SLOT
    return slot_of(aligned, day), aligned


def split_into_slots(win: Window, tz: ZoneInfo) -> SlotSplit:
    """``split_into_days``, with each partial day cut further into whole slots."""
    split = split_into_days(win, tz)
    parts: list[DayPart] = []
    edges: list[Window] = []
    for edge in split.edges:
        local = edge.start.astimezone(tz).date()
        while (start := day_start(local, tz)) < edge.end:
            day = Window(start, day_start(local + timedelta(days=1), tz))
            piece = Window(max(edge.start, day.start), min(edge.end, day.end))
            if piece.start < piece.end:
                first, lo = _boundary(piece.start, day, upward=True)
                last, hi = _boundary(piece.end, day, upward=False)
                if lo < hi:
                    parts.append(DayPart(local, first, last))
                    edges.extend(w for w in (Window(piece.start, lo), Window(hi, piece.end))
                                 if w.start < w.end)  # fmt: skip
                else:
                    edges.append(piece)
            local += timedelta(days=1)
    return SlotSplit(days=split.days, parts=parts, edges=edges)
