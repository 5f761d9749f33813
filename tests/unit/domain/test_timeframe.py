"""Windows, trend periods and the split into whole tenant-local days (no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import BadUserInput
from service.domain.metrics.timeframe import (
    Period,
    Split,
    Window,
    day_start,
    default_window,
    periods,
    split_into_days,
    window,
    zone,
)
from service.domain.model import Granularity

TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def w(start: datetime, end: datetime) -> Window:
    return Window(start, end)


def labels(ps: list[Period]) -> list[str]:
    return [p.label.isoformat() for p in ps]


# -- day_start --------------------------------------------------------------------------------


def test_day_start_in_tehran_is_20_30_utc_the_day_before() -> None:
    assert day_start(date(2026, 3, 1), TEHRAN) == utc(2026, 2, 28, 20, 30)


def test_day_start_in_new_york_follows_dst() -> None:
    assert day_start(date(2026, 3, 8), NEW_YORK) == utc(2026, 3, 8, 5)  # EST
    assert day_start(date(2026, 3, 9), NEW_YORK) == utc(2026, 3, 9, 4)  # EDT


def test_day_start_of_a_missing_midnight_maps_to_the_transition() -> None:
    # Iran's last DST start: 2022-03-22 00:00 +03:30 jumped to 01:00 +04:30.
    assert day_start(date(2022, 3, 22), TEHRAN) == utc(2022, 3, 21, 20, 30)
    assert day_start(date(2022, 3, 23), TEHRAN) == utc(2022, 3, 22, 19, 30)


# -- periods ----------------------------------------------------------------------------------


def test_days_in_new_york_around_spring_forward_are_24_23_24_hours() -> None:
    win = w(utc(2026, 3, 7, 5), utc(2026, 3, 10, 4))
    ps = periods(win, Granularity.DAY, NEW_YORK)
    assert labels(ps) == [
        "2026-03-07T00:00:00-05:00",
        "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
    ]
    assert [p.window for p in ps] == [
        w(utc(2026, 3, 7, 5), utc(2026, 3, 8, 5)),
        w(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        w(utc(2026, 3, 9, 4), utc(2026, 3, 10, 4)),
    ]
    assert [p.window.end - p.window.start for p in ps] == [
        timedelta(hours=24),
        timedelta(hours=23),
        timedelta(hours=24),
    ]


def test_the_fall_back_day_in_new_york_is_25_hours() -> None:
    win = w(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    ps = periods(win, Granularity.DAY, NEW_YORK)
    assert labels(ps) == ["2026-11-01T00:00:00-04:00"]
    assert ps[0].window == win
    assert win.end - win.start == timedelta(hours=25)


def test_days_in_tehran_start_at_20_30_utc_and_edges_are_clipped() -> None:
    win = w(utc(2026, 3, 1, 12), utc(2026, 3, 3, 0))
    ps = periods(win, Granularity.DAY, TEHRAN)
    assert labels(ps) == [
        "2026-03-01T00:00:00+03:30",
        "2026-03-02T00:00:00+03:30",
        "2026-03-03T00:00:00+03:30",
    ]
    assert [p.window for p in ps] == [
        w(utc(2026, 3, 1, 12), utc(2026, 3, 1, 20, 30)),
        w(utc(2026, 3, 1, 20, 30), utc(2026, 3, 2, 20, 30)),
        w(utc(2026, 3, 2, 20, 30), utc(2026, 3, 3, 0)),
    ]


def test_tehran_day_with_the_2022_dst_gap_is_23_hours() -> None:
    win = w(utc(2022, 3, 21, 20, 30), utc(2022, 3, 22, 19, 30))
    ps = periods(win, Granularity.DAY, TEHRAN)
    # midnight did not exist that day: the period starts at the transition instant
    assert labels(ps) == ["2022-03-22T01:00:00+04:30"]
    assert ps[0].label == utc(2022, 3, 21, 20, 30)
    assert ps[0].window == win


def test_iso_weeks_start_on_monday_and_are_clipped_by_the_window() -> None:
    # 2026-03-04 is a Wednesday; the window ends on Tuesday 2026-03-17 at noon New York time.
    win = w(utc(2026, 3, 4, 15), utc(2026, 3, 17, 16))
    ps = periods(win, Granularity.WEEK, NEW_YORK)
    assert labels(ps) == [
        "2026-03-02T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00",
        "2026-03-16T00:00:00-04:00",
    ]
    assert [p.window for p in ps] == [
        w(utc(2026, 3, 4, 15), utc(2026, 3, 9, 4)),
        w(utc(2026, 3, 9, 4), utc(2026, 3, 16, 4)),
        w(utc(2026, 3, 16, 4), utc(2026, 3, 17, 16)),
    ]
    # the week holding the spring-forward Sunday is one hour short
    assert day_start(date(2026, 3, 9), NEW_YORK) - day_start(date(2026, 3, 2), NEW_YORK) == (
        timedelta(days=7, hours=-1)
    )


def test_weeks_in_tehran() -> None:
    # 2026-03-02 (Monday) 00:00 Tehran = 2026-03-01 20:30 UTC
    win = w(utc(2026, 3, 1, 20, 30), utc(2026, 3, 15, 20, 30))
    ps = periods(win, Granularity.WEEK, TEHRAN)
    assert labels(ps) == ["2026-03-02T00:00:00+03:30", "2026-03-09T00:00:00+03:30"]
    assert [p.window for p in ps] == [
        w(utc(2026, 3, 1, 20, 30), utc(2026, 3, 8, 20, 30)),
        w(utc(2026, 3, 8, 20, 30), utc(2026, 3, 15, 20, 30)),
    ]


def test_months_in_new_york_span_the_dst_change() -> None:
    win = w(utc(2026, 2, 15), utc(2026, 4, 2))
    ps = periods(win, Granularity.MONTH, NEW_YORK)
    assert labels(ps) == [
        "2026-02-01T00:00:00-05:00",
        "2026-03-01T00:00:00-05:00",
        "2026-04-01T00:00:00-04:00",
    ]
    assert [p.window for p in ps] == [
        w(utc(2026, 2, 15), utc(2026, 3, 1, 5)),
        w(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4)),
        w(utc(2026, 4, 1, 4), utc(2026, 4, 2)),
    ]


def test_months_in_tehran_across_a_year_end() -> None:
    win = w(utc(2025, 12, 31, 20, 30), utc(2026, 2, 1))
    ps = periods(win, Granularity.MONTH, TEHRAN)
    assert labels(ps) == ["2026-01-01T00:00:00+03:30", "2026-02-01T00:00:00+03:30"]
    assert [p.window for p in ps] == [
        w(utc(2025, 12, 31, 20, 30), utc(2026, 1, 31, 20, 30)),
        w(utc(2026, 1, 31, 20, 30), utc(2026, 2, 1)),
    ]


def test_a_window_ending_exactly_at_a_period_start_has_no_empty_last_period() -> None:
    win = w(utc(2026, 3, 1), utc(2026, 3, 3))
    ps = periods(win, Granularity.DAY, ZoneInfo("UTC"))
    assert labels(ps) == ["2026-03-01T00:00:00+00:00", "2026-03-02T00:00:00+00:00"]


def test_a_window_inside_one_period_gives_one_clipped_period() -> None:
    win = w(utc(2026, 3, 10, 1), utc(2026, 3, 10, 2))
    (p,) = periods(win, Granularity.MONTH, TEHRAN)
    assert p.label.isoformat() == "2026-03-01T00:00:00+03:30"
    assert p.window == win


# -- split_into_days --------------------------------------------------------------------------


def test_split_aligned_window_is_all_days() -> None:
    win = w(utc(2026, 2, 28, 20, 30), utc(2026, 3, 2, 20, 30))
    assert split_into_days(win, TEHRAN) == Split(
        days=[date(2026, 3, 1), date(2026, 3, 2)], edges=[]
    )


def test_split_unaligned_window_has_a_head_and_a_tail() -> None:
    win = w(utc(2026, 3, 1, 12), utc(2026, 3, 4, 1))
    assert split_into_days(win, TEHRAN) == Split(
        days=[date(2026, 3, 2), date(2026, 3, 3)],
        edges=[
            w(utc(2026, 3, 1, 12), utc(2026, 3, 1, 20, 30)),
            w(utc(2026, 3, 3, 20, 30), utc(2026, 3, 4, 1)),
        ],
    )


def test_split_window_starting_at_midnight_has_only_a_tail() -> None:
    win = w(utc(2026, 3, 8, 5), utc(2026, 3, 9, 10))
    assert split_into_days(win, NEW_YORK) == Split(
        days=[date(2026, 3, 8)], edges=[w(utc(2026, 3, 9, 4), utc(2026, 3, 9, 10))]
    )


def test_split_window_ending_at_midnight_has_only_a_head() -> None:
    win = w(utc(2026, 3, 7, 12), utc(2026, 3, 9, 4))
    assert split_into_days(win, NEW_YORK) == Split(
        days=[date(2026, 3, 8)], edges=[w(utc(2026, 3, 7, 12), utc(2026, 3, 8, 5))]
    )


def test_split_window_inside_one_day_is_one_edge() -> None:
    win = w(utc(2026, 3, 1, 1), utc(2026, 3, 1, 23))
    assert split_into_days(win, ZoneInfo("UTC")) == Split(days=[], edges=[win])


def test_split_window_of_24_hours_not_aligned_is_one_edge() -> None:
    win = w(utc(2026, 3, 1, 0), utc(2026, 3, 2, 0))
    assert split_into_days(win, TEHRAN) == Split(days=[], edges=[win])


def test_split_exactly_one_23_hour_day() -> None:
    win = w(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert split_into_days(win, NEW_YORK) == Split(days=[date(2026, 3, 8)], edges=[])


def test_split_the_25_hour_day_needs_all_of_it() -> None:
    whole = w(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert split_into_days(whole, NEW_YORK) == Split(days=[date(2026, 11, 1)], edges=[])
    short = w(utc(2026, 11, 1, 4), utc(2026, 11, 2, 4))  # 24 hours: one hour short
    assert split_into_days(short, NEW_YORK) == Split(days=[], edges=[short])


def test_split_covers_the_window_exactly() -> None:
    win = w(utc(2026, 3, 5, 7, 13), utc(2026, 3, 12, 2, 59))
    split = split_into_days(win, NEW_YORK)
    pieces = [
        *split.edges,
        *(
            w(day_start(d, NEW_YORK), day_start(d + timedelta(days=1), NEW_YORK))
            for d in split.days
        ),
    ]
    pieces.sort(key=lambda p: p.start)
    assert pieces[0].start == win.start
    assert pieces[-1].end == win.end
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    assert split.days == [date(2026, 3, d) for d in range(6, 11)]


# -- window checks ----------------------------------------------------------------------------


def reason(exc: pytest.ExceptionInfo[BadUserInput]) -> object:
    assert exc.value.extensions is not None
    assert exc.value.extensions["code"] == "BAD_USER_INPUT"
    return exc.value.extensions["reason"]


def test_window_normalises_to_utc() -> None:
    plus = timezone(timedelta(hours=3, minutes=30))
    win = window(datetime(2026, 3, 1, tzinfo=plus), datetime(2026, 3, 2, tzinfo=plus), 400)
    assert win == w(utc(2026, 2, 28, 20, 30), utc(2026, 3, 1, 20, 30))
    assert win.start.tzinfo is UTC


@pytest.mark.parametrize("which", ["from", "to"])
def test_window_needs_offsets(which: str) -> None:
    naive, aware = datetime(2026, 3, 1), utc(2026, 3, 2)
    start, end = (naive, aware) if which == "from" else (utc(2026, 2, 28), naive)
    with pytest.raises(BadUserInput) as exc:
        window(start, end, 400)
    assert reason(exc) == "MISSING_UTC_OFFSET"
    assert f"window.{which}" in exc.value.message


@pytest.mark.parametrize("end", [utc(2026, 3, 1), utc(2026, 2, 28)])
def test_window_must_not_be_empty_or_reversed(end: datetime) -> None:
    with pytest.raises(BadUserInput) as exc:
        window(utc(2026, 3, 1), end, 400)
    assert reason(exc) == "INVALID_WINDOW"


def test_window_at_most_max_days() -> None:
    assert window(utc(2026, 1, 1), utc(2026, 1, 11), 10) == w(utc(2026, 1, 1), utc(2026, 1, 11))
    with pytest.raises(BadUserInput) as exc:
        window(utc(2026, 1, 1), utc(2026, 1, 11, 0, 0, 1), 10)
    assert reason(exc) == "WINDOW_TOO_LONG"
    assert exc.value.extensions is not None
    assert exc.value.extensions["maximum"] == 10


def test_unknown_timezone() -> None:
    with pytest.raises(BadUserInput) as exc:
        zone("Mars/Olympus_Mons")
    assert reason(exc) == "UNKNOWN_TIMEZONE"
    assert zone("Asia/Tehran") == TEHRAN


# -- default_window ---------------------------------------------------------------------------


def test_default_window_is_the_last_30_whole_tenant_days() -> None:
    now = utc(2026, 3, 15, 21)  # already 2026-03-16 00:30 in Tehran
    assert default_window(TEHRAN, now) == w(utc(2026, 2, 14, 20, 30), utc(2026, 3, 16, 20, 30))
    assert default_window(ZoneInfo("UTC"), now) == w(utc(2026, 2, 14), utc(2026, 3, 16))


def test_default_window_across_dst_in_new_york() -> None:
    now = utc(2026, 3, 20, 12)
    win = default_window(NEW_YORK, now, days=14)
    assert win == w(utc(2026, 3, 7, 5), utc(2026, 3, 21, 4))
    assert win.end - win.start == timedelta(days=14, hours=-1)
