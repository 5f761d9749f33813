"""Calendar dates for the oracle, from sources independent of the service's libraries.

- PERSIAN: the Solar Hijri year begins on Nowruz, the day of the March equinox reckoned at
  Iran's meridian (52.5°E, before apparent noon: that day, else the next). Nowruz comes from
  convertdate's astronomical Persian calendar (the equinox computed with PyMeeus, Meeus's
  algorithms); the months are the calendar's definition: Farvardin to Shahrivar 31 days,
  Mehr to Bahman 30, Esfand whatever is left before the next Nowruz. The service uses
  persiantools' arithmetic instead.
- ISLAMIC_UMALQURA: ICU's islamic-umalqura calendar (icu4py, which ships ICU4C); the service
  uses hijridate's copy of the published table. ICU's table gives the published dates only
  from 1 Muharram 1420 to 29 Rabi' al-Awwal 1451 (1999-04-17 to 2029-08-10): before and
  after, it differs from it in hundreds of months, so the oracle refuses those dates rather
  than give an answer known to be wrong.
- weeks: weekday arithmetic of its own.

Dates are civil dates (local days); the caller places them in a timezone.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from convertdate import persian
from icu4py.messageformat import MessageFormat

UMALQURA_CHECKED = (date(1999, 4, 17), date(2029, 8, 10))
# ISO weekday (Monday 1 ... Sunday 7) each week starts on
WEEK_START_ISO = {"MONDAY": 1, "SATURDAY": 6, "SUNDAY": 7}
PERSIAN_MONTH_DAYS = (31, 31, 31, 31, 31, 31, 30, 30, 30, 30, 30)  # Farvardin .. Bahman

_UMALQURA = MessageFormat("{d, date, y-MM-dd}", "en-u-ca-islamic-umalqura")


@cache
def nowruz(gregorian_year: int) -> date:
    """1 Farvardin of the Persian year that begins in March of ``gregorian_year``."""
    return date(*persian.to_gregorian(gregorian_year - 621, 1, 1))


def persian_date(day: date) -> tuple[int, int, int]:
    start = nowruz(day.year)
    if day < start:
        start = nowruz(day.year - 1)
    year, left = start.year - 621, (day - start).days
    for month, length in enumerate(PERSIAN_MONTH_DAYS, start=1):
        if left < length:
            return year, month, left + 1
        left -= length
    assert left < (nowruz(start.year + 1) - start).days - 336
    return year, 12, left + 1


def umalqura_date(day: date) -> tuple[int, int, int]:
    if not UMALQURA_CHECKED[0] <= day <= UMALQURA_CHECKED[1]:
        raise ValueError(f"{day} is outside the span where ICU's Umm al-Qura table is checked")
    year, month, dom = _UMALQURA.format({"d": day}).strip().split("-")
    return int(year), int(month), int(dom)


def local_date(day: date, calendar: str) -> tuple[int, int, int]:
    if calendar == "PERSIAN":
        return persian_date(day)
    if calendar == "ISLAMIC_UMALQURA":
        return umalqura_date(day)
    if calendar == "GREGORIAN":
        return day.year, day.month, day.day
    raise ValueError(f"unknown calendar {calendar!r}")


def month_first_day(day: date, calendar: str) -> date:
    return day - timedelta(days=local_date(day, calendar)[2] - 1)


def next_month_first_day(first: date, calendar: str) -> date:
    """The next day that is the first of a month (found by walking, not by month lengths)."""
    day = first + timedelta(days=28)
    while local_date(day, calendar)[2] != 1:
        day += timedelta(days=1)
    return day


def week_first_day(day: date, week_start: str) -> date:
    return day - timedelta(days=(day.isoweekday() - WEEK_START_ISO[week_start]) % 7)


def label(first: date, granularity: str, calendar: str) -> str:
    year, month, dom = local_date(first, calendar)
    if granularity == "MONTH":
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{dom:02d}"
