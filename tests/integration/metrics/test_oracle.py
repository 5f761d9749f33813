"""The service's metrics, through GraphQL, against the independent oracle (tests/oracle).

One seeded data set (tests/integration/metric_data.py) is loaded once for the module into its
own database; every query is then asked of the service and of the oracle, and every field of
every MetricResult must agree. Survey queries run on both paths: `source: RAW` (raw documents
only) and `source: AUTO` (daily rollups plus raw partial days).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from tests import oracle
from tests.conftest import make_settings, serving
from tests.graphql import gql, no_answer
from tests.integration.metric_data import (
    ALL_KINDS,
    BREAKDOWN,
    COMPARE,
    CUSTOMER_KINDS,
    DATA_END,
    EFFORT_FROM,
    EFFORT_WINDOW,
    FOLLOW_UP,
    FRAGMENT,
    JOURNEYS,
    METRIC,
    RAGGED,
    SURVEY_KINDS,
    TREND,
    TREND_QUERY,
    WHOLE_DAYS,
    close,
    generate,
    load,
    result_mismatches,
    window_input,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

DATA = generate()

FUNNEL = (
    "query($journey: String!, $window: TimeWindow, $filter: MetricFilter) { "
    "journeyFunnel(journey: $journey, window: $window, filter: $filter) { stage stageName "
    "customers conversionFromPrevious medianHoursToNextStage } }"
)
STAGE_METRIC = (
    "query($key: String!, $kind: MetricKind!, $window: TimeWindow) { journey(key: $key) { "
    "stages { key metric(kind: $kind, window: $window) { ...R } } } } " + FRAGMENT
)
SEGMENTS = "query { segments { key customers } }"

WINDOWS = {"whole_days": WHOLE_DAYS, "ragged": RAGGED}

# filters per family of kinds: customer kinds take only `segments`
QUESTION_METRICS = ("NPS", "CSAT", "CES", "EMOTION", "VALUE_FOR_EFFORT", "COMPONENT")
SURVEY_FILTERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "segments_channels": {
        "segments": ["vip", "consumer", "smb"],
        "channels": ["WEB", "EMAIL", "CHAT", "PHONE"],
    },
    "journey_stage": {
        "journeys": ["onboarding", "renewal"],
        "stages": ["checkout", "quote", "signup"],
    },
    # several components: a response's answers of those averaged (read from raw documents)
    "components": {"components": ["PRICE", "PEOPLE", "PRODUCT"]},
    # one component: the rollups' per-component cells
    "one_component": {"components": ["PRICE"]},
    # the first question of each metric, not the follow-ups (read from raw documents)
    "questions": {"questions": [f"{m.lower()} question" for m in QUESTION_METRICS]},
}
CUSTOMER_FILTERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "segments": {"segments": ["vip", "enterprise"]},
}

DIMENSION_SETS = (
    ("SEGMENT",),
    ("JOURNEY",),
    ("STAGE",),
    ("CHANNEL",),
    ("COMPONENT",),
    ("SEGMENT", "COMPONENT"),
    ("JOURNEY", "STAGE"),
)
GRANULARITIES = ("DAY", "WEEK", "MONTH")
TIMEZONES = ("UTC", "Asia/Tehran", "America/New_York")


def sources(kind: str) -> tuple[str, ...]:
    """Survey kinds are read from rollups or raw documents; the others have one path."""
    return ("RAW", "AUTO") if kind in SURVEY_KINDS else ("AUTO",)


def filters(kind: str) -> dict[str, dict[str, Any] | None]:
    return CUSTOMER_FILTERS if kind in CUSTOMER_KINDS else SURVEY_FILTERS


@dataclass
class Loaded:
    client: httpx.AsyncClient
    ds: oracle.Dataset


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded(mongo_uri: str) -> AsyncIterator[Loaded]:
    async with serving(make_settings(mongo_uri)) as (_, c):
        ds, _ = await load(c, DATA)
        yield Loaded(c, ds)


def oracle_outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args, **kwargs)
    except oracle.IncompatibleScales as error:
        return "INCOMPATIBLE_SCALES", error
    except oracle.IncompatibleDirections as error:
        return "INCOMPATIBLE_DIRECTIONS", error
    except oracle.BadUserInput as error:
        return "BAD_USER_INPUT", error


def check_error(body: dict[str, Any], expected_code: str, reason: str | None = None) -> None:
    assert no_answer(body), body  # no partial answer
    errors = body.get("errors") or []
    assert len(errors) == 1, errors
    extensions = errors[0].get("extensions") or {}
    assert extensions.get("code") == expected_code, errors
    if reason is not None:
        assert extensions.get("reason") == reason, errors


async def ask(loaded: Loaded, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await gql(loaded.client, query, variables)


# --------------------------------------------------------------------------- metric


METRIC_CASES = [
    pytest.param(kind, window, flt, source, id=f"{kind}-{window}-{flt}-{source}")
    for kind in ALL_KINDS
    for window in WINDOWS
    for flt in filters(kind)
    for source in sources(kind)
]


@pytest.mark.parametrize(("kind", "window", "flt", "source"), METRIC_CASES)
async def test_metric(loaded: Loaded, kind: str, window: str, flt: str, source: str) -> None:
    win, filter_ = WINDOWS[window], filters(kind)[flt]
    body = await ask(
        loaded,
        METRIC,
        {"kind": kind, "window": window_input(win), "filter": filter_, "source": source},
    )
    status, expected = oracle_outcome(oracle.metric, loaded.ds, kind, win, filter_)
    if status != "ok":
        check_error(body, status)
        return
    assert "errors" not in body, body["errors"]
    result = body["data"]["metric"]
    assert result["kind"] == kind
    problems = result_mismatches(result, expected)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- breakdown


BREAKDOWN_CASES = [
    pytest.param(kind, by, source, id=f"{kind}-{'+'.join(by)}-{source}")
    for kind in ALL_KINDS
    for by in DIMENSION_SETS
    for source in sources(kind)
]


async def check_breakdown(
    loaded: Loaded,
    kind: str,
    by: tuple[str, ...],
    source: str,
    window: tuple[datetime, datetime],
    filter_: dict[str, Any] | None,
) -> None:
    body = await ask(
        loaded,
        BREAKDOWN,
        {
            "kind": kind,
            "by": list(by),
            "window": window_input(window),
            "filter": filter_,
            "source": source,
        },
    )
    status, expected = oracle_outcome(oracle.breakdown, loaded.ds, kind, by, window, filter_)
    if status != "ok":
        reason = "UNSUPPORTED_FILTER" if kind in CUSTOMER_KINDS else None
        check_error(body, status, reason)
        return
    assert "errors" not in body, body["errors"]
    groups = body["data"]["breakdown"]
    actual: dict[tuple[Any, ...], dict[str, Any]] = {}
    for group in groups:
        assert [k["dimension"] for k in group["keys"]] == list(by), group["keys"]
        key = tuple(k["value"] for k in group["keys"])
        assert key not in actual, f"group {key} listed twice"
        actual[key] = group["result"]
    assert sorted(actual, key=repr) == sorted(expected, key=repr)
    problems = [
        problem
        for key, result in expected.items()
        for problem in result_mismatches(actual[key], result, f"{key}: ")
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("kind", "by", "source"), BREAKDOWN_CASES)
async def test_breakdown(loaded: Loaded, kind: str, by: tuple[str, ...], source: str) -> None:
    await check_breakdown(loaded, kind, by, source, RAGGED, None)


FILTERED_BREAKDOWN_CASES = [
    # a filter selects records, the breakdown groups them by all their values
    pytest.param("CSAT", ("SEGMENT",), {"segments": ["vip"]}, id="CSAT-segment-in-vip"),
    pytest.param("RESPONSE_COUNT", ("SEGMENT",), {"segments": ["vip"]}, id="COUNT-segment-in-vip"),
    # components select answers: a response is grouped only under the components asked for
    pytest.param(
        "RESPONSE_COUNT", ("COMPONENT",), {"components": ["PRICE", "PEOPLE"]}, id="COUNT-components"
    ),
    pytest.param(
        "COMPONENT_SCORE",
        ("COMPONENT", "SEGMENT"),
        {"components": ["PRICE"]},
        id="SCORE-components",
    ),
    # several components without a COMPONENT breakdown: a mean per response over them
    pytest.param(
        "COMPONENT_SCORE", ("SEGMENT",), {"components": ["PRICE", "PEOPLE"]}, id="SCORE-two"
    ),
    # questions select answers; per response, the mean of its answers to them
    pytest.param(
        "COMPONENT_SCORE",
        ("COMPONENT",),
        {"questions": ["component question (follow-up)"]},
        id="SCORE-follow-ups",
    ),
    pytest.param(
        "RESPONSE_COUNT",
        ("COMPONENT",),
        {"questions": ["component question"], "components": ["PRICE", "PRODUCT"]},
        id="COUNT-question-components",
    ),
    pytest.param("CSAT", ("CHANNEL",), {"questions": ["csat question"]}, id="CSAT-question"),
    pytest.param("FCR", ("CHANNEL",), {"segments": ["vip", "smb"]}, id="FCR-channel-in-segments"),
    pytest.param("CHURN_RATE", ("SEGMENT",), {"segments": ["vip"]}, id="CHURN-segment-in-vip"),
]


@pytest.mark.parametrize("source", ["RAW", "AUTO"])
@pytest.mark.parametrize(("kind", "by", "filter_"), FILTERED_BREAKDOWN_CASES)
async def test_breakdown_with_a_filter(
    loaded: Loaded, kind: str, by: tuple[str, ...], filter_: dict[str, Any], source: str
) -> None:
    await check_breakdown(loaded, kind, by, source, WHOLE_DAYS, filter_)


# --------------------------------------------------------------------------- trend


TREND_CASES = [
    pytest.param(kind, granularity, tz, source, id=f"{kind}-{granularity}-{tz}-{source}")
    for kind in ALL_KINDS
    for granularity in GRANULARITIES
    for tz in TIMEZONES
    for source in sources(kind)
]


@pytest.mark.parametrize(("kind", "granularity", "tz", "source"), TREND_CASES)
async def test_trend(loaded: Loaded, kind: str, granularity: str, tz: str, source: str) -> None:
    await check_trend(loaded, kind, granularity, TREND, tz, source)


async def check_trend(
    loaded: Loaded,
    kind: str,
    granularity: str,
    window: tuple[datetime, datetime],
    tz: str,
    source: str,
) -> None:
    body = await ask(
        loaded,
        TREND_QUERY,
        {
            "kind": kind,
            "granularity": granularity,
            "window": window_input(window),
            "timezone": tz,
            "source": source,
        },
    )
    status, expected = oracle_outcome(oracle.trend, loaded.ds, kind, granularity, window, tz)
    if status != "ok":
        check_error(body, status)
        return
    assert "errors" not in body, body["errors"]
    points = body["data"]["trend"]
    starts = [datetime.fromisoformat(p["periodStart"]) for p in points]
    assert [(s, s.utcoffset()) for s in starts] == [
        (start, start.utcoffset()) for start, _ in expected
    ]
    problems = [
        problem
        for point, (start, result) in zip(points, expected, strict=True)
        for problem in result_mismatches(point["result"], result, f"{start.isoformat()}: ")
    ]
    assert not problems, "\n".join(problems)


# Timezones whose midnights cut the tenant's (UTC) days off the hour or across a DST change:
# +05:45, -03:30 with DST, Berlin's spring-forward (2026-03-29), Lord Howe's half-hour DST.
OTHER_ZONES = ("Asia/Kathmandu", "America/St_Johns", "Europe/Berlin", "Australia/Lord_Howe")


def local_days(tz: str) -> tuple[datetime, datetime]:
    """Whole days in ``tz``, as a dashboard in that timezone asks: 2026-03-02 to 03-31."""
    zone = ZoneInfo(tz)
    return datetime(2026, 3, 2, tzinfo=zone), datetime(2026, 3, 31, tzinfo=zone)


ANY_ZONE_CASES = [
    pytest.param(kind, granularity, tz, source, id=f"{kind}-{granularity}-{tz}-{source}")
    for kind in ("NPS", "CSAT", "COMPONENT_SCORE", "RESPONSE_COUNT")
    for granularity in ("DAY", "WEEK")
    for tz in OTHER_ZONES
    for source in ("RAW", "AUTO")
]


@pytest.mark.parametrize(("kind", "granularity", "tz", "source"), ANY_ZONE_CASES)
async def test_trend_in_any_timezone(
    loaded: Loaded, kind: str, granularity: str, tz: str, source: str
) -> None:
    await check_trend(loaded, kind, granularity, local_days(tz), tz, source)


@pytest.mark.parametrize("source", ["RAW", "AUTO"])
@pytest.mark.parametrize("tz", OTHER_ZONES)
async def test_breakdown_over_days_of_another_timezone(loaded: Loaded, tz: str, source: str
                                                       ) -> None:  # fmt: skip
    await check_breakdown(loaded, "CSAT", ("CHANNEL",), source, local_days(tz), None)


# --------------------------------------------------------------------------- many groups

TEST_FIELDS = "test { against adjustment pValue adjustedPValue significant withheld }"
BREAKDOWN_TESTS = (
    "query($kind: MetricKind!, $by: [Dimension!]!, $window: TimeWindow, $filter: MetricFilter, "
    "$adjustment: PValueAdjustment!) { breakdown(kind: $kind, by: $by, window: $window, "
    "filter: $filter, significance: VS_REST, adjustment: $adjustment) { keys { value } "
    f"{TEST_FIELDS} }} }}"
)
TREND_TESTS = (
    "query($kind: MetricKind!, $window: TimeWindow!, $adjustment: PValueAdjustment!) { "
    'trend(kind: $kind, granularity: WEEK, window: $window, timezone: "UTC", '
    f"significance: VS_PREVIOUS, adjustment: $adjustment) {{ {TEST_FIELDS} }} }}"
)
TESTED = ("NPS", "CSAT", "CES", "COMPONENT_SCORE", "FCR", "CHURN_RATE", "RESPONSE_COUNT")


def significance_mismatches(got: dict[str, Any], expected: dict[str, Any], where: str) -> list[str]:
    return [
        f"{where}{key}: service {got[key]!r} != oracle {expected[key]!r}"
        for key in ("pValue", "adjustedPValue", "significant", "withheld")
        if not close(got[key], expected[key])
    ]


@pytest.mark.parametrize("adjustment", ["HOLM", "BENJAMINI_HOCHBERG"])
@pytest.mark.parametrize("kind", TESTED)
async def test_breakdown_groups_against_the_rest(loaded: Loaded, kind: str, adjustment: str
                                                 ) -> None:  # fmt: skip
    by = ["COMPONENT"] if kind == "COMPONENT_SCORE" else ["SEGMENT"]
    body = await ask(loaded, BREAKDOWN_TESTS, {"kind": kind, "by": by,
                     "window": window_input(WHOLE_DAYS), "filter": None,
                     "adjustment": adjustment})  # fmt: skip
    assert "errors" not in body, body["errors"]
    expected = oracle.breakdown_tests(loaded.ds, kind, by, WHOLE_DAYS, None, adjustment)
    got = {tuple(k["value"] for k in g["keys"]): g["test"] for g in body["data"]["breakdown"]}
    assert set(got) == set(expected)
    problems = [
        p for key in got for p in significance_mismatches(got[key], expected[key], f"{key}: ")
    ]
    assert not problems, "\n".join(problems)
    assert all(g["against"] == "VS_REST" for g in got.values())
    # the data set has groups both tested and withheld (CSAT's segments count fewer than 30
    # respondents each: all withheld)
    if kind in ("NPS", "CES"):
        assert {g["withheld"] is None for g in got.values()} == {True, False}


@pytest.mark.parametrize("kind", TESTED)
async def test_trend_periods_against_the_previous(loaded: Loaded, kind: str) -> None:
    body = await ask(loaded, TREND_TESTS, {"kind": kind, "window": window_input(TREND),
                                           "adjustment": "HOLM"})  # fmt: skip
    assert "errors" not in body, body["errors"]
    expected = oracle.trend_tests(loaded.ds, kind, "WEEK", TREND, "UTC")
    got = [point["test"] for point in body["data"]["trend"]]
    problems = [p for i, (g, e) in enumerate(zip(got, expected, strict=True))
                for p in significance_mismatches(g, e, f"week {i}: ")]  # fmt: skip
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- compare


FIRST_HALF = (WHOLE_DAYS[0], datetime.fromisoformat("2026-02-25T00:00:00+00:00"))
SECOND_HALF = (FIRST_HALF[1], RAGGED[1])


def comparands(kind: str, pair: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if pair == "periods":
        return {"window": FIRST_HALF, "filter": None}, {"window": SECOND_HALF, "filter": None}
    if kind in CUSTOMER_KINDS:
        a_filter: dict[str, Any] = {"segments": ["vip", "smb"]}
        b_filter: dict[str, Any] = {"segments": ["consumer", "enterprise", "partner"]}
    else:
        a_filter = {"channels": ["WEB", "MOBILE_APP", "EMAIL"]}
        b_filter = {"channels": ["PHONE", "CHAT", "STORE", "SOCIAL", "OTHER"]}
    return {"window": WHOLE_DAYS, "filter": a_filter}, {"window": WHOLE_DAYS, "filter": b_filter}


COMPARE_CASES = [
    pytest.param(kind, pair, id=f"{kind}-{pair}")
    for kind in ALL_KINDS
    for pair in ("periods", "filters")
]


@pytest.mark.parametrize(("kind", "pair"), COMPARE_CASES)
async def test_compare(loaded: Loaded, kind: str, pair: str) -> None:
    a, b = comparands(kind, pair)
    body = await ask(
        loaded,
        COMPARE,
        {
            "kind": kind,
            "a": {"window": window_input(a["window"]), "filter": a["filter"]},
            "b": {"window": window_input(b["window"]), "filter": b["filter"]},
        },
    )
    status, expected = oracle_outcome(oracle.compare, loaded.ds, kind, a, b)
    if status != "ok":
        check_error(body, status)
        return
    assert "errors" not in body, body["errors"]
    got = body["data"]["compare"]
    problems = result_mismatches(got["a"], expected["a"], "a.") + result_mismatches(
        got["b"], expected["b"], "b."
    )
    for key in ("difference", "pValue"):
        if not close(got[key], expected[key]):
            problems.append(f"{key}: service {got[key]!r} != oracle {expected[key]!r}")
    if got["significant"] != expected["significant"]:
        problems.append(
            f"significant: service {got['significant']!r} != oracle {expected['significant']!r}"
        )
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- CES direction

# From EFFORT_FROM on the data set asks CES on an effort scale (highIsEasy false).
BOTH_DIRECTIONS = (WHOLE_DAYS[0], DATA_END)
DIRECTION_CASES = [
    pytest.param(kind, name, source, id=f"{kind}-{name}-{source}")
    for kind in ("CES", "CES_PERCENT_EASY")
    for name in ("effort", "both")
    for source in ("RAW", "AUTO")
]


@pytest.mark.parametrize(("kind", "name", "source"), DIRECTION_CASES)
async def test_ces_direction(loaded: Loaded, kind: str, name: str, source: str) -> None:
    """On the effort scale CES_PERCENT_EASY counts the bottom two points; answers of both
    directions in one result fail with INCOMPATIBLE_DIRECTIONS, in a metric, a breakdown and
    a trend alike."""
    window = EFFORT_WINDOW if name == "effort" else BOTH_DIRECTIONS
    variables = {"kind": kind, "window": window_input(window), "filter": None, "source": source}
    body = await ask(loaded, METRIC, variables)
    status, expected = oracle_outcome(oracle.metric, loaded.ds, kind, window)
    assert status == ("ok" if name == "effort" else "INCOMPATIBLE_DIRECTIONS")
    if status != "ok":
        check_error(body, status)
    else:
        assert "errors" not in body, body["errors"]
        assert body["data"]["metric"]["highIsEasy"] is False
        assert body["data"]["metric"]["n"] > 0
        problems = result_mismatches(body["data"]["metric"], expected)
        assert not problems, "\n".join(problems)
    await check_breakdown(loaded, kind, ("CHANNEL",), source, window, None)
    await check_trend(loaded, kind, "WEEK", window, "UTC", source)


@pytest.mark.parametrize("kind", ["CES", "CES_PERCENT_EASY"])
async def test_ces_compared_across_directions(loaded: Loaded, kind: str) -> None:
    """Means of opposite directions are not compared; the shares of easy answers are."""
    a, b = {"window": WHOLE_DAYS, "filter": None}, {"window": EFFORT_WINDOW, "filter": None}
    body = await ask(loaded, COMPARE, {
        "kind": kind,
        "a": {"window": window_input(a["window"])},
        "b": {"window": window_input(b["window"])},
    })  # fmt: skip
    status, expected = oracle_outcome(oracle.compare, loaded.ds, kind, a, b)
    if kind == "CES":
        assert status == "INCOMPATIBLE_DIRECTIONS"
        check_error(body, status)
        return
    assert status == "ok" and "errors" not in body, body
    got = body["data"]["compare"]
    assert (got["a"]["highIsEasy"], got["b"]["highIsEasy"]) == (True, False)
    problems = result_mismatches(got["a"], expected["a"], "a.")
    problems += result_mismatches(got["b"], expected["b"], "b.")
    assert close(got["pValue"], expected["pValue"]) and expected["pValue"] is not None
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- funnels


FUNNEL_FILTERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "segments_channels": {
        "segments": ["vip", "consumer"],
        "channels": ["WEB", "MOBILE_APP", "EMAIL"],
    },
}


@pytest.mark.parametrize("flt", FUNNEL_FILTERS)
@pytest.mark.parametrize("journey", [j["key"] for j in JOURNEYS])
async def test_journey_funnel(loaded: Loaded, journey: str, flt: str) -> None:
    filter_ = FUNNEL_FILTERS[flt]
    body = await ask(
        loaded,
        FUNNEL,
        {"journey": journey, "window": window_input(WHOLE_DAYS), "filter": filter_},
    )
    assert "errors" not in body, body["errors"]
    expected = oracle.funnel(loaded.ds, journey, WHOLE_DAYS, filter_)
    names = {s["key"]: s["name"] for j in JOURNEYS if j["key"] == journey for s in j["stages"]}
    got = body["data"]["journeyFunnel"]
    assert [s["stage"] for s in got] == [s["stage"] for s in expected]
    assert [s["stageName"] for s in got] == [names[s["stage"]] for s in expected]
    problems = [
        f"{mine['stage']}.{key}: service {mine[key]!r} != oracle {theirs[key]!r}"
        for mine, theirs in zip(got, expected, strict=True)
        for key in ("customers", "conversionFromPrevious", "medianHoursToNextStage")
        if not close(mine[key], theirs[key])
    ]
    assert not problems, "\n".join(problems)
    assert all(isinstance(s["customers"], int) for s in got)


# --------------------------------------------------------------------------- segments


async def test_segments(loaded: Loaded) -> None:
    body = await ask(loaded, SEGMENTS, {})
    assert "errors" not in body, body["errors"]
    got = {s["key"]: s["customers"] for s in body["data"]["segments"]}
    assert len(got) == len(body["data"]["segments"])
    assert got == oracle.segments(loaded.ds)


# --------------------------------------------------------------------------- Stage.metric


STAGE_CASES = [
    pytest.param(journey["key"], kind, id=f"{journey['key']}-{kind}")
    for journey in JOURNEYS
    for kind in (*SURVEY_KINDS, "FCR")
]


@pytest.mark.parametrize(("journey", "kind"), STAGE_CASES)
async def test_stage_metric(loaded: Loaded, journey: str, kind: str) -> None:
    body = await ask(
        loaded, STAGE_METRIC, {"key": journey, "kind": kind, "window": window_input(RAGGED)}
    )
    assert "errors" not in body, body["errors"]
    stages = body["data"]["journey"]["stages"]
    expected_keys = [s["key"] for j in JOURNEYS if j["key"] == journey for s in j["stages"]]
    assert [s["key"] for s in stages] == expected_keys
    problems: list[str] = []
    for stage in stages:
        expected = oracle.metric(
            loaded.ds, kind, RAGGED, {"journeys": [journey], "stages": [stage["key"]]}
        )
        problems += result_mismatches(stage["metric"], expected, f"{stage['key']}: ")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the data set


async def test_the_data_set_holds_the_cases_it_is_made_for() -> None:
    assert generate() == DATA  # seeded: the same records every run
    segments = [tuple(c["segments"]) for c in DATA.customers]
    assert any(len(s) == 2 for s in segments) and any(len(s) == 0 for s in segments)
    assert any("signedUpAt" not in c for c in DATA.customers)
    assert any("churnedAt" in c for c in DATA.customers)
    assert any("revenue" not in c for c in DATA.customers)
    known = {c["externalId"] for c in DATA.customers}
    assert any(r["customer"]["externalId"] not in known for r in DATA.responses)  # stubs
    assert [len(j["stages"]) for j in DATA.journeys] == [4, 3]

    contacts: dict[str, list[datetime]] = {}
    for t in DATA.touchpoints:
        if "caseId" in t:
            contacts.setdefault(t["caseId"], []).append(datetime.fromisoformat(t["occurredAt"]))
    sizes = {len(c) for c in contacts.values()}
    assert sizes == {1, 2, 3}
    for moments in contacts.values():
        assert len(set(moments)) == len(moments)  # never two contacts at one instant

    answers = [a for r in DATA.responses for a in r["answers"]]
    assert {len(r["answers"]) for r in DATA.responses} >= {1, 2, 3, 4}
    assert 200 <= len(DATA.responses) <= 500
    for a in answers:
        assert a["scaleMin"] <= a["value"] <= a["scaleMax"]
        assert (a["metric"] == "COMPONENT") <= ("component" in a)
    assert {a["metric"] for a in answers} >= {
        "NPS", "CSAT", "CES", "EMOTION", "VALUE_FOR_EFFORT", "COMPONENT"
    }  # fmt: skip
    for field in ("journey", "stage", "channel"):
        assert any(field not in r for r in DATA.responses), field
    # CES on both directions, said and defaulted; answers to follow-up questions, and
    # responses with two answers of one metric
    ces = [(datetime.fromisoformat(r["submittedAt"]), a) for r in DATA.responses
           for a in r["answers"] if a["metric"] == "CES"]  # fmt: skip
    assert {a.get("highIsEasy") for t, a in ces if t >= EFFORT_FROM} == {False}
    assert {a.get("highIsEasy") for t, a in ces if t < EFFORT_FROM} == {None, True}
    assert any(a["question"].endswith(FOLLOW_UP) for a in answers)
    assert any(
        len([a for a in r["answers"] if a["metric"] == metric]) > 1
        for r in DATA.responses
        for metric in ("COMPONENT", "CES")
    )

    submitted = {datetime.fromisoformat(r["submittedAt"]) for r in DATA.responses}
    for bound in (*WHOLE_DAYS, *RAGGED, *TREND):
        assert bound in submitted, bound
    midnights = {
        "UTC": datetime.fromisoformat("2026-03-01T00:00:00+00:00"),
        "Asia/Tehran": datetime.fromisoformat("2026-03-01T00:00:00+03:30"),
        "America/New_York": datetime.fromisoformat("2026-03-09T00:00:00-04:00"),
    }
    assert set(midnights.values()) <= submitted
    times = sorted(submitted)
    assert (times[-1] - times[0]).days >= 60
