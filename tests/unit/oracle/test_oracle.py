"""The metrics oracle (tests/oracle) on small data sets whose numbers are worked out by hand."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from scipy import stats

from tests.oracle import (
    BadUserInput,
    Dataset,
    IncompatibleScales,
    ScaleTooShort,
    breakdown,
    compare,
    funnel,
    metric,
    segments,
    trend,
)
from tests.oracle.metrics import RESULT_KEYS, periods

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
Z = 1.959964  # as docs/metrics.md writes it
# t(0.975, df), from tables
T_975 = {
    1: 12.706204736174698,
    2: 4.302652729911275,
    4: 2.7764451051977934,
    7: 2.3646242515927844,
    9: 2.2621571627982053,
}


def at(day: int, hour: float = 12) -> datetime:
    return datetime(2026, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def ref(external_id: str) -> dict[str, str]:
    return {"source": "crm", "externalId": external_id}


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": "crm", "externalId": external_id, **fields}


def answer(metric: str, value: float, lo: int, hi: int, **fields: Any) -> dict[str, Any]:
    return {
        "question": metric.lower(),
        "metric": metric,
        "value": value,
        "scaleMin": lo,
        "scaleMax": hi,
        **fields,
    }


def nps(value: float) -> dict[str, Any]:
    return answer("NPS", value, 0, 10)


def csat(value: float, hi: int = 5) -> dict[str, Any]:
    return answer("CSAT", value, 1, hi)


counter = iter(range(10**6))


def response(
    when: datetime | str, answers: list[dict[str, Any]], cust: str = "c1", **fields: Any
) -> dict[str, Any]:
    return {
        "source": "crm",
        "externalId": f"r{next(counter)}",
        "customer": ref(cust),
        "submittedAt": when if isinstance(when, str) else when.isoformat(),
        "answers": answers,
        **fields,
    }


def touchpoint(
    when: datetime, cust: str = "c1", channel: str = "WEB", **fields: Any
) -> dict[str, Any]:
    return {
        "source": "crm",
        "externalId": f"t{next(counter)}",
        "customer": ref(cust),
        "channel": channel,
        "kind": "visit",
        "occurredAt": when.isoformat(),
        **fields,
    }


def wilson(k: int, n: int) -> tuple[float, float, float]:
    p = k / n
    centre = p + Z * Z / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    scale = 1 + Z * Z / n
    low, high = (centre - spread) / scale, (centre + spread) / scale
    return 100 * low, 100 * high, 100 * (high - low) / 2


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-6, abs=1e-9)


def check_wilson(result: dict[str, Any], k: int, n: int) -> None:
    low, high, moe = wilson(k, n)
    assert result["low"] == approx(low)
    assert result["high"] == approx(high)
    assert result["marginOfError"] == approx(moe)


def check_t(
    result: dict[str, Any], samples: list[float], bounds: tuple[float, float], factor: float = 1.0
) -> None:
    """The t-interval clipped to `bounds` (the value's range); the MoE unclipped."""
    n = len(samples)
    half = T_975[n - 1] * statistics.stdev(samples) / math.sqrt(n)
    mean = statistics.fmean(samples)
    assert result["low"] == approx(max(factor * (mean - half), bounds[0]))
    assert result["high"] == approx(min(factor * (mean + half), bounds[1]))
    assert result["marginOfError"] == approx(factor * half)


# ----------------------------------------------------------------------------- NPS

NPS_VALUES = [10, 10, 9, 9, 9, 8, 7, 7, 6, 0]  # P = 5, passives = 3, D = 2


def nps_dataset() -> Dataset:
    return Dataset(
        customers=[customer("c1")],
        responses=[response(at(2 + i), [nps(v)]) for i, v in enumerate(NPS_VALUES)]
        + [response(at(20), [csat(5)])]  # another metric: not read
        + [response(datetime(2026, 2, 28, 23, tzinfo=UTC), [nps(0)])],  # before the window
    )


def test_nps_value_distribution_and_margin_of_error() -> None:
    result = metric(nps_dataset(), "NPS", MARCH)

    assert set(result) == set(RESULT_KEYS)
    assert result["n"] == 10
    assert result["distribution"] == {"promoters": 5, "passives": 3, "detractors": 2}
    assert result["value"] == approx(30.0)
    assert (result["numerator"], result["denominator"]) == (3, 10)
    assert (result["scaleMin"], result["scaleMax"]) == (0, 10)
    # adjusted Wald: ñ = 13, p̃P = 5.75/13, p̃D = 2.75/13, centre = 300/13 ≈ 23.08
    z = 1.959963984540054
    moe = z * 100 * math.sqrt((8.5 / 13 - (3 / 13) ** 2) / 13)
    assert moe == pytest.approx(42.1275, abs=1e-4)
    assert result["marginOfError"] == approx(moe)
    assert result["low"] == approx(300 / 13 - moe)
    assert result["high"] == approx(300 / 13 + moe)
    assert result["lowSample"] is True
    assert metric(nps_dataset(), "NPS", MARCH, min_sample=10)["lowSample"] is False


def test_nps_bounds_are_clipped_but_not_the_margin_of_error() -> None:
    ds = Dataset(responses=[response(at(2), [nps(v)]) for v in [10] * 5 + [9] * 4 + [3]])

    result = metric(ds, "NPS", MARCH)

    assert result["value"] == approx(80.0)
    # adjusted Wald: p̃P = 9.75/13, p̃D = 1.75/13, centre = 800/13 ≈ 61.5, MoE ≈ 40.2
    moe = 1.959963984540054 * 100 * math.sqrt((11.5 / 13 - (8 / 13) ** 2) / 13)
    assert result["marginOfError"] == approx(moe)
    assert result["low"] == approx(800 / 13 - moe)
    assert result["high"] == 100.0


def test_nps_mean_likelihood() -> None:
    result = metric(nps_dataset(), "NPS_MEAN_LIKELIHOOD", MARCH)

    assert (result["numerator"], result["denominator"]) == (75.0, 10)
    assert result["value"] == approx(750.0)
    check_t(result, NPS_VALUES, (0, 1000), factor=100)
    assert result["distribution"] is None


def test_empty_window_gives_null_value() -> None:
    result = metric(nps_dataset(), "NPS", (at(25), at(26)))

    assert result["n"] == 0
    assert result["value"] is None
    assert result["low"] is None and result["marginOfError"] is None
    assert result["scaleMin"] is None and result["scaleMax"] is None
    assert result["lowSample"] is True


# ----------------------------------------------------------------------------- CSAT, CES, means

CSAT_VALUES = [5, 4, 4, 3, 2, 5, 1, 4]  # top-2-box (≥ 4): 5 of 8; Σ = 28


def csat_dataset() -> Dataset:
    return Dataset(responses=[response(at(3), [csat(v)]) for v in CSAT_VALUES])


def test_csat_top_two_box_with_wilson() -> None:
    result = metric(csat_dataset(), "CSAT", MARCH)

    assert result["value"] == approx(62.5)
    assert (result["numerator"], result["denominator"], result["n"]) == (5, 8, 8)
    assert (result["scaleMin"], result["scaleMax"]) == (1, 5)
    check_wilson(result, 5, 8)


def test_csat_score_percent() -> None:
    result = metric(csat_dataset(), "CSAT_SCORE_PERCENT", MARCH)

    assert (result["numerator"], result["denominator"]) == (28.0, 40)
    assert result["value"] == approx(70.0)  # 28 / (8 · 5) · 100
    check_t(result, CSAT_VALUES, (20, 100), factor=100 / 5)


def test_ces_mean_and_percent_easy() -> None:
    values = [7, 6, 5, 6, 2]  # on 1–7: mean 26/5; easy (≥ 6): 3 of 5
    ds = Dataset(responses=[response(at(4), [answer("CES", v, 1, 7)]) for v in values])

    ces = metric(ds, "CES", MARCH)
    easy = metric(ds, "CES_PERCENT_EASY", MARCH)

    assert ces["value"] == approx(5.2)
    assert (ces["numerator"], ces["denominator"]) == (26.0, 5)
    check_t(ces, values, (1, 7))
    assert ces["high"] == 7.0  # 5.2 + 2.78 is off the scale
    assert easy["value"] == approx(60.0)
    assert (easy["numerator"], easy["denominator"]) == (3, 5)
    check_wilson(easy, 3, 5)


def test_emotion_and_value_for_effort() -> None:
    ds = Dataset(
        responses=[
            response(at(5), [answer("EMOTION", 4, 1, 5), answer("VALUE_FOR_EFFORT", 3, 1, 5)]),
            response(at(6), [answer("EMOTION", 2, 1, 5)]),
        ]
    )

    emotion = metric(ds, "EMOTION", MARCH)
    vfe = metric(ds, "VALUE_FOR_EFFORT", MARCH)

    assert (emotion["value"], emotion["n"]) == (3.0, 2)
    # s = √2, so the half-width is t(0.975, 1) · √2 / √2
    assert emotion["marginOfError"] == approx(12.706204736)
    assert (emotion["low"], emotion["high"]) == (1.0, 5.0)  # 3 ± 12.7, clipped to 1–5
    assert (vfe["value"], vfe["n"]) == (3.0, 1)
    assert vfe["low"] is None and vfe["high"] is None and vfe["marginOfError"] is None


def component_dataset() -> Dataset:
    return Dataset(
        customers=[customer("c1", segments=["a"])],
        responses=[
            response(
                at(2),
                [
                    answer("COMPONENT", 5, 1, 5, component="PRODUCT"),
                    answer("COMPONENT", 1, 1, 5, component="PRICE"),
                ],
            ),
            response(at(3), [answer("COMPONENT", 3, 1, 5, component="PRODUCT")]),
            response(at(4), [nps(9)]),
            response(at(5), []),
            response(datetime(2026, 4, 1, tzinfo=UTC), [nps(9)]),  # outside [from, to)
        ],
    )


def test_component_score_and_its_breakdown() -> None:
    ds = component_dataset()

    total = metric(ds, "COMPONENT_SCORE", MARCH)
    groups = breakdown(ds, "COMPONENT_SCORE", ["COMPONENT"], MARCH)

    # one value per respondent: the first response's mean (5 + 1)/2 = 3, the second's 3;
    # normalized 100·(3−1)/4 = 50 each: n = 2 respondents, no spread between them
    assert total["value"] == approx(50.0)
    assert (total["n"], total["numerator"], total["denominator"]) == (2, 100.0, 2)
    check_t(total, [50, 50], (0, 100))
    assert (total["low"], total["high"]) == (50.0, 50.0)
    # per component, per respondent: PRODUCT 100 and 50, PRICE 0
    assert set(groups) == {("PRODUCT",), ("PRICE",)}
    assert groups[("PRODUCT",)]["value"] == approx(75.0)
    assert groups[("PRICE",)]["value"] == 0.0
    assert groups[("PRICE",)]["n"] == 1


def test_response_count_counts_responses_and_their_components() -> None:
    ds = component_dataset()

    total = metric(ds, "RESPONSE_COUNT", MARCH)
    product = metric(ds, "RESPONSE_COUNT", MARCH, {"components": ["PRODUCT"]})
    groups = breakdown(ds, "RESPONSE_COUNT", ["COMPONENT"], MARCH)

    assert (total["value"], total["n"], total["numerator"], total["denominator"]) == (
        4,
        4,
        4,
        None,
    )
    assert total["low"] is None and total["scaleMin"] is None
    assert product["value"] == 2
    # the first response has a PRODUCT and a PRICE answer: it counts in both groups; the NPS
    # response and the one without answers fall in the null group
    assert {k: v["n"] for k, v in groups.items()} == {("PRICE",): 1, ("PRODUCT",): 2, (None,): 2}
    assert metric(ds, "RESPONSE_COUNT", (at(20), at(21)))["value"] is None


# ----------------------------------------------------------------------------- filters, groups


def segment_dataset() -> Dataset:
    return Dataset(
        customers=[
            customer("c1", segments=["b", "a"]),
            customer("c2", segments=["a"]),
            customer("c3"),
        ],
        responses=[
            response(at(2), [csat(5)], "c1", channel="WEB", journey="j1"),
            response(at(3), [csat(2)], "c2", channel="PHONE", journey="j1"),
            response(at(4), [csat(4)], "c3", channel="WEB", journey="j2"),
            response(at(5), [csat(5)], "never-sent", channel="WEB"),
        ],
    )


def test_breakdown_counts_a_two_segment_response_in_each_segment() -> None:
    ds = segment_dataset()

    groups = breakdown(ds, "CSAT", ["SEGMENT"], MARCH)
    total = metric(ds, "CSAT", MARCH)

    assert total["n"] == 4  # the two-segment response counts once in the total
    assert {k: (v["n"], v["value"]) for k, v in groups.items()} == {
        ("a",): (2, 50.0),
        ("b",): (1, 100.0),
        (None,): (2, 100.0),  # c3 has no segments; the stub has none either
    }


def test_two_dimension_breakdown() -> None:
    groups = breakdown(segment_dataset(), "CSAT", ["SEGMENT", "CHANNEL"], MARCH)

    assert {k: v["n"] for k, v in groups.items()} == {
        ("a", "PHONE"): 1,
        ("a", "WEB"): 1,
        ("b", "WEB"): 1,
        (None, "WEB"): 2,
    }


def test_filters_are_any_of_within_and_and_across() -> None:
    ds = segment_dataset()

    def n(flt: dict[str, Any]) -> int:
        return int(metric(ds, "CSAT", MARCH, flt)["n"])

    assert n({"segments": ["b"]}) == 1
    assert n({"segments": ["a", "b"]}) == 2
    assert n({"journeys": ["j1"]}) == 2
    assert n({"segments": ["a"], "channels": ["WEB"]}) == 1
    assert n({"journeys": ["j1", "j2"], "channels": ["WEB"]}) == 2
    assert n({"stages": ["x"]}) == 0
    assert n({"segments": []}) == 0  # an empty "any of" list matches nothing


def test_timestamps_with_offsets_and_aware_datetimes() -> None:
    # 2026-03-01T03:00+03:30 is 2026-02-28T23:30Z: before March in UTC
    ds = Dataset(
        responses=[
            response("2026-03-01T03:00:00+03:30", [csat(5)]),
            response("2026-03-01T04:00:00+03:30", [csat(5)]),
            response(datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Asia/Tehran")), [csat(5)]),
        ]
    )
    assert ds.responses["submittedAt"].dt.tz is not None
    assert metric(ds, "CSAT", MARCH)["n"] == 1


def test_answers_of_two_scales_are_never_pooled() -> None:
    ds = Dataset(
        responses=[
            response(at(2), [csat(5, hi=5)], journey="j5"),
            response(at(3), [csat(7, hi=7)], journey="j7"),
            response(at(4), [csat(6, hi=7)], journey="j7"),
        ]
    )

    with pytest.raises(IncompatibleScales) as raised:
        metric(ds, "CSAT", MARCH)
    assert raised.value.scales == [(1, 5), (1, 7)]
    with pytest.raises(IncompatibleScales):
        breakdown(ds, "CSAT", ["CHANNEL"], MARCH)
    narrowed = metric(ds, "CSAT", MARCH, {"journeys": ["j7"]})
    assert (narrowed["value"], narrowed["scaleMax"]) == (100.0, 7)
    by_journey = breakdown(ds, "CSAT", ["JOURNEY"], MARCH)
    assert {k: v["scaleMax"] for k, v in by_journey.items()} == {("j5",): 5, ("j7",): 7}


# ----------------------------------------------------------------------------- trend

NEW_YORK = ZoneInfo("America/New_York")
TEHRAN = ZoneInfo("Asia/Tehran")


def test_daily_trend_over_the_new_york_dst_change() -> None:
    # DST starts on Sunday 2026-03-08 at 02:00 EST: that day is 23 hours long.
    window = (datetime(2026, 3, 7, 17, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC))
    ds = Dataset(
        responses=[
            response(datetime(2026, 3, 7, 6, tzinfo=UTC), [nps(10)]),  # before the window
            response(datetime(2026, 3, 8, 4, 30, tzinfo=UTC), [nps(10)]),  # Mar 7, 23:30 EST
            response(datetime(2026, 3, 9, 4, 15, tzinfo=UTC), [nps(0)]),  # Mar 9, 00:15 EDT
            response(datetime(2026, 3, 9, 4, 30, tzinfo=UTC), [nps(10)]),  # Mar 9, 00:30 EDT
        ]
    )

    points = trend(ds, "NPS", "DAY", window, "America/New_York")

    starts = [start for start, _ in points]
    assert starts == [
        datetime(2026, 3, 7, tzinfo=NEW_YORK),
        datetime(2026, 3, 8, tzinfo=NEW_YORK),
        datetime(2026, 3, 9, tzinfo=NEW_YORK),
    ]
    assert [s.astimezone(UTC).hour for s in starts] == [5, 5, 4]
    assert all(s.tzinfo is not None for s in starts)
    assert [(r["n"], r["value"]) for _, r in points] == [(1, 100.0), (0, None), (2, 0.0)]
    cuts = periods("DAY", window, "America/New_York")
    assert cuts[0][1] == window[0]  # the first period is cut by the window
    # (aware datetimes of one zone subtract as wall clocks: the elapsed time is in UTC)
    assert cuts[1][2].astimezone(UTC) - cuts[1][1].astimezone(UTC) == timedelta(hours=23)
    assert cuts[2][2] == window[1]


def test_weekly_trend_in_tehran() -> None:
    # Tehran is +03:30: Monday 2026-03-02 00:00 there is 2026-03-01T20:30Z.
    window = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))
    ds = Dataset(
        responses=[
            response(datetime(2026, 2, 28, 23, tzinfo=UTC), [csat(5)]),  # before the window
            response(datetime(2026, 3, 1, 20, tzinfo=UTC), [csat(5)]),  # Sun 23:30
            response(datetime(2026, 3, 1, 21, tzinfo=UTC), [csat(1)]),  # Mon 00:30
            response(datetime(2026, 3, 1, 22, tzinfo=UTC), [csat(4)]),  # Mon 01:30
            response(datetime(2026, 3, 14, 23, tzinfo=UTC), [csat(5)]),  # Sun 15th, 02:30
            response(datetime(2026, 3, 15, 1, tzinfo=UTC), [csat(5)]),  # after the window
        ]
    )

    points = trend(ds, "CSAT", "WEEK", window, "Asia/Tehran")

    assert [start for start, _ in points] == [
        datetime(2026, 2, 23, tzinfo=TEHRAN),
        datetime(2026, 3, 2, tzinfo=TEHRAN),
        datetime(2026, 3, 9, tzinfo=TEHRAN),
    ]
    assert points[1][0].astimezone(UTC) == datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    assert [(r["n"], r["value"]) for _, r in points] == [(1, 100.0), (2, 50.0), (1, 100.0)]


def test_monthly_trend_lists_empty_months() -> None:
    window = (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))
    ds = Dataset(responses=[response(at(10), [csat(5)]), response(at(11), [csat(5)])])

    points = trend(ds, "RESPONSE_COUNT", "MONTH", window, "UTC")

    assert [start.month for start, _ in points] == [1, 2, 3, 4]
    assert [r["n"] for _, r in points] == [0, 0, 2, 0]
    assert [r["value"] for _, r in points] == [None, None, 2, None]


# ----------------------------------------------------------------------------- FCR


def fcr_dataset() -> Dataset:
    before, after = datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC)
    tp = touchpoint
    return Dataset(
        customers=[customer("c1", segments=["vip"])],
        touchpoints=[
            tp(at(2), channel="PHONE", caseId="A", resolved=True),  # resolved at first contact
            tp(at(3), channel="CHAT", caseId="B", resolved=False),  # two contacts
            tp(at(4), channel="PHONE", caseId="B", resolved=True),
            tp(at(5), channel="CHAT", caseId="C", resolved=False),  # open
            tp(at(6), channel="EMAIL", caseId="D"),  # open, resolved unknown
            tp(before, channel="PHONE", caseId="E", resolved=False),  # first contact before
            tp(at(7), channel="CHAT", caseId="E", resolved=True),
            tp(at(8), channel="PHONE", caseId="F", resolved=True),  # a second contact later
            tp(after, channel="PHONE", caseId="F", resolved=True),
            tp(before, channel="PHONE", caseId="G", resolved=True),  # not in the window
            tp(at(9), channel="PHONE"),  # no case
        ],
    )


def test_fcr_counts_each_case_in_the_window_of_its_first_contact() -> None:
    result = metric(fcr_dataset(), "FCR", MARCH)

    # A, B, C, D and F have their first contact in March (E's is in February, G has none in
    # March). A is resolved with one contact; F is resolved at its first contact and its
    # second comes 28 days later, past the 7-day re-contact window: a new issue. B's first
    # contact is unresolved; C, D are open.
    assert (result["numerator"], result["denominator"], result["n"]) == (2, 5, 5)
    assert result["value"] == approx(40.0)
    check_wilson(result, 2, 5)
    assert result["scaleMin"] is None


def test_a_re_contact_within_the_window_undoes_first_contact_resolution() -> None:
    tp = touchpoint
    ds = Dataset(
        touchpoints=[
            tp(at(2), caseId="A", resolved=True),
            tp(at(2) + timedelta(days=6, hours=23), caseId="A"),  # within 7 days: re-contact
            tp(at(3), caseId="B", resolved=True),
            tp(at(3) + timedelta(days=7), caseId="B"),  # exactly 7 days later: a new issue
        ]
    )
    result = metric(ds, "FCR", MARCH)
    assert (result["numerator"], result["n"]) == (1, 2)


def test_fcr_trend_counts_a_case_once_in_the_day_of_its_first_contact() -> None:
    # the review's example: two cases, one with contacts on three days
    tp = touchpoint
    ds = Dataset(
        touchpoints=[
            tp(at(2), caseId="A", resolved=True),
            tp(at(2), caseId="B", resolved=False),
            tp(at(3), caseId="B", resolved=False),
            tp(at(4), caseId="B", resolved=True),
        ]
    )
    days = trend(ds, "FCR", "DAY", (at(2, 0), at(5, 0)), "UTC")
    # 1 of 2 on day 2 (50 %), nothing on days 3 and 4: n adds up to 2, not 4
    assert [(r["numerator"], r["n"]) for _, r in days] == [(1, 2), (0, 0), (0, 0)]
    assert [r["value"] for _, r in days] == [50.0, None, None]


def test_fcr_uses_the_first_contacts_dimensions() -> None:
    ds = fcr_dataset()

    groups = breakdown(ds, "FCR", ["CHANNEL"], MARCH)
    chat = metric(ds, "FCR", MARCH, {"channels": ["CHAT"]})
    vip = breakdown(ds, "FCR", ["SEGMENT"], MARCH)

    # E's first contact is before the window: E is not in March at all
    assert {k: (v["numerator"], v["n"]) for k, v in groups.items()} == {
        ("CHAT",): (0, 2),
        ("EMAIL",): (0, 1),
        ("PHONE",): (2, 2),
    }
    assert (chat["value"], chat["n"]) == (0.0, 2)
    assert list(vip) == [("vip",)]


# ----------------------------------------------------------------------------- customers

FROM, TO = datetime(2026, 1, 11, tzinfo=UTC), datetime(2026, 1, 21, tzinfo=UTC)  # 10 days


def jan(day: int) -> str:
    return datetime(2026, 1, day, tzinfo=UTC).isoformat()


def customer_dataset() -> Dataset:
    return Dataset(
        customers=[
            # in S and E; tenure (Jan 21 − Jan 1) = 20 days = 2 periods
            customer("k1", segments=["gold"], signedUpAt=jan(1), revenue=100.0),
            # in S, churned in the window (C); tenure (Jan 16 − Jan 6) = 1 period
            customer(
                "k2", segments=["gold", "b2b"], signedUpAt=jan(6), churnedAt=jan(16), revenue=50.0
            ),
            # no signedUpAt: signed up before any window; in S and C, not in the CLV sums
            customer("k3", segments=["b2b"], churnedAt=jan(19), revenue=999.0),
            # signed up in the window: Nw and E
            customer("k4", segments=["gold"], signedUpAt=jan(15), revenue=20.0),
            # churned before the window
            customer(
                "k5",
                segments=["gold", "old"],
                signedUpAt="2025-12-01T00:00:00Z",
                churnedAt=jan(5),
            ),
            # churned exactly at `to`: in S and E, not in C; tenure 2 periods
            customer("k6", signedUpAt=jan(1), churnedAt=jan(21), revenue=30.0),
        ],
        # a stub (referenced, never sent) is not a customer
        touchpoints=[touchpoint(datetime(2026, 1, 12, tzinfo=UTC), "ghost")],
    )


def test_retention_churn_and_clv_on_six_customers() -> None:
    ds = customer_dataset()
    window = (FROM, TO)
    # S = {k1, k2, k3, k6}, E = {k1, k4, k6}, Nw = {k4}, C = {k2, k3}

    retention = metric(ds, "RETENTION_RATE", window)
    churn = metric(ds, "CHURN_RATE", window)
    clv = metric(ds, "CLV", window)

    assert (retention["numerator"], retention["denominator"], retention["n"]) == (2, 4, 4)
    assert retention["value"] == 50.0
    check_wilson(retention, 2, 4)
    assert (churn["numerator"], churn["denominator"], churn["n"]) == (2, 4, 4)
    assert churn["value"] == 50.0
    check_wilson(churn, 2, 4)
    # closed lifetimes in S: k2 (1 period, 50) and k6 (2 periods, 30); k1 is still active,
    # k3 has no signedUpAt. ARPC = 80 / 3 per period; L = S/C = 4/2 → CLV = 160/3
    assert clv["numerator"] == approx(80.0)
    assert clv["denominator"] == approx(3.0)
    assert clv["value"] == approx(160 / 3)
    assert clv["n"] == 4
    # delta method: r = (0, 50, 0, 30), t = (0, 1, 0, 2), c = (0, 1, 1, 0) over k1, k2, k3,
    # k6; z = r/20 − t/0.75 − c/0.5 = (0, −5/6, −2, −7/6), mean −1, s² = (1 + 1/36 + 1 +
    # 1/36)/3 = 37/54; SE = √(37/54)/2
    half = 1.959963984540054 * math.sqrt(37 / 54) / 2
    assert clv["low"] == approx(160 / 3 * math.exp(-half))
    assert clv["high"] == approx(160 / 3 * math.exp(half))
    assert clv["marginOfError"] == approx(160 / 3 * math.sinh(half))
    assert clv["scaleMin"] is None


def test_retention_is_cohort_retention_and_the_net_one_has_its_own_name() -> None:
    # the review's example: 10 customers at the start, 5 of them churn in the window, and 10
    # customers sign up in the window and churn inside it too
    before = [customer(f"s{i}", signedUpAt="2025-12-01T00:00:00Z") for i in range(5)]
    leaving = [
        customer(f"l{i}", signedUpAt="2025-12-01T00:00:00Z", churnedAt=jan(12)) for i in range(5)
    ]
    passing = [customer(f"n{i}", signedUpAt=jan(12), churnedAt=jan(14)) for i in range(10)]
    ds = Dataset(customers=before + leaving + passing)

    cohort = metric(ds, "RETENTION_RATE", (FROM, TO))
    net = metric(ds, "RETENTION_RATE_NET", (FROM, TO))

    # S = 10, C = 5: (10 − 5)/10 = 50 %; E = 5, Nw = 10: (5 − 10)/10 = −50 %
    assert (cohort["value"], cohort["numerator"], cohort["denominator"]) == (50.0, 5, 10)
    check_wilson(cohort, 5, 10)
    assert (net["value"], net["numerator"], net["denominator"], net["n"]) == (-50.0, -5, 10, 10)
    assert net["low"] is None and net["high"] is None and net["marginOfError"] is None
    assert (
        compare(ds, "RETENTION_RATE_NET", {"window": (FROM, TO)}, {"window": (FROM, TO)})["pValue"]
        is None
    )


def test_customer_metrics_by_segment() -> None:
    ds = customer_dataset()
    window = (FROM, TO)

    churn = breakdown(ds, "CHURN_RATE", ["SEGMENT"], window)
    retention = breakdown(ds, "RETENTION_RATE", ["SEGMENT"], window)

    # "old" (k5 only) has no customer active in the window
    assert {k: (v["numerator"], v["n"]) for k, v in churn.items()} == {
        ("b2b",): (2, 2),
        ("gold",): (1, 2),
        (None,): (0, 1),
    }
    # gold: S = {k1, k2}, E = {k1, k4}, Nw = {k4}
    assert retention[("gold",)]["value"] == 50.0
    assert metric(ds, "CHURN_RATE", window, {"segments": ["b2b"]})["value"] == 100.0
    assert segments(ds) == {"b2b": 2, "gold": 4, "old": 1}


def test_clv_is_null_without_churn_and_other_filters_are_refused() -> None:
    ds = customer_dataset()

    quiet = metric(ds, "CLV", (datetime(2026, 1, 22, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)))

    assert quiet["value"] is None
    assert quiet["n"] == 2  # S = {k1, k4}: k6 churned on Jan 21, before this window
    with pytest.raises(BadUserInput):
        metric(ds, "RETENTION_RATE", (FROM, TO), {"channels": ["WEB"]})
    with pytest.raises(BadUserInput):
        breakdown(ds, "CLV", ["CHANNEL"], (FROM, TO))


# ----------------------------------------------------------------------------- compare


def test_compare_nps_with_welch_on_the_scores() -> None:
    ds = Dataset(
        responses=[response(at(2), [nps(v)]) for v in NPS_VALUES]
        + [response(at(20), [nps(v)]) for v in [10] * 5 + [9] * 4 + [3]]
    )
    a = {"window": (at(1), at(10))}
    b = {"window": (at(15), at(25))}

    result = compare(ds, "NPS", a, b)

    assert result["difference"] == approx(50.0)
    # scores: a = five +1, three 0, two −1 (mean .3, s² = (7 − 10·.09)/9); b = nine +1, one −1
    va, vb = (7 - 10 * 0.09) / 9, (10 - 10 * 0.64) / 9
    se2 = va / 10 + vb / 10
    t = (0.8 - 0.3) / math.sqrt(se2)
    df = se2**2 / ((va / 10) ** 2 / 9 + (vb / 10) ** 2 / 9)
    assert result["pValue"] == approx(2 * stats.t.sf(t, df))
    assert result["significant"] is False


def test_compare_proportions_with_the_pooled_z_test() -> None:
    ds = Dataset(
        responses=[response(at(3), [csat(v)]) for v in CSAT_VALUES]  # 5 of 8
        + [response(at(20), [csat(5)]) for _ in range(19)]
        + [response(at(20), [csat(4)]) for _ in range(20)]  # 39 of 40
        + [response(at(20), [csat(1)])]
    )

    result = compare(ds, "CSAT", {"window": (at(1), at(10))}, {"window": (at(15), at(25))})

    p = (5 + 39) / (8 + 40)
    z = (39 / 40 - 5 / 8) / math.sqrt(p * (1 - p) * (1 / 8 + 1 / 40))
    assert result["difference"] == approx(97.5 - 62.5)
    assert result["pValue"] == approx(math.erfc(z / math.sqrt(2)))
    assert result["significant"] is True


def test_compare_means_with_welch() -> None:
    first, second = [7, 6, 5, 6, 2], [3, 2, 4, 1, 2, 3, 2, 3]
    ds = Dataset(
        responses=[response(at(2), [answer("CES", v, 1, 7)]) for v in first]
        + [response(at(20), [answer("CES", v, 1, 7)]) for v in second]
    )

    result = compare(ds, "CES", {"window": (at(1), at(10))}, {"window": (at(15), at(25))})

    va, vb = statistics.variance(first) / 5, statistics.variance(second) / 8
    t = (statistics.fmean(second) - statistics.fmean(first)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 7)
    expected = 2 * stats.t.sf(abs(t), df)
    assert result["pValue"] == approx(expected)
    assert result["pValue"] == approx(stats.ttest_ind(first, second, equal_var=False).pvalue)
    assert result["difference"] == approx(2.5 - 5.2)


def test_compare_without_a_test() -> None:
    ds = Dataset(responses=[response(at(2), [csat(5)]), response(at(20), [csat(5)])])
    a, b = {"window": (at(1), at(10))}, {"window": (at(15), at(25))}

    count = compare(ds, "RESPONSE_COUNT", a, b)
    small = compare(ds, "CSAT", a, b)

    assert count["difference"] == 0
    assert count["pValue"] is None and count["significant"] is None
    assert small["pValue"] is None  # n < 2 on a side


def test_compare_sides_have_their_own_filters() -> None:
    result = compare(
        segment_dataset(),
        "CSAT",
        {"window": MARCH, "filter": {"segments": ["a"]}},
        {"window": MARCH, "filter": {"segments": ["b"]}},
    )

    assert (result["a"]["value"], result["b"]["value"]) == (50.0, 100.0)
    assert result["difference"] == 50.0
    assert result["pValue"] is None  # b has n = 1


# ----------------------------------------------------------------------------- funnel

JOURNEY = {
    "key": "onboarding",
    "name": "Onboarding",
    "stages": [
        {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
        {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
        {"key": "support", "name": "Support", "phase": "POST_PURCHASE"},
    ],
}


def test_journey_funnel_follows_the_cohort_that_entered_in_the_window() -> None:
    def tp(cust: str, stage: str, hour: float, channel: str = "WEB") -> dict[str, Any]:
        return touchpoint(at(10, hour), cust, channel, journey="onboarding", stage=stage)

    ds = Dataset(
        journeys=[JOURNEY],
        touchpoints=[
            tp("c1", "signup", 10),
            tp("c1", "signup", 11),
            tp("c1", "checkout", 13),  # 3 hours after its first sign-up
            tp("c1", "support", 14),  # 1 hour after checkout
            tp("c2", "signup", 10),
            tp("c2", "checkout", 20),  # 10 hours
            tp("c3", "signup", 12),
            tp("c3", "checkout", 9),  # before its sign-up: not reached from sign-up
            tp("c4", "checkout", 10),  # never signed up: not in the cohort
            tp("c5", "signup", 10, channel="EMAIL"),
            tp("c7", "signup", 24 * 30),  # signed up after the window: not in the cohort
            touchpoint(at(10), "c6", stage="signup"),  # no journey
        ],
    )
    window = (at(1), at(20))
    now = at(31)

    stages = funnel(ds, "onboarding", window, now=now)
    web = funnel(ds, "onboarding", window, {"channels": ["WEB"]}, now=now)

    # cohort {c1, c2, c3, c5}; checkout reached by c1 (3 h) and c2 (10 h); c3 and c5 are
    # censored at ~21 days. Kaplan–Meier: S(3) = 3/4, S(10) = 3/4 · 2/3 = 1/2 → median 10 h.
    # checkout → support: c1 after 1 h, c2 censored: S(1) = 1/2 → median 1 h.
    assert stages == [
        {
            "stage": "signup",
            "customers": 4,
            "conversionFromPrevious": None,
            "medianHoursToNextStage": 10.0,
        },
        {
            "stage": "checkout",
            "customers": 2,
            "conversionFromPrevious": 50.0,
            "medianHoursToNextStage": 1.0,
        },
        {
            "stage": "support",
            "customers": 1,
            "conversionFromPrevious": 50.0,
            "medianHoursToNextStage": None,
        },
    ]
    # by WEB, c5 (EMAIL) is not in the cohort: 3, 2, 1 (conversion 66.7 %, never above 100)
    assert [s["customers"] for s in web] == [3, 2, 1]
    assert web[1]["conversionFromPrevious"] == approx(200 / 3)


def test_a_funnel_median_counts_those_not_yet_converted() -> None:
    def tp(cust: str, stage: str, day: int) -> dict[str, Any]:
        return touchpoint(at(day), cust, journey="onboarding", stage=stage)

    # three sign-ups; one checks out 24 h later; the others not yet (censored at `now`)
    ds = Dataset(
        journeys=[JOURNEY],
        touchpoints=[tp("a", "signup", 2), tp("a", "checkout", 3), tp("b", "signup", 2),
                     tp("c", "signup", 4)],
    )  # fmt: skip
    stages = funnel(ds, "onboarding", MARCH, now=at(30))
    # S(24 h) = 2/3 > 1/2: no median (the old median of converters only said 24 h)
    assert [s["medianHoursToNextStage"] for s in stages] == [None, None, None]

    # c signed up only 12 hours before `now`: censored before the 24-hour conversion, so
    # S(24 h) = 1 − 1/2 once c has left the risk set → the median is 24 h
    recent = funnel(ds, "onboarding", MARCH, now=at(4, 24))
    assert recent[0]["medianHoursToNextStage"] == 24.0


def test_a_journey_stage_without_customers() -> None:
    ds = Dataset(
        journeys=[JOURNEY],
        touchpoints=[touchpoint(at(2), "c1", journey="onboarding", stage="checkout")],
    )

    stages = funnel(ds, "onboarding", MARCH)

    # nobody signed up: the cohort is empty, so is every stage
    assert [(s["customers"], s["conversionFromPrevious"]) for s in stages] == [
        (0, None),
        (0, None),  # the previous stage has none
        (0, None),
    ]
    assert [s["medianHoursToNextStage"] for s in stages] == [None, None, None]


# ----------------------------------------------------------------------------- windows


def test_windows_must_be_non_empty_aware_and_at_most_400_days() -> None:
    ds = csat_dataset()
    with pytest.raises(BadUserInput):
        metric(ds, "CSAT", (at(2), at(2)))
    with pytest.raises(BadUserInput):
        metric(ds, "CSAT", (at(2), at(2) + timedelta(days=401)))
    with pytest.raises(ValueError):
        metric(ds, "CSAT", (datetime(2026, 3, 1), datetime(2026, 3, 2)))


def test_a_top_two_box_on_fewer_than_four_points_is_refused() -> None:
    ds = Dataset(responses=[response(at(2), [answer("CSAT", 3, 1, 3)])])
    with pytest.raises(ScaleTooShort):
        metric(ds, "CSAT", MARCH)
    assert metric(ds, "CSAT_SCORE_PERCENT", MARCH)["value"] == approx(100.0)


def test_compare_of_means_on_two_scales_is_refused_but_not_of_shares() -> None:
    ds = Dataset(
        responses=[response(at(2), [answer("CES", 4, 1, 5), answer("CSAT", 4, 1, 5)])] * 2
        + [response(at(20), [answer("CES", 6, 1, 7), answer("CSAT", 6, 1, 7)])] * 2
    )
    a, b = {"window": (at(1), at(10))}, {"window": (at(15), at(25))}
    with pytest.raises(IncompatibleScales):
        compare(ds, "CES", a, b)
    assert compare(ds, "CSAT", a, b)["difference"] == 0.0
