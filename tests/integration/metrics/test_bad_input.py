"""Metric queries given bad arguments: every error carries its exact `extensions.code` (and
`extensions.reason` where the service sets one); strings that look like MongoDB operators
are values that match nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests import oracle
from tests.conftest import make_settings, serving
from tests.graphql import DEFINE_JOURNEY, gql, gql_ok, no_answer
from tests.integration.metric_data import (
    JOURNEYS,
    WHOLE_DAYS,
    generate,
    load,
    result_mismatches,
    window_input,
)

GOOD = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00+03:30"}

# operation -> (variable type of the window, the field with `$w` as its window)
OPERATIONS = {
    "metric": ("TimeWindow", "metric(kind: CSAT, window: $w) { n }"),
    "breakdown": (
        "TimeWindow",
        "breakdown(kind: CSAT, by: [SEGMENT], window: $w) { keys { value } }",
    ),
    "trend": ("TimeWindow!", "trend(kind: CSAT, granularity: DAY, window: $w) { periodStart }"),
    "compare": (
        "TimeWindow!",
        'compare(kind: CSAT, a: {window: {from: "2026-01-01T00:00:00Z", '
        'to: "2026-01-02T00:00:00Z"}}, b: {window: $w}) { difference }',
    ),
    "journeyFunnel": ("TimeWindow", 'journeyFunnel(journey: "onboarding", window: $w) { stage }'),
}


def with_window(operation: str) -> str:
    var_type, field = OPERATIONS[operation]
    return f"query($w: {var_type}) {{ {field} }}"


@pytest.fixture(autouse=True)
async def journeys(client: httpx.AsyncClient) -> None:
    for journey in JOURNEYS:
        await gql_ok(client, DEFINE_JOURNEY, {"input": journey})


def assert_error(body: dict[str, Any], code: str, reason: str | None = None) -> None:
    errors = body.get("errors") or []
    assert errors, body
    assert no_answer(body), body  # no partial answer
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    assert codes == [code] * len(errors), errors
    if reason is not None:
        assert [(e.get("extensions") or {}).get("reason") for e in errors] == [reason], errors


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_each_operation_answers_a_good_window(
    client: httpx.AsyncClient, operation: str
) -> None:
    await gql_ok(client, with_window(operation), {"w": GOOD})


# --------------------------------------------------------------------------- windows

WINDOW_CASES = {
    "reversed": (
        {"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
        "BAD_USER_INPUT",
        "INVALID_WINDOW",
    ),
    "empty": (
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T03:30:00+03:30"},
        "BAD_USER_INPUT",
        "INVALID_WINDOW",
    ),
    "longer_than_400_days": (
        {"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:01Z"},
        "BAD_USER_INPUT",
        "WINDOW_TOO_LONG",
    ),
    "from_without_offset": (
        {"from": "2026-02-01T00:00:00", "to": "2026-03-01T00:00:00Z"},
        "BAD_USER_INPUT",
        "MISSING_UTC_OFFSET",
    ),
    "to_without_offset": (
        {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00"},
        "BAD_USER_INPUT",
        "MISSING_UTC_OFFSET",
    ),
    "from_yesterday": (
        {"from": "yesterday", "to": "2026-03-01T00:00:00Z"},
        "BAD_USER_INPUT",
        None,
    ),
    "to_a_number": ({"from": "2026-02-01T00:00:00Z", "to": 5}, "BAD_USER_INPUT", None),
    "to_missing": ({"from": "2026-02-01T00:00:00Z"}, "BAD_USER_INPUT", None),
}


@pytest.mark.parametrize("case", WINDOW_CASES)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_bad_window(client: httpx.AsyncClient, operation: str, case: str) -> None:
    window, code, reason = WINDOW_CASES[case]
    body = await gql(client, with_window(operation), {"w": window})
    assert_error(body, code, reason)


async def test_an_impossible_date_is_named_as_such(client: httpx.AsyncClient) -> None:
    window = {"from": "2026-02-30T10:00:00Z", "to": "2026-03-01T00:00:00Z"}

    body = await gql(client, with_window("metric"), {"w": window})

    assert_error(body, "BAD_USER_INPUT", None)
    assert body["errors"][0]["message"] == (
        "Variable '$w' has invalid value at .from: Value cannot represent a DateTime: "
        '"2026-02-30T10:00:00Z". 2026-02-30 is an impossible date: February 2026 has 28 days'
    )


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_window_of_exactly_400_days_is_accepted(
    client: httpx.AsyncClient, operation: str
) -> None:
    window = {"from": "2025-01-01T00:00:00Z", "to": "2026-02-05T00:00:00Z"}  # 400 days
    await gql_ok(client, with_window(operation), {"w": window})


async def test_the_window_limit_is_the_tenant_setting(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, max_window_days=7)) as (_, c):
        seven = {"from": "2026-02-01T00:00:00Z", "to": "2026-02-08T00:00:00Z"}
        more = {"from": "2026-02-01T00:00:00Z", "to": "2026-02-08T00:00:01Z"}
        await gql_ok(c, with_window("metric"), {"w": seven})
        body = await gql(c, with_window("metric"), {"w": more})
        assert_error(body, "BAD_USER_INPUT", "WINDOW_TOO_LONG")
        body = await gql(c, with_window("trend"), {"w": more})
        assert_error(body, "BAD_USER_INPUT", "WINDOW_TOO_LONG")


# --------------------------------------------------------------------------- arguments

W = '{from: "2026-02-01T00:00:00Z", to: "2026-03-01T00:00:00Z"}'
ARGUMENT_CASES = {
    # GraphQL type errors: the whole request fails before any resolver runs
    "metric-kind-string": (f'{{ metric(kind: "NOPE", window: {W}) {{ n }} }}', None),
    "metric-kind-unknown": (f"{{ metric(kind: NOPE, window: {W}) {{ n }} }}", None),
    "metric-kind-missing": (f"{{ metric(window: {W}) {{ n }} }}", None),
    "metric-window-from-yesterday": (
        '{ metric(kind: CSAT, window: {from: "yesterday", to: "2026-03-01T00:00:00Z"}) { n } }',
        None,
    ),
    "metric-window-to-missing": (
        '{ metric(kind: CSAT, window: {from: "2026-02-01T00:00:00Z"}) { n } }',
        None,
    ),
    "metric-source-string": (f'{{ metric(kind: CSAT, window: {W}, source: "RAW") {{ n }} }}', None),
    "metric-source-unknown": (f"{{ metric(kind: CSAT, window: {W}, source: FAST) {{ n }} }}", None),
    "metric-min-data-version-string": (
        f'{{ metric(kind: CSAT, window: {W}, minDataVersion: "1") {{ n }} }}',
        None,
    ),
    "metric-filter-unknown-field": (
        f'{{ metric(kind: CSAT, window: {W}, filter: {{segment: ["a"]}}) {{ n }} }}',
        None,
    ),
    "metric-filter-channel-unknown": (
        f"{{ metric(kind: CSAT, window: {W}, filter: {{channels: [FAX]}}) {{ n }} }}",
        None,
    ),
    "breakdown-kind-string": (
        f'{{ breakdown(kind: "NOPE", by: [SEGMENT], window: {W}) {{ keys {{ value }} }} }}',
        None,
    ),
    "breakdown-by-missing": (
        f"{{ breakdown(kind: CSAT, window: {W}) {{ keys {{ value }} }} }}",
        None,
    ),
    "breakdown-by-unknown": (
        f"{{ breakdown(kind: CSAT, by: [REGION], window: {W}) {{ keys {{ value }} }} }}",
        None,
    ),
    "breakdown-by-string": (
        f'{{ breakdown(kind: CSAT, by: ["SEGMENT"], window: {W}) {{ keys {{ value }} }} }}',
        None,
    ),
    "breakdown-no-dimensions": (
        f"{{ breakdown(kind: CSAT, by: [], window: {W}) {{ keys {{ value }} }} }}",
        "INVALID_DIMENSIONS",
    ),
    "breakdown-three-dimensions": (
        f"{{ breakdown(kind: CSAT, by: [SEGMENT, JOURNEY, STAGE], window: {W}) "
        "{ keys { value } } }",
        "INVALID_DIMENSIONS",
    ),
    "breakdown-duplicate-dimensions": (
        f"{{ breakdown(kind: CSAT, by: [SEGMENT, SEGMENT], window: {W}) {{ keys {{ value }} }} }}",
        "INVALID_DIMENSIONS",
    ),
    "breakdown-customer-kind-by-channel": (
        f"{{ breakdown(kind: CHURN_RATE, by: [CHANNEL], window: {W}) {{ keys {{ value }} }} }}",
        "UNSUPPORTED_FILTER",
    ),
    "metric-customer-kind-channel-filter": (
        f"{{ metric(kind: RETENTION_RATE, window: {W}, filter: {{channels: [WEB]}}) {{ n }} }}",
        "UNSUPPORTED_FILTER",
    ),
    "trend-kind-string": (
        f'{{ trend(kind: "NOPE", granularity: DAY, window: {W}) {{ periodStart }} }}',
        None,
    ),
    "trend-granularity-5": (
        f"{{ trend(kind: CSAT, granularity: 5, window: {W}) {{ periodStart }} }}",
        None,
    ),
    "trend-granularity-unknown": (
        f"{{ trend(kind: CSAT, granularity: HOUR, window: {W}) {{ periodStart }} }}",
        None,
    ),
    "trend-granularity-missing": (f"{{ trend(kind: CSAT, window: {W}) {{ periodStart }} }}", None),
    "trend-window-missing": ("{ trend(kind: CSAT, granularity: DAY) { periodStart } }", None),
    "trend-window-from-yesterday": (
        '{ trend(kind: CSAT, granularity: WEEK, window: {from: "yesterday", '
        'to: "2026-03-01T00:00:00Z"}) { periodStart } }',
        None,
    ),
    "trend-timezone-number": (
        f"{{ trend(kind: CSAT, granularity: DAY, window: {W}, timezone: 3) {{ periodStart }} }}",
        None,
    ),
    "trend-timezone-unknown": (
        f'{{ trend(kind: CSAT, granularity: DAY, window: {W}, timezone: "Mars/Olympus") '
        "{ periodStart } }",
        "UNKNOWN_TIMEZONE",
    ),
    "trend-timezone-a-path": (
        f'{{ trend(kind: CSAT, granularity: DAY, window: {W}, timezone: "../../etc/passwd") '
        "{ periodStart } }",
        "UNKNOWN_TIMEZONE",
    ),
    "trend-timezone-an-offset": (
        f'{{ trend(kind: CSAT, granularity: DAY, window: {W}, timezone: "+03:30") '
        "{ periodStart } }",
        "UNKNOWN_TIMEZONE",
    ),
    "compare-kind-string": (
        f'{{ compare(kind: "NOPE", a: {{window: {W}}}, b: {{window: {W}}}) {{ pValue }} }}',
        None,
    ),
    "compare-b-missing": (f"{{ compare(kind: CSAT, a: {{window: {W}}}) {{ pValue }} }}", None),
    "compare-a-window-missing": (
        f"{{ compare(kind: CSAT, a: {{}}, b: {{window: {W}}}) {{ pValue }} }}",
        None,
    ),
    "compare-a-from-yesterday": (
        '{ compare(kind: CSAT, a: {window: {from: "yesterday", to: "2026-03-01T00:00:00Z"}}, '
        f"b: {{window: {W}}}) {{ pValue }} }}",
        None,
    ),
    "compare-min-data-version": (
        f"{{ compare(kind: CSAT, a: {{window: {W}}}, b: {{window: {W}}}, minDataVersion: 1) "
        "{ pValue } }",
        None,
    ),
    "funnel-journey-missing": (f"{{ journeyFunnel(window: {W}) {{ stage }} }}", None),
    "funnel-journey-number": (f"{{ journeyFunnel(journey: 5, window: {W}) {{ stage }} }}", None),
    "funnel-window-from-yesterday": (
        '{ journeyFunnel(journey: "onboarding", window: {from: "yesterday", '
        'to: "2026-03-01T00:00:00Z"}) { stage } }',
        None,
    ),
    "funnel-min-data-version": (
        f'{{ journeyFunnel(journey: "onboarding", window: {W}, minDataVersion: 1) {{ stage }} }}',
        None,
    ),
}


@pytest.mark.parametrize("case", ARGUMENT_CASES)
async def test_a_bad_argument(client: httpx.AsyncClient, case: str) -> None:
    query, reason = ARGUMENT_CASES[case]
    body = await gql(client, query)
    assert_error(body, "BAD_USER_INPUT", reason)


@pytest.mark.parametrize(
    "variables",
    [
        {"kind": "NOPE", "g": "DAY"},
        {"kind": "CSAT", "g": 5},
        {"kind": "CSAT", "g": "HOUR"},
        {"kind": None, "g": "DAY"},
        {"g": "DAY"},
    ],
    ids=["kind-NOPE", "granularity-5", "granularity-HOUR", "kind-null", "kind-missing"],
)
async def test_bad_variables(client: httpx.AsyncClient, variables: dict[str, Any]) -> None:
    query = (
        "query($kind: MetricKind!, $g: Granularity!, $w: TimeWindow!) { "
        "trend(kind: $kind, granularity: $g, window: $w) { periodStart } }"
    )
    body = await gql(client, query, {**variables, "w": GOOD})
    assert_error(body, "BAD_USER_INPUT")


@pytest.mark.parametrize("journey", ["nope", "$ne", '{"$gt": ""}', ""])
async def test_an_unknown_journey_is_not_found(client: httpx.AsyncClient, journey: str) -> None:
    body = await gql(
        client,
        "query($j: String!, $w: TimeWindow) { journeyFunnel(journey: $j, window: $w) { stage } }",
        {"j": journey, "w": GOOD},
    )
    assert_error(body, "NOT_FOUND", "UNKNOWN_JOURNEY")


# --------------------------------------------------------------------------- data version

FUTURE = 10**9
VERSIONED = {
    "metric": f"{{ metric(kind: CSAT, window: {W}, minDataVersion: {FUTURE}) {{ n }} }}",
    "breakdown": (
        f"{{ breakdown(kind: CSAT, by: [SEGMENT], window: {W}, minDataVersion: {FUTURE}) "
        "{ keys { value } } }"
    ),
    "trend": (
        f"{{ trend(kind: CSAT, granularity: DAY, window: {W}, minDataVersion: {FUTURE}) "
        "{ periodStart } }"
    ),
}


@pytest.mark.parametrize("operation", VERSIONED)
async def test_a_data_version_far_ahead_is_not_reached(
    client: httpx.AsyncClient, operation: str
) -> None:
    started = time.monotonic()
    body = await gql(client, VERSIONED[operation])
    assert_error(body, "DATA_VERSION_NOT_REACHED")
    assert time.monotonic() - started < 10  # it waits briefly, not for ever


# --------------------------------------------------------------------------- operators

OPERATOR_FILTERS = {
    "segments-$ne": {"segments": ["$ne"]},
    "segments-json-ne-null": {"segments": ['{"$ne": null}']},
    "journeys-json-gt": {"journeys": ['{"$gt": ""}']},
    "stages-$exists": {"stages": ["$exists"]},
    "journeys-$regex": {"journeys": ["$regex", ".*"]},
}
SMALL = generate(11, customers=12, stubs=1, cases=6, responses=40)
ALL_WINDOW = (WHOLE_DAYS[0].replace(month=1), WHOLE_DAYS[1])


@pytest.mark.parametrize("name", OPERATOR_FILTERS)
async def test_filters_that_look_like_operators_match_nothing(
    client: httpx.AsyncClient, name: str
) -> None:
    ds, _ = await load(client, SMALL)
    flt = OPERATOR_FILTERS[name]
    window = window_input(ALL_WINDOW)
    kinds = ["NPS", "CSAT", "COMPONENT_SCORE", "RESPONSE_COUNT", "FCR"]
    if set(flt) == {"segments"}:
        kinds += ["RETENTION_RATE", "CHURN_RATE", "CLV"]
    fragment = "value n numerator denominator scaleMin scaleMax marginOfError lowSample "
    fragment += (
        "confidenceInterval { low high level } distribution { promoters passives detractors }"
    )
    problems: list[str] = []
    for kind in kinds:
        for source in ("RAW", "AUTO"):
            data = await gql_ok(
                client,
                "query($k: MetricKind!, $w: TimeWindow!, $f: MetricFilter, $s: MetricSource!) { "
                f"metric(kind: $k, window: $w, filter: $f, source: $s) {{ {fragment} }} "
                "unfiltered: metric(kind: $k, window: $w, source: $s) { n } "
                "breakdown(kind: $k, by: [SEGMENT], window: $w, filter: $f, source: $s) "
                "{ keys { value } } "
                "trend(kind: $k, granularity: WEEK, window: $w, filter: $f, source: $s) "
                "{ result { n } } }",
                {"k": kind, "w": window, "f": flt, "s": source},
            )
            where = f"{kind} {source}: "
            if data["metric"]["n"] != 0:
                problems.append(f"{where}n = {data['metric']['n']}, not 0")
            if data["unfiltered"]["n"] == 0:
                problems.append(f"{where}the data set has no data to filter")
            # (an empty NPS result's distribution is checked in test_metrics_edges.py; here the
            # point is that nothing matches)
            problems += result_mismatches(
                data["metric"],
                oracle.metric(ds, kind, ALL_WINDOW, flt),
                where,
                skip=frozenset({"distribution"}),
            )
            if data["breakdown"] != []:
                problems.append(f"{where}breakdown {data['breakdown']}")
            if any(p["result"]["n"] for p in data["trend"]):
                problems.append(f"{where}trend {data['trend']}")
    assert not problems, "\n".join(problems)

    # compare and the funnel (segments and channels apply to funnels)
    data = await gql_ok(
        client,
        "query($w: TimeWindow!, $f: MetricFilter) { "
        "compare(kind: RESPONSE_COUNT, a: {window: $w, filter: $f}, b: {window: $w}) "
        "{ a { n } b { n } } "
        'journeyFunnel(journey: "onboarding", window: $w, filter: $f) { customers } }',
        {"w": window, "f": flt},
    )
    assert data["compare"]["a"]["n"] == 0 < data["compare"]["b"]["n"]
    funnel = oracle.funnel(ds, "onboarding", ALL_WINDOW, flt)
    assert [s["customers"] for s in data["journeyFunnel"]] == [s["customers"] for s in funnel]
    if "segments" in flt:
        assert all(s["customers"] == 0 for s in data["journeyFunnel"])
