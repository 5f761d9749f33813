"""Local calendars of trend periods: Solar Hijri and Umm al-Qura months, weeks from any day.

Pure and on civil dates (local days of the query's timezone); timeframe.py turns them into
instants. The conversions come from maintained libraries, never from tables of ours
(docs/adr/0019-local-calendars.md):

- PERSIAN (Solar Hijri): ``persiantools``. Farvardin to Shahrivar have 31 days, Mehr to
  Bahman 30, Esfand 29 or 30; the year begins on Nowruz, the day of the March equinox when it
  falls before noon in Iran (52.5°E), else the day after. persiantools keeps to that rule
  through the official leap-year table (its 33-year rule with corrections); it supports
  years 1-9377 (622-03-22 to 9999-03-20).
- ISLAMIC_UMALQURA: ``hijridate``, Saudi Arabia's published Umm al-Qura table: months of 29
  or 30 days, 1343-01-01 to 1500-12-30 AH (1924-08-01 to 2077-11-16).

A day a calendar cannot convert answers CALENDAR_OUT_OF_RANGE with that range.
"""

from __future__ import annotations

import calendar as gregorian
from datetime import date, timedelta

from hijridate import Gregorian, Hijri
from hijridate.ummalqura import GREGORIAN_RANGE
from persiantools.jdatetime import MAXYEAR, MINYEAR, JalaliDate

from service.domain.errors import BadUserInput
from service.domain.model import Calendar, Granularity, WeekStart

YearMonthDay = tuple[int, int, int]

_FIRST_WEEKDAY = {WeekStart.MONDAY: 0, WeekStart.SATURDAY: 5, WeekStart.SUNDAY: 6}

# persiantools' constructors carry no annotations: these are its only untyped calls.
_PERSIAN_FIRST = JalaliDate(MINYEAR, 1, 1)  # type: ignore[no-untyped-call]
_PERSIAN_LAST = JalaliDate(MAXYEAR, 12, JalaliDate.days_in_month(12, MAXYEAR))  # type: ignore[no-untyped-call]

SUPPORTED: dict[Calendar, tuple[date, date]] = {
    Calendar.GREGORIAN: (date.min, date.max),
    Calendar.PERSIAN: (_PERSIAN_FIRST.to_gregorian(), _PERSIAN_LAST.to_gregorian()),
    Calendar.ISLAMIC_UMALQURA: (date(*GREGORIAN_RANGE[0]), date(*GREGORIAN_RANGE[1])),
}


class CalendarOutOfRange(BadUserInput):
    def __init__(self, calendar: Calendar, day: date | None = None) -> None:
        first, last = SUPPORTED[calendar]
        where = f"{day.isoformat()} is" if day is not None else "this trend's periods reach"
        super().__init__(
            f"{where} outside the dates the {calendar.value} calendar supports "
            f"({first.isoformat()} to {last.isoformat()}): ask for a window inside them",
            reason="CALENDAR_OUT_OF_RANGE", calendar=calendar.value,
            supported={"from": first.isoformat(), "to": last.isoformat()},
        )  # fmt: skip


def local_date(day: date, calendar: Calendar) -> YearMonthDay:
    """A civil date as (year, month, day) of ``calendar``."""
    try:
        if calendar is Calendar.PERSIAN:
            j = JalaliDate.to_jalali(day)  # type: ignore[no-untyped-call]
            return j.year, j.month, j.day
        if calendar is Calendar.ISLAMIC_UMALQURA:
            h = Gregorian.fromdate(day).to_hijri()
            return h.year, h.month, h.day
    except (OverflowError, ValueError):
        raise CalendarOutOfRange(calendar, day) from None
    return day.year, day.month, day.day


def month_length(year: int, month: int, calendar: Calendar) -> int:
    if calendar is Calendar.PERSIAN:
        return int(JalaliDate.days_in_month(month, year))
    if calendar is Calendar.ISLAMIC_UMALQURA:
        return Hijri(year, month, 1).month_length()
    return gregorian.monthrange(year, month)[1]


def month_first_day(day: date, calendar: Calendar) -> date:
    """The first day of the month of ``calendar`` that holds ``day``."""
    return day - timedelta(days=local_date(day, calendar)[2] - 1)


def next_month_first_day(first: date, calendar: Calendar) -> date:
    """The first day of the month after the one that begins on ``first``."""
    year, month, _ = local_date(first, calendar)
    try:
        return first + timedelta(days=month_length(year, month, calendar))
    except OverflowError:
        raise CalendarOutOfRange(calendar) from None


def week_first_day(day: date, week_start: WeekStart) -> date:
    return day - timedelta(days=(day.weekday() - _FIRST_WEEKDAY[week_start]) % 7)


def label(first: date, granularity: Granularity, calendar: Calendar) -> str:
    """A period's name in ``calendar``: ``1405-01`` for a month; for a day, and for a week
    (named by its first day), ``1405-01-01``."""
    year, month, day = local_date(first, calendar)
    if granularity is Granularity.MONTH:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"
