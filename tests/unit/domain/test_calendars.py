"""Local calendars of trends (service/domain/metrics/calendars.py, timeframe.periods) against the
oracle's independent calendars (tests/oracle/calendars.py): convertdate's astronomical
Nowruz and ICU's Umm al-Qura table. No database."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.metrics import calendars
from service.domain.metrics.calendars import CalendarOutOfRange
from service.domain.metrics.timeframe import Window, periods
from service.domain.model import Calendar, Granularity, WeekStart
from tests.oracle import calendars as oracle
from tests.oracle.metrics import period_table

TEHRAN = ZoneInfo("Asia/Tehran")

# Published dates (Iran's calendar authority; Saudi Arabia's Umm al-Qura calendar). The
# March equinox, in Tehran time (+03:30): 2024-03-20 06:36, 2025-03-20 12:31,
# 2026-03-20 18:16 — before noon, Nowruz is that day; after noon, the next.
NOWRUZ = {1403: date(2024, 3, 20), 1404: date(2025, 3, 21), 1405: date(2026, 3, 21)}
# (year, month) -> (first day, days): Sha'ban 1447 has 29 days, Ramadan 1447 has 30
UMALQURA = {
    (1447, 8): (date(2026, 1, 20), 29),
    (1447, 9): (date(2026, 2, 18), 30),
    (1447, 10): (date(2026, 3, 20), 29),
}


def month_starts(calendar: Calendar, first: date, last: date) -> list[date]:
    out, day = [], calendars.month_first_day(first, calendar)
    while day <= last:
        out.append(day)
        day = calendars.next_month_first_day(day, calendar)
    return out


# -- Nowruz and the Persian months --------------------------------------------------------


@pytest.mark.parametrize(("year", "nowruz"), NOWRUZ.items())
def test_nowruz_falls_on_the_published_day_in_service_and_oracle(year: int, nowruz: date) -> None:
    assert oracle.nowruz(nowruz.year) == nowruz
    assert calendars.local_date(nowruz, Calendar.PERSIAN) == (year, 1, 1)
    assert calendars.local_date(nowruz - timedelta(days=1), Calendar.PERSIAN)[:2] == (year - 1, 12)
    assert calendars.month_first_day(nowruz + timedelta(days=30), Calendar.PERSIAN) == nowruz


def test_every_persian_month_from_1354_to_1454_matches_the_equinox_rule() -> None:
    """Every month start of 1354-1454 SH (1975-2076): the service's arithmetic against the
    oracle's Nowruz from the equinox plus the calendar's month lengths."""
    expected = []
    for gregorian_year in range(1975, 2076):
        day = oracle.nowruz(gregorian_year)
        for length in oracle.PERSIAN_MONTH_DAYS:
            expected.append(day)
            day += timedelta(days=length)
        expected.append(day)  # Esfand
    got = month_starts(Calendar.PERSIAN, expected[0], expected[-1])
    assert got == expected
    # both kinds of year occur: Esfand of 29 and of 30 days
    esfands = {(expected[i + 1] - expected[i]).days for i in range(11, len(expected) - 1, 12)}
    assert esfands == {29, 30}


# -- Umm al-Qura --------------------------------------------------------------------------


@pytest.mark.parametrize(("month", "start_days"), UMALQURA.items())
def test_umalqura_months_of_29_and_30_days(
    month: tuple[int, int], start_days: tuple[date, int]
) -> None:
    first, days = start_days
    following = first + timedelta(days=days)
    for convert in (lambda d: calendars.local_date(d, Calendar.ISLAMIC_UMALQURA),
                    lambda d: oracle.local_date(d, "ISLAMIC_UMALQURA")):  # fmt: skip
        assert convert(first) == (*month, 1)
        assert convert(following - timedelta(days=1)) == (*month, days)
        assert convert(following)[2] == 1


def test_every_umalqura_month_where_icu_is_checked_matches_it() -> None:
    """1420-01 to 1451-03 AH: hijridate's table against ICU's, month by month."""
    expected = [oracle.UMALQURA_CHECKED[0]]
    while True:
        try:
            expected.append(oracle.next_month_first_day(expected[-1], "ISLAMIC_UMALQURA"))
        except ValueError:  # beyond where the oracle's table is checked
            break
    got = month_starts(Calendar.ISLAMIC_UMALQURA, expected[0], expected[-1])
    assert got == expected
    assert len(got) == 12 * 31 + 3
    lengths = {(b - a).days for a, b in itertools.pairwise(got)}
    assert lengths == {29, 30}


# -- weeks and labels ---------------------------------------------------------------------


@pytest.mark.parametrize("week_start", list(WeekStart))
def test_weeks_start_on_their_day(week_start: WeekStart) -> None:
    for offset in range(21):
        day = date(2026, 3, 10) + timedelta(days=offset)
        first = calendars.week_first_day(day, week_start)
        assert first == oracle.week_first_day(day, week_start.value)
        assert first.strftime("%A").upper() == week_start.value
        assert 0 <= (day - first).days < 7


def test_labels_in_each_calendar() -> None:
    nowruz = date(2026, 3, 21)
    assert calendars.label(nowruz, Granularity.MONTH, Calendar.PERSIAN) == "1405-01"
    assert calendars.label(nowruz, Granularity.DAY, Calendar.PERSIAN) == "1405-01-01"
    assert calendars.label(nowruz, Granularity.WEEK, Calendar.ISLAMIC_UMALQURA) == "1447-10-02"
    assert calendars.label(nowruz, Granularity.MONTH, Calendar.GREGORIAN) == "2026-03"


# -- out of range -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar", "day"),
    [
        (Calendar.ISLAMIC_UMALQURA, date(2077, 11, 17)),
        (Calendar.ISLAMIC_UMALQURA, date(1924, 7, 31)),
        (Calendar.PERSIAN, date(9999, 3, 21)),
    ],
)
def test_a_day_outside_a_calendar_is_a_clear_error(calendar: Calendar, day: date) -> None:
    with pytest.raises(CalendarOutOfRange) as caught:
        calendars.local_date(day, calendar)
    ext = caught.value.extensions or {}
    first, last = calendars.SUPPORTED[calendar]
    assert (ext["code"], ext["reason"], ext["calendar"]) == (
        "BAD_USER_INPUT", "CALENDAR_OUT_OF_RANGE", calendar.value)  # fmt: skip
    assert ext["supported"] == {"from": first.isoformat(), "to": last.isoformat()}
    assert calendars.local_date(first, calendar)[1:] == (1, 1)
    calendars.local_date(last, calendar)  # the last supported day converts


def test_the_last_umalqura_month_ends_where_the_table_ends() -> None:
    win = Window(datetime(2077, 11, 1, tzinfo=UTC), datetime(2077, 11, 17, tzinfo=UTC))
    (*_, last) = periods(win, Granularity.MONTH, ZoneInfo("UTC"), Calendar.ISLAMIC_UMALQURA)
    assert (last.name, last.end) == ("1500-12", datetime(2077, 11, 17, tzinfo=UTC))
    beyond = Window(win.start, datetime(2077, 11, 18, tzinfo=UTC))
    with pytest.raises(CalendarOutOfRange):
        periods(beyond, Granularity.MONTH, ZoneInfo("UTC"), Calendar.ISLAMIC_UMALQURA)


def test_gregorian_months_past_the_year_9999_are_out_of_range_too() -> None:
    win = Window(datetime(9999, 12, 2, tzinfo=UTC), datetime(9999, 12, 3, tzinfo=UTC))
    with pytest.raises(CalendarOutOfRange):
        periods(win, Granularity.MONTH, ZoneInfo("UTC"))


# -- periods: the service's against the oracle's ------------------------------------------

ZONES = ("UTC", "Asia/Tehran", "Asia/Riyadh", "America/New_York", "Asia/Kathmandu")


def compare_periods(win: Window, granularity: Granularity, tz: str, calendar: Calendar,
                    week_start: WeekStart) -> None:  # fmt: skip
    got = periods(win, granularity, ZoneInfo(tz), calendar, week_start)
    expected = period_table(granularity.value, (win.start, win.end), tz, calendar.value,
                            week_start.value)  # fmt: skip
    assert [(p.label, p.label.utcoffset(), p.end, p.name, p.window.start, p.window.end)
            for p in got] == [
        (e["start"], e["start"].utcoffset(), e["end"], e["label"], e["cutStart"], e["cutEnd"])
        for e in expected
    ]  # fmt: skip


def test_persian_months_across_nowruz_in_tehran() -> None:
    win = Window(datetime(2025, 2, 1, tzinfo=TEHRAN), datetime(2025, 5, 1, tzinfo=TEHRAN))
    got = periods(win, Granularity.MONTH, TEHRAN, Calendar.PERSIAN)
    assert [(p.name, p.label.isoformat(), p.end.isoformat()) for p in got] == [
        ("1403-11", "2025-01-20T00:00:00+03:30", "2025-02-19T00:00:00+03:30"),
        ("1403-12", "2025-02-19T00:00:00+03:30", "2025-03-21T00:00:00+03:30"),
        ("1404-01", "2025-03-21T00:00:00+03:30", "2025-04-21T00:00:00+03:30"),
        ("1404-02", "2025-04-21T00:00:00+03:30", "2025-05-22T00:00:00+03:30"),
    ]
    compare_periods(win, Granularity.MONTH, "Asia/Tehran", Calendar.PERSIAN, WeekStart.MONDAY)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2028, 6, 30)),
    days=st.integers(min_value=0, max_value=220),
    seconds=st.integers(min_value=1, max_value=86_400),
    tz=st.sampled_from(ZONES),
    granularity=st.sampled_from(list(Granularity)),
    calendar=st.sampled_from(list(Calendar)),
    week_start=st.sampled_from(list(WeekStart)),
)
def test_periods_match_the_oracle(
    start: datetime, days: int, seconds: int, tz: str, granularity: Granularity,
    calendar: Calendar, week_start: WeekStart,
) -> None:  # fmt: skip
    begin = start.replace(tzinfo=UTC)
    win = Window(begin, begin + timedelta(days=days, seconds=seconds))
    compare_periods(win, granularity, tz, calendar, week_start)
