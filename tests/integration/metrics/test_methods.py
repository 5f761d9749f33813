"""Issue 13's worked examples, through GraphQL, with the expected numbers worked by hand.

Each data set is the smallest one that shows the old definition misleading; the numbers in
the assertions are computed in the comments, not read from the service or the oracle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests import oracle
from tests.conftest import make_settings, serving
from tests.graphql import gql, gql_ok
from tests.integration.metric_data import (
    COMPARE,
    METRIC,
    SOURCE,
    MetricData,
    load,
    ref,
    window_input,
)

JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


def jan(day: int, hour: int = 0) -> str:
    return datetime(2026, 1, day, hour, tzinfo=UTC).isoformat()


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": SOURCE, "externalId": external_id, **fields}


async def metric(
    client: httpx.AsyncClient, kind: str, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    variables = {"kind": kind, "window": window_input(window), "filter": None,
                 "source": "AUTO", "v": None}  # fmt: skip
    result: dict[str, Any] = (await gql_ok(client, METRIC, variables))["metric"]
    return result


# --------------------------------------------------------------------------- retention


async def test_retention_is_of_the_starting_cohort(client: httpx.AsyncClient) -> None:
    # 10 customers at the start of January, 5 of whom churn in January, and 10 who sign up
    # and churn within January
    staying = [customer(f"s{i}", signedUpAt="2025-06-01T00:00:00Z") for i in range(5)]
    leaving = [
        customer(f"l{i}", signedUpAt="2025-06-01T00:00:00Z", churnedAt=jan(10)) for i in range(5)
    ]
    passing = [customer(f"p{i}", signedUpAt=jan(5), churnedAt=jan(20)) for i in range(10)]
    await load(client, MetricData(customers=staying + leaving + passing))

    cohort = await metric(client, "RETENTION_RATE", JAN)
    net = await metric(client, "RETENTION_RATE_NET", JAN)
    churn = await metric(client, "CHURN_RATE", JAN)

    # S = 10, C = 5: retention (10 − 5)/10 = 50 %, churn 5/10 = 50 %, adding up to 100
    assert (cohort["value"], cohort["numerator"], cohort["denominator"], cohort["n"]) == (
        50, 5, 10, 10
    )  # fmt: skip
    assert cohort["confidenceInterval"] is not None
    assert churn["value"] == 50
    # E = 5 (the staying ones), Nw = 10: (5 − 10)/10 = −50 %, and no interval
    assert (net["value"], net["numerator"], net["denominator"]) == (-50, -5, 10)
    assert net["confidenceInterval"] is None and net["marginOfError"] is None


# --------------------------------------------------------------------------- scales


def answer(metric_: str, value: float, lo: int, hi: int) -> dict[str, Any]:
    return {"question": f"{metric_.lower()}?", "metric": metric_, "value": value,
            "scaleMin": lo, "scaleMax": hi}  # fmt: skip


def response(external_id: str, at: str, answers: list[dict[str, Any]], journey: str
             ) -> dict[str, Any]:  # fmt: skip
    return {"source": SOURCE, "externalId": external_id, "customer": ref("c1"),
            "submittedAt": at, "answers": answers, "journey": journey}  # fmt: skip


SCALES = MetricData(
    customers=[customer("c1")],
    responses=[
        response("five-1", jan(3), [answer("CES", 4, 1, 5), answer("CSAT", 5, 1, 5)], "five"),
        response("five-2", jan(4), [answer("CES", 2, 1, 5), answer("CSAT", 2, 1, 5)], "five"),
        response("seven-1", jan(5), [answer("CES", 6, 1, 7), answer("CSAT", 7, 1, 7)], "seven"),
        response("seven-2", jan(6), [answer("CES", 7, 1, 7), answer("CSAT", 3, 1, 7)], "seven"),
        response("three-1", jan(7), [answer("CSAT", 3, 1, 3)], "three"),
    ],
    journeys=[
        {"key": key, "name": key, "stages": [{"key": "s", "name": "S", "phase": "PURCHASE"}]}
        for key in ("five", "seven", "three")
    ],
)


async def test_means_on_two_scales_are_not_compared_and_boxes_need_4_points(
    client: httpx.AsyncClient,
) -> None:
    await load(client, SCALES)
    five, seven = ({"window": window_input(JAN), "filter": {"journeys": [j]}}
                   for j in ("five", "seven"))  # fmt: skip

    body = await gql(client, COMPARE, {"kind": "CES", "a": five, "b": seven})
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INCOMPATIBLE_SCALES"
    assert "1-5" in error["message"] and "1-7" in error["message"]

    # a share is comparable across scales: 1 of 2 top-box answers on each side
    data = await gql_ok(client, COMPARE, {"kind": "CSAT", "a": five, "b": seven})
    assert (data["compare"]["a"]["value"], data["compare"]["b"]["value"]) == (50, 50)

    # a top-2 box on 1–3 is refused, and so is any result that reads it
    three = {"journeys": ["three"]}
    variables = {"kind": "CSAT", "window": window_input(JAN), "filter": three,
                 "source": "AUTO", "v": None}  # fmt: skip
    (error,) = (await gql(client, METRIC, variables))["errors"]
    assert error["extensions"]["code"] == "SCALE_TOO_SHORT"
    assert "1-3" in error["message"]
    with pytest.raises(oracle.ScaleTooShort):
        oracle.metric(SCALES.dataset(), "CSAT", JAN, three)


# --------------------------------------------------------------------------- FCR


def contact(external_id: str, case: str, at: str, resolved: bool | None = None
            ) -> dict[str, Any]:  # fmt: skip
    record: dict[str, Any] = {
        "source": SOURCE, "externalId": external_id, "customer": ref("c1"), "channel": "PHONE",
        "kind": "support_call", "occurredAt": at, "caseId": case,
    }  # fmt: skip
    if resolved is not None:
        record["resolved"] = resolved
    return record


CASES = MetricData(
    customers=[customer("c1")],
    touchpoints=[
        contact("a1", "A", jan(2, 9), resolved=True),  # one contact, resolved
        contact("b1", "B", jan(2, 10), resolved=False),  # contacts on Jan 2, 3 and 4
        contact("b2", "B", jan(3, 10), resolved=False),
        contact("b3", "B", jan(4, 10), resolved=True),
        contact("c1", "C", jan(10, 9), resolved=True),  # resolved; back 10 days later
        contact("c2", "C", jan(20, 9)),
    ],
)
TREND_FCR = (
    "query($w: TimeWindow!) { trend(kind: FCR, granularity: DAY, window: $w, timezone: "
    '"UTC") { periodStart result { value n numerator } } }'
)


async def test_fcr_counts_a_case_once_in_the_period_of_its_first_contact(
    client: httpx.AsyncClient,
) -> None:
    await load(client, CASES)
    days = (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC))

    total = await metric(client, "FCR", days)
    by_day = (await gql_ok(client, TREND_FCR, {"w": window_input(days)}))["trend"]

    # A resolved at first contact, B not: 1 of 2 = 50 % over the three days ...
    assert (total["value"], total["numerator"], total["n"]) == (50, 1, 2)
    # ... and 50 % on Jan 2, where both cases started; Jan 3 and 4 have no case (n adds to 2)
    assert [(p["result"]["value"], p["result"]["n"]) for p in by_day] == [
        (50, 2), (None, 0), (None, 0)
    ]  # fmt: skip


async def test_a_contact_after_the_re_contact_window_is_a_new_issue(mongo_uri: str) -> None:
    # C's second contact comes 10 days after its first: past the default 7 days, C stays
    # resolved at first contact (1 of 1); with a 14-day window it is a re-contact (0 of 1)
    week = (datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC))
    for days, solved in ((7, 1), (14, 0)):
        async with serving(make_settings(mongo_uri, fcr_recontact_days=days)) as (_, client):
            await load(client, CASES)
            result = await metric(client, "FCR", week)
            assert (result["numerator"], result["n"]) == (solved, 1), days


# --------------------------------------------------------------------------- funnels

FUNNEL = (
    'query($w: TimeWindow) { journeyFunnel(journey: "shop", window: $w) { stage customers '
    "conversionFromPrevious medianHoursToNextStage } }"
)


def visit(external_id: str, who: str, stage: str, at: str) -> dict[str, Any]:
    return {"source": SOURCE, "externalId": external_id, "customer": ref(who), "channel": "WEB",
            "kind": "visit", "occurredAt": at, "journey": "shop", "stage": stage}  # fmt: skip


SHOP = MetricData(
    customers=[customer(c) for c in ("a", "b", "c", *(f"x{i}" for i in range(10)))],
    touchpoints=[
        # the cohort: a, b, c browse in the window; only a buys, 2 hours later
        visit("a1", "a", "browse", jan(10, 8)),
        visit("a2", "a", "buy", jan(10, 10)),
        visit("b1", "b", "browse", jan(11, 8)),
        visit("c1", "c", "browse", jan(12, 8)),
        # ten customers who browsed in December and buy in the window: not January's cohort
        *(visit(f"x{i}b", f"x{i}", "browse", "2025-12-20T08:00:00+00:00") for i in range(10)),
        *(visit(f"x{i}p", f"x{i}", "buy", jan(5, 9)) for i in range(10)),
    ],
    journeys=[
        {
            "key": "shop",
            "name": "Shop",
            "stages": [
                {"key": "browse", "name": "Browse", "phase": "PRE_PURCHASE"},
                {"key": "buy", "name": "Buy", "phase": "PURCHASE"},
            ],
        }
    ],
)


async def test_a_funnel_follows_its_entry_cohort(client: httpx.AsyncClient) -> None:
    await load(client, SHOP)
    steps = (await gql_ok(client, FUNNEL, {"w": window_input(JAN)}))["journeyFunnel"]
    # counting visitors per stage gave browse 3, buy 11: 367 % conversion, and a median of
    # 2 hours over the one buyer. The cohort: 3 browsed, 1 of them bought (33.3 %); the
    # Kaplan–Meier estimate stays at 2/3 after 2 hours (b and c are censored at now, months
    # later), never 1/2: no median.
    assert steps == [
        {"stage": "browse", "customers": 3, "conversionFromPrevious": None,
         "medianHoursToNextStage": None},
        {"stage": "buy", "customers": 1, "conversionFromPrevious": pytest.approx(100 / 3),
         "medianHoursToNextStage": None},
    ]  # fmt: skip


# --------------------------------------------------------------------------- CLV


def lived(external_id: str, churned: datetime, periods: int) -> dict[str, Any]:
    """A customer who churned after `periods` 30-day periods, earning 100 in each."""
    signed = churned - timedelta(days=30 * periods)
    return customer(external_id, signedUpAt=signed.isoformat(), churnedAt=churned.isoformat(),
                    revenue=100.0 * periods)  # fmt: skip


LIFETIMES = MetricData(
    customers=[
        lived("a1", datetime(2024, 7, 24, tzinfo=UTC), 19),  # churned in July 2024
        lived("a2", datetime(2024, 7, 5, tzinfo=UTC), 6),
        lived("b1", datetime(2026, 1, 10, tzinfo=UTC), 10),  # churned in January 2026
        lived("b2", datetime(2026, 1, 20, tzinfo=UTC), 24),
        # still active, with a large revenue to date: its span is unknown, so it is not read
        customer("o1", signedUpAt="2022-01-01T00:00:00Z", revenue=50_000.0),
        customer("o2", signedUpAt="2023-06-01T00:00:00Z"),
    ]
)


async def test_clv_reads_revenue_and_lifetime_over_the_same_span(
    client: httpx.AsyncClient,
) -> None:
    await load(client, LIFETIMES)
    jan_2026 = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC))
    jul_2024 = (datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 31, tzinfo=UTC))

    recent = await metric(client, "CLV", jan_2026)
    earlier = await metric(client, "CLV", jul_2024)

    # every churned customer earned 100 per 30-day period, so ARPC is 100 in both windows
    # (revenue to date over a tenure cut at the window's end depended on where the window sat)
    # January 2026: S = {b1, b2, o1, o2}, closed lifetimes b1, b2: 3400 / 34 periods;
    # C = {b1, b2}: L = 4/2 → 200
    assert (recent["numerator"], recent["denominator"]) == (3400, pytest.approx(34))
    assert recent["value"] == pytest.approx(200)
    # July 2024: S = {a1, a2, b2, o1, o2} (b1 signed up in March 2025); closed: a1, a2, b2:
    # 4900 / 49 periods; C = {a1, a2}: L = 5/2 → 250
    assert (earlier["numerator"], earlier["denominator"]) == (4900, pytest.approx(49))
    assert earlier["value"] == pytest.approx(250)
    for result, window in ((recent, jan_2026), (earlier, jul_2024)):
        interval = result["confidenceInterval"]
        assert interval["low"] < result["value"] < interval["high"]
        expected = oracle.metric(LIFETIMES.dataset(), "CLV", window)
        assert (interval["low"], interval["high"]) == (
            pytest.approx(expected["low"], rel=1e-9), pytest.approx(expected["high"], rel=1e-9)
        )  # fmt: skip


# --------------------------------------------------------------------------- many groups


async def test_each_query_takes_only_its_own_significance(client: httpx.AsyncClient) -> None:
    w = '{from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z"}'
    for query in (
        f"{{ breakdown(kind: CSAT, by: [SEGMENT], window: {w}, significance: VS_PREVIOUS) "
        "{ keys { value } } }",
        f"{{ trend(kind: CSAT, granularity: DAY, window: {w}, significance: VS_REST) "
        "{ periodStart } }",
    ):
        (error,) = (await gql(client, query, {}))["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["reason"] == "UNSUPPORTED_SIGNIFICANCE"
