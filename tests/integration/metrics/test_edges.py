"""Metric edge cases, each against the oracle and against docs/metrics.md stated outright:
empty windows and groups, a single response, window bounds exactly on a response, scales
that must not be pooled, the default window, read-your-writes, and a tenant timezone whose
rollup days do not line up with the query's periods."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from service.settings import Settings
from tests import oracle
from tests.conftest import make_settings
from tests.conftest import serving as serving_app
from tests.graphql import SUBMIT_RESPONSES, gql, gql_ok, no_answer
from tests.integration.metric_data import (
    ALL_KINDS,
    BREAKDOWN,
    COMPARE,
    METRIC,
    RAGGED,
    SOURCE,
    SURVEY_KINDS,
    TREND,
    TREND_QUERY,
    WHOLE_DAYS,
    MetricData,
    close,
    generate,
    load,
    observed,
    ref,
    result_mismatches,
    window_input,
)

SOURCES = ("RAW", "AUTO")
NEW_YORK = ZoneInfo("America/New_York")
TEHRAN = ZoneInfo("Asia/Tehran")
EMPTY_WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 9, tzinfo=UTC))


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own settings."""
    async with serving_app(settings) as (_, c):
        yield c


async def metric(
    client: httpx.AsyncClient,
    kind: str,
    window: tuple[datetime, datetime] | None,
    source: str = "AUTO",
    filter_: dict[str, Any] | None = None,
    min_version: int | None = None,
) -> dict[str, Any]:
    variables = {
        "kind": kind,
        "window": window_input(window) if window else None,
        "filter": filter_,
        "source": source,
        "v": min_version,
    }
    data = await gql_ok(client, METRIC, variables)
    result: dict[str, Any] = data["metric"]
    return result


def assert_same(actual: dict[str, Any], expected: dict[str, Any], where: str = "") -> None:
    problems = result_mismatches(actual, expected, where)
    assert not problems, "\n".join(problems)


def answer(metric_: str, value: float, lo: int, hi: int, **fields: Any) -> dict[str, Any]:
    return {
        "question": f"{metric_.lower()}?",
        "metric": metric_,
        "value": value,
        "scaleMin": lo,
        "scaleMax": hi,
        **fields,
    }


def response(
    external_id: str, at: datetime, answers: list[dict[str, Any]], customer: str = "c1", **f: Any
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "externalId": external_id,
        "customer": ref(customer),
        "submittedAt": at.isoformat(),
        "answers": answers,
        **f,
    }


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": SOURCE, "externalId": external_id, **fields}


SMALL = generate(7, customers=12, stubs=1, cases=6, responses=40)
VS_REST = (
    "query($kind: MetricKind!, $w: TimeWindow) { breakdown(kind: $kind, by: [SEGMENT], "
    "window: $w, significance: VS_REST) { keys { value } result { lowSample } "
    "test { pValue adjustedPValue significant withheld } } }"
)


# --------------------------------------------------------------------------- empty


@pytest.mark.parametrize("source", SOURCES)
async def test_an_empty_window_gives_n_0_and_a_null_value(
    client: httpx.AsyncClient, source: str
) -> None:
    ds, _ = await load(client, SMALL)
    problems: list[str] = []
    for kind in ALL_KINDS:
        got = await metric(client, kind, EMPTY_WINDOW, source)
        problems += result_mismatches(got, oracle.metric(ds, kind, EMPTY_WINDOW), f"{kind}: ")
        if kind in SURVEY_KINDS or kind == "FCR":
            # stated in docs/metrics.md: value null, numerator/denominator the empty sums
            denominator = None if kind == "RESPONSE_COUNT" else 0
            expected = (None, 0, 0, denominator, None, None)
            seen = (
                got["value"],
                got["n"],
                got["numerator"],
                got["denominator"],
                got["confidenceInterval"],
                got["marginOfError"],
            )
            if seen != expected:
                problems.append(f"{kind}: {seen} != {expected}")
            if got["lowSample"] is not True:
                problems.append(f"{kind}: lowSample {got['lowSample']!r} with n = 0")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", SOURCES)
async def test_empty_groups_are_not_listed_and_empty_periods_are(
    client: httpx.AsyncClient, source: str
) -> None:
    ds, _ = await load(client, SMALL)
    for kind in ("NPS", "CSAT", "RESPONSE_COUNT", "FCR"):
        data = await gql_ok(
            client,
            BREAKDOWN,
            {"kind": kind, "by": ["SEGMENT"], "window": window_input(EMPTY_WINDOW),
             "filter": None, "source": source},
        )  # fmt: skip
        assert data["breakdown"] == [], kind
        assert oracle.breakdown(ds, kind, ["SEGMENT"], EMPTY_WINDOW) == {}
    # a trend over days with and without data lists every day, the empty ones with n = 0
    window = (datetime(2026, 2, 18, tzinfo=UTC), datetime(2026, 3, 14, tzinfo=UTC))
    data = await gql_ok(
        client,
        TREND_QUERY,
        {"kind": "CSAT", "granularity": "DAY", "window": window_input(window),
         "timezone": "UTC", "filter": None, "source": source},
    )  # fmt: skip
    points = data["trend"]
    assert len(points) == 24
    expected = oracle.trend(ds, "CSAT", "DAY", window, "UTC")
    assert any(r["n"] == 0 for _, r in expected) and any(r["n"] > 0 for _, r in expected)
    problems: list[str] = []
    for point, (start, result) in zip(points, expected, strict=True):
        assert datetime.fromisoformat(point["periodStart"]) == start
        problems += result_mismatches(point["result"], result, f"{start.date()}: ")
        if result["n"] == 0 and (point["result"]["n"], point["result"]["value"]) != (0, None):
            problems.append(f"{start.date()}: an empty period is not n = 0, value null")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", SOURCES)
async def test_an_empty_filter_list_matches_nothing_and_null_filters_nothing(
    client: httpx.AsyncClient, source: str
) -> None:
    ds, _ = await load(client, SMALL)
    for flt, empty in (
        ({"segments": []}, True),
        ({"channels": []}, True),
        ({"components": []}, True),
        ({"segments": None, "journeys": None}, False),
    ):
        for kind in ("CSAT", "RESPONSE_COUNT", "COMPONENT_SCORE"):
            got = await metric(client, kind, WHOLE_DAYS, source, flt)
            assert_same(got, oracle.metric(ds, kind, WHOLE_DAYS, flt), f"{kind} {flt}: ")
            assert (got["n"] == 0) is empty, (kind, flt, got["n"])


# --------------------------------------------------------------------------- one response

ONE_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ONE = MetricData(
    customers=[customer("c1", segments=["a", "b"])],
    responses=[
        response(
            "r1",
            ONE_AT,
            [
                answer("NPS", 9, 0, 10),
                answer("CSAT", 5, 1, 5),
                answer("CES", 3, 1, 7),
                answer("EMOTION", 4, 1, 5),
                answer("VALUE_FOR_EFFORT", 2, 1, 5),
                answer("COMPONENT", 4, 1, 5, component="PRICE"),
            ],
            journey="j",
            stage="s1",
            channel="WEB",
        )
    ],
    journeys=[
        {"key": "j", "name": "J", "stages": [{"key": "s1", "name": "S1", "phase": "PURCHASE"}]}
    ],
)


@pytest.mark.parametrize("source", SOURCES)
async def test_a_single_response(client: httpx.AsyncClient, source: str) -> None:
    ds, _ = await load(client, ONE)
    problems: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    for kind in SURVEY_KINDS:
        results[kind] = await metric(client, kind, WHOLE_DAYS, source)
        problems += result_mismatches(
            results[kind], oracle.metric(ds, kind, WHOLE_DAYS), f"{kind}: "
        )
    assert not problems, "\n".join(problems)
    # stated: with one answer NPS (100 here) and a mean have no interval
    nps = observed(results["NPS"])
    assert (nps["value"], nps["n"], nps["low"], nps["high"], nps["marginOfError"]) == (
        100, 1, None, None, None
    )  # fmt: skip
    assert nps["distribution"] == {"promoters": 1, "passives": 0, "detractors": 0}
    ces = results["CES"]
    assert (ces["value"], ces["n"], ces["confidenceInterval"], ces["marginOfError"]) == (
        3, 1, None, None
    )  # fmt: skip
    count = results["RESPONSE_COUNT"]
    assert (count["value"], count["n"], count["numerator"], count["denominator"]) == (1, 1, 1, None)
    assert results["COMPONENT_SCORE"]["value"] == pytest.approx(75)

    # a response in two segments counts once in each segment's group
    data = await gql_ok(
        client,
        BREAKDOWN,
        {"kind": "NPS", "by": ["SEGMENT"], "window": window_input(WHOLE_DAYS), "filter": None,
         "source": source},
    )  # fmt: skip
    groups = {g["keys"][0]["value"]: g["result"]["n"] for g in data["breakdown"]}
    assert groups == {"a": 1, "b": 1}

    # with n < 2 on a side, no p-value
    side = {"window": window_input(WHOLE_DAYS), "filter": None}
    data = await gql_ok(client, COMPARE, {"kind": "CES", "a": side, "b": side})
    got = data["compare"]
    expected = oracle.compare(ds, "CES", {"window": WHOLE_DAYS}, {"window": WHOLE_DAYS})
    assert (got["difference"], got["pValue"], got["significant"]) == (0, None, None)
    assert (expected["difference"], expected["pValue"], expected["significant"]) == (0, None, None)


# --------------------------------------------------------------------------- window edges

EDGE_INSTANTS = {
    "utc_midnight": datetime(2026, 3, 2, tzinfo=UTC),
    "tehran_midnight": datetime(2026, 3, 2, tzinfo=TEHRAN),
    "mid_day": datetime(2026, 3, 2, 13, 37, 11, tzinfo=TEHRAN),
    "dst_change": datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("instant", EDGE_INSTANTS)
async def test_a_window_bound_exactly_on_a_response(
    client: httpx.AsyncClient, instant: str, source: str
) -> None:
    at = EDGE_INSTANTS[instant]
    data = MetricData(
        customers=[customer("c1", segments=["a"])],
        responses=[
            response("on", at, [answer("CSAT", 4, 1, 5)]),
            response("before", at - timedelta(seconds=1), [answer("CSAT", 2, 1, 5)]),
            response("after", at + timedelta(seconds=1), [answer("CSAT", 5, 1, 5)]),
        ],
    )
    ds, _ = await load(client, data)
    day = timedelta(days=1)
    for label, window, n in (
        ("from = submittedAt: included", (at, at + day), 2),
        ("to = submittedAt: excluded", (at - day, at), 1),
        (
            "from and to in New York time",
            (at.astimezone(NEW_YORK), (at + day).astimezone(NEW_YORK)),
            2,
        ),
        ("to in Tehran time", ((at - 3 * day).astimezone(TEHRAN), at.astimezone(TEHRAN)), 1),
        ("just the instant", (at, at + timedelta(seconds=1)), 1),
        ("around it, with whole days", (at - 3 * day, at + 3 * day), 3),
    ):
        for kind in ("CSAT", "RESPONSE_COUNT"):
            got = await metric(client, kind, window, source)
            assert got["n"] == n, (label, kind)
            assert_same(got, oracle.metric(ds, kind, window), f"{label} {kind}: ")


# --------------------------------------------------------------------------- scales

SCALED = MetricData(
    customers=[customer("c1", segments=["a"]), customer("c2", segments=["b"])],
    responses=[
        response(f"on5-{i}", datetime(2026, 3, 2, 10, i, tzinfo=UTC),
                 [answer("CSAT", v, 1, 5), answer("COMPONENT", v, 1, 5, component="PRICE")],
                 journey="five", customer="c1")
        for i, v in enumerate((5, 4, 2, 4))
    ] + [
        response(f"on10-{i}", datetime(2026, 3, 3, 10, i, tzinfo=UTC),
                 [answer("CSAT", v, 1, 10), answer("COMPONENT", w, 1, 7, component="PRICE")],
                 journey="ten", customer="c2")
        for i, (v, w) in enumerate(((9, 6), (10, 7), (3, 2)))
    ],
    journeys=[
        {"key": "five", "name": "Five", "stages": [{"key": "s", "name": "S", "phase": "PURCHASE"}]},
        {"key": "ten", "name": "Ten", "stages": [{"key": "s", "name": "S", "phase": "PURCHASE"}]},
    ],
)  # fmt: skip
SCALE_NAMES = {"CSAT": ("1-5", "1-10"), "COMPONENT_SCORE": ("1-5", "1-7")}


def names_scale(message: str, scale: str) -> bool:
    lo, hi = scale.split("-")
    return re.search(rf"(?<!\d){lo}\s*(?:-|–|\.\.|,|to)\s*{hi}(?!\d)", message) is not None


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", SCALE_NAMES)
async def test_two_scales_in_one_result_fail_and_a_filter_separates_them(
    client: httpx.AsyncClient, kind: str, source: str
) -> None:
    ds, _ = await load(client, SCALED)
    variables = {"kind": kind, "window": window_input(WHOLE_DAYS), "filter": None,
                 "source": source, "v": None}  # fmt: skip
    body = await gql(client, METRIC, variables)
    with pytest.raises(oracle.IncompatibleScales):
        oracle.metric(ds, kind, WHOLE_DAYS)
    assert no_answer(body), body  # no partial answer
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INCOMPATIBLE_SCALES"
    for scale in SCALE_NAMES[kind]:
        assert names_scale(error["message"], scale), (scale, error["message"])

    # per segment, the scales meet nowhere: the breakdown works; so does each journey alone
    for segment_or_journey in ({"segments": ["a"]}, {"segments": ["b"]}, {"journeys": ["ten"]}):
        got = await metric(client, kind, WHOLE_DAYS, source, segment_or_journey)
        assert_same(got, oracle.metric(ds, kind, WHOLE_DAYS, segment_or_journey))
        assert got["n"] > 0
    data = await gql_ok(
        client,
        BREAKDOWN,
        {"kind": kind, "by": ["JOURNEY"], "window": window_input(WHOLE_DAYS), "filter": None,
         "source": source},
    )  # fmt: skip
    expected = oracle.breakdown(ds, kind, ["JOURNEY"], WHOLE_DAYS)
    got_groups = {g["keys"][0]["value"]: g["result"] for g in data["breakdown"]}
    assert set(got_groups) == {k[0] for k in expected} == {"five", "ten"}
    for (journey,), result in expected.items():
        assert_same(got_groups[journey], result, f"{journey}: ")
    # each trend day holds one scale
    data = await gql_ok(
        client,
        TREND_QUERY,
        {"kind": kind, "granularity": "DAY", "window": window_input(WHOLE_DAYS),
         "timezone": "UTC", "filter": None, "source": source},
    )  # fmt: skip
    for point, (_, result) in zip(
        data["trend"], oracle.trend(ds, kind, "DAY", WHOLE_DAYS, "UTC"), strict=True
    ):
        assert_same(point["result"], result, f"{point['periodStart']}: ")
    # scales are checked per side of a comparison
    a = {"window": WHOLE_DAYS, "filter": {"journeys": ["five"]}}
    b = {"window": WHOLE_DAYS, "filter": {"journeys": ["ten"]}}
    data = await gql_ok(
        client,
        COMPARE,
        {"kind": kind, **{k: {"window": window_input(v["window"]), "filter": v["filter"]}
                          for k, v in (("a", a), ("b", b))}},
    )  # fmt: skip
    expected_cmp = oracle.compare(ds, kind, a, b)
    assert_same(data["compare"]["a"], expected_cmp["a"], "a: ")
    assert_same(data["compare"]["b"], expected_cmp["b"], "b: ")
    assert data["compare"]["pValue"] == pytest.approx(expected_cmp["pValue"], rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- minimum sample


async def test_low_sample_follows_the_tenant_minimum(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, min_sample=5)) as client:
        ds, _ = await load(client, SMALL)
        problems: list[str] = []
        flags: set[bool] = set()
        for kind in ALL_KINDS:
            data = await gql_ok(
                client,
                BREAKDOWN,
                {"kind": kind, "by": ["SEGMENT"], "window": window_input(WHOLE_DAYS),
                 "filter": None, "source": "AUTO"},
            )  # fmt: skip
            expected = oracle.breakdown(ds, kind, ["SEGMENT"], WHOLE_DAYS, min_sample=5)
            got = {tuple(k["value"] for k in g["keys"]): g["result"] for g in data["breakdown"]}
            assert set(got) == set(expected), kind
            for key, result in expected.items():
                problems += result_mismatches(got[key], result, f"{kind} {key}: ")
                flags.add(got[key]["lowSample"])
        assert not problems, "\n".join(problems)
        assert flags == {True, False}  # the data set has groups on both sides of 5

        # each group against the rest: withheld exactly where lowSample, else as the oracle
        tested = await check_vs_rest(client, ds, 5)
        assert {"CSAT", "CES", "EMOTION"} <= tested


async def check_vs_rest(client: httpx.AsyncClient, ds: oracle.Dataset, min_sample: int
                        ) -> set[str]:  # fmt: skip
    """breakdown(significance: VS_REST) by SEGMENT against the oracle for every kind; the
    kinds with at least one p-value."""
    tested: set[str] = set()
    for kind in ALL_KINDS:
        body = await gql_ok(client, VS_REST, {"kind": kind, "w": window_input(WHOLE_DAYS)})
        expected_tests = oracle.breakdown_tests(ds, kind, ["SEGMENT"], WHOLE_DAYS,
                                                min_sample=min_sample)  # fmt: skip
        for group in body["breakdown"]:
            key = tuple(k["value"] for k in group["keys"])
            test, want = group["test"], expected_tests[key]
            for field in ("pValue", "adjustedPValue", "significant", "withheld"):
                assert close(test[field], want[field]), (kind, key, field, test, want)
            if kind in ("RESPONSE_COUNT", "CLV", "RETENTION_RATE_NET"):
                assert (test["pValue"], test["withheld"]) == (None, "NO_TEST")
            elif group["result"]["lowSample"]:
                assert (test["pValue"], test["withheld"]) == (None, "LOW_SAMPLE")
            elif test["pValue"] is not None:
                tested.add(kind)
    return tested


async def test_every_testable_kind_against_the_rest(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, min_sample=1)) as client:
        ds, _ = await load(client, SMALL)
        tested = await check_vs_rest(client, ds, 1)
    assert {"FCR", "CHURN_RATE", "RETENTION_RATE", "CSAT", "CES"} <= tested


# --------------------------------------------------------------------------- default window


@pytest.mark.parametrize("tenant_tz", ["UTC", "Asia/Tehran"])
async def test_without_a_window_a_metric_reads_the_last_30_whole_days(
    mongo_uri: str, tenant_tz: str
) -> None:
    zone = ZoneInfo(tenant_tz)
    today = datetime.now(zone).date()

    def local_midnight(day: Any) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    start, end = local_midnight(today - timedelta(days=29)), local_midnight(today + timedelta(1))
    second = timedelta(seconds=1)
    moments = [start - second, start, start + timedelta(days=10), end - second, end]
    data = MetricData(
        customers=[customer("c1")],
        responses=[
            response(f"r{i}", m, [answer("CSAT", 1 + i, 1, 5)]) for i, m in enumerate(moments)
        ],
    )
    async with serving(make_settings(mongo_uri, timezone=tenant_tz)) as client:
        ds, _ = await load(client, data)
        got = {source: await metric(client, "CSAT", None, source) for source in SOURCES}
    if datetime.now(zone).date() != today:  # the tenant's day turned during the test
        pytest.skip("the tenant's day changed during the test; the default window moved")
    for source, result in got.items():
        assert result["n"] == 3, source
        assert_same(result, oracle.metric(ds, "CSAT", (start, end)), f"{source}: ")


# --------------------------------------------------------------------------- read your writes


@pytest.mark.parametrize("source", SOURCES)
async def test_a_metric_at_the_written_data_version_reflects_the_write(
    client: httpx.AsyncClient, source: str
) -> None:
    ds, _ = await load(client, SMALL)
    # read first, so that caches and rollups of the days written to below exist
    before = {
        kind: await metric(client, kind, WHOLE_DAYS, source) for kind in ("NPS", "RESPONSE_COUNT")
    }
    assert_same(before["NPS"], oracle.metric(ds, "NPS", WHOLE_DAYS))
    days = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 2, 10, 12, 30, tzinfo=UTC)]
    new = [
        response(
            "rw-1",
            days[0],
            customer="cus-001",
            answers=[answer("NPS", 10, 0, 10), answer("NPS", 0, 0, 10)],
        ),
        response(
            "rw-2",
            days[1],
            customer="cus-001",
            answers=[answer("NPS", 7, 0, 10), answer("CSAT", 3, 1, 5)],
        ),
        response(
            "rw-3",
            days[1] + timedelta(hours=1),
            customer="cus-002",
            answers=[answer("CSAT", 3, 1, 5)],
        ),
    ]
    written = await gql_ok(client, SUBMIT_RESPONSES, {"input": new})
    result = written["submitSurveyResponses"]
    assert result["inserted"] == 3
    version = result["dataVersion"]
    after = {
        kind: await metric(client, kind, WHOLE_DAYS, source, min_version=version)
        for kind in ("NPS", "RESPONSE_COUNT")
    }
    assert after["NPS"]["n"] == before["NPS"]["n"] + 2  # rw-1's two NPS answers: one respondent
    assert after["RESPONSE_COUNT"]["n"] == before["RESPONSE_COUNT"]["n"] + 3
    assert after["NPS"]["dataVersion"] >= version
    ds_after = MetricData(
        SMALL.customers, SMALL.touchpoints, SMALL.responses + new, SMALL.journeys
    ).dataset()
    assert_same(after["NPS"], oracle.metric(ds_after, "NPS", WHOLE_DAYS))


# --------------------------------------------------------------------------- tenant timezone

FULL = generate()


@dataclass
class Tenant:
    client: httpx.AsyncClient
    ds: oracle.Dataset


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tehran_tenant(mongo_uri: str) -> AsyncIterator[Tenant]:
    """The full data set in a tenant whose timezone (and so rollup days) is Asia/Tehran."""
    async with serving(make_settings(mongo_uri, timezone="Asia/Tehran")) as client:
        ds, _ = await load(client, FULL)
        yield Tenant(client, ds)


TZ_QUERIES = {
    # name: (operation, window, trend timezone)
    "metric-utc-days": ("metric", WHOLE_DAYS, None),
    "metric-ragged": ("metric", RAGGED, None),
    "breakdown-segment": ("breakdown", RAGGED, None),
    "trend-day-utc": ("trend", TREND, "UTC"),
    "trend-day-new-york": ("trend", TREND, "America/New_York"),
    "trend-week-new-york": ("trend", TREND, "America/New_York"),
    "trend-day-tenant-default": ("trend", TREND, None),
}
TZ_CASES = [
    pytest.param(name, kind, source, id=f"{name}-{kind}-{source}")
    for name in TZ_QUERIES
    for kind in ("NPS", "CSAT", "CES", "COMPONENT_SCORE", "RESPONSE_COUNT")
    for source in SOURCES
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("name", "kind", "source"), TZ_CASES)
async def test_a_tenant_timezone_that_does_not_align_with_the_query(
    tehran_tenant: Tenant, name: str, kind: str, source: str
) -> None:
    client, ds = tehran_tenant.client, tehran_tenant.ds
    operation, window, tz = TZ_QUERIES[name]
    problems: list[str] = []
    if operation == "metric":
        got = await metric(client, kind, window, source)
        problems = result_mismatches(got, oracle.metric(ds, kind, window))
    elif operation == "breakdown":
        data = await gql_ok(
            client,
            BREAKDOWN,
            {"kind": kind, "by": ["SEGMENT"], "window": window_input(window), "filter": None,
             "source": source},
        )  # fmt: skip
        groups = {g["keys"][0]["value"]: g["result"] for g in data["breakdown"]}
        expected = oracle.breakdown(ds, kind, ["SEGMENT"], window)
        assert set(groups) == {k[0] for k in expected}
        for (segment,), result in expected.items():
            problems += result_mismatches(groups[segment], result, f"{segment}: ")
    else:
        granularity = "WEEK" if "week" in name else "DAY"
        data = await gql_ok(
            client,
            TREND_QUERY,
            {"kind": kind, "granularity": granularity, "window": window_input(window),
             "timezone": tz, "filter": None, "source": source},
        )  # fmt: skip
        # without a timezone, periods are the tenant's days
        expected_points = oracle.trend(ds, kind, granularity, window, tz or "Asia/Tehran")
        starts = [datetime.fromisoformat(p["periodStart"]) for p in data["trend"]]
        assert [(s, s.utcoffset()) for s in starts] == [
            (s, s.utcoffset()) for s, _ in expected_points
        ]
        for point, (start, result) in zip(data["trend"], expected_points, strict=True):
            problems += result_mismatches(point["result"], result, f"{start.isoformat()}: ")
    assert not problems, "\n".join(problems)
