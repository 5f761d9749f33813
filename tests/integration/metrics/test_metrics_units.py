"""Respondents, the questions filter and the CES direction through GraphQL (issue 13, items 5
and 6), on both paths (RAW, and AUTO: rollups plus raw edges); numbers worked by hand in the
comments. Bad input to each new field, in GraphQL and NDJSON."""

from __future__ import annotations

import json
import math
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from scipy import stats

from service.store import rollup_format, rollups
from tests.conftest import make_settings, serving
from tests.graphql import gql, gql_ok, no_answer
from tests.integration.builders import answer, response, submit_responses

SOURCES = ("RAW", "AUTO")
# Whole UTC days (day rollups), partial days at both ends (slot rollups) and, past the last
# quarter hour, 7 minutes read raw on AUTO.
WINDOW = {"from": "2026-02-28T12:00:00Z", "to": "2026-03-05T12:07:00Z"}
DAY1, DAY2 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z"
EDGE = "2026-03-05T12:03:00Z"  # in those last 7 minutes

RESULT = "n value numerator denominator marginOfError confidenceInterval { low high } highIsEasy"
METRIC = (
    "query($k: MetricKind!, $f: MetricFilter, $s: MetricSource!, $w: TimeWindow) { "
    f"metric(kind: $k, window: $w, filter: $f, source: $s) {{ {RESULT} }} }}"
)
BREAKDOWN = (
    "query($k: MetricKind!, $by: [Dimension!]!, $f: MetricFilter, $s: MetricSource!, "
    "$w: TimeWindow) { breakdown(kind: $k, by: $by, window: $w, filter: $f, source: $s) "
    f"{{ keys {{ value }} result {{ {RESULT} }} }} }}"
)


def component(name: str, value: float, **more: Any) -> dict[str, Any]:
    return answer("COMPONENT", value, 1, 5, component=name, **more)


def ces(value: float, question: str = "ces question", **more: Any) -> dict[str, Any]:
    return answer("CES", value, 1, 7, question=question, **more)


async def metric(client: httpx.AsyncClient, kind: str, source: str,
                 flt: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    data = await gql_ok(client, METRIC, {"k": kind, "f": flt, "s": source, "w": WINDOW})
    result: dict[str, Any] = data["metric"]
    return result


async def groups(client: httpx.AsyncClient, kind: str, by: list[str], source: str,
                 flt: dict[str, Any] | None = None) -> dict[Any, dict[str, Any]]:  # fmt: skip
    variables = {"k": kind, "by": by, "f": flt, "s": source, "w": WINDOW}
    data = await gql_ok(client, BREAKDOWN, variables)
    return {g["keys"][0]["value"]: g["result"] for g in data["breakdown"]}


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert no_answer(body), body
    (error,) = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


# -- one respondent per response -----------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
async def test_one_response_rating_three_components_is_one_respondent(
    client: httpx.AsyncClient, source: str
) -> None:
    await submit_responses(client, [response("r1", submitted_at=DAY1, answers=[
        component("PRICE", 5), component("PEOPLE", 1), component("PRODUCT", 3)])])  # fmt: skip
    total = await metric(client, "COMPONENT_SCORE", source)
    # one respondent: the mean (5 + 1 + 3)/3 = 3, rescaled 100·(3 − 1)/4 = 50; no interval
    assert (total["n"], total["value"], total["numerator"], total["denominator"]) == (
        1, 50.0, 50.0, 1,
    )  # fmt: skip
    assert (total["confidenceInterval"], total["marginOfError"]) == (None, None)
    # per component one respondent each: 100, 0, 50
    by = await groups(client, "COMPONENT_SCORE", ["COMPONENT"], source)
    assert {k: (g["n"], g["value"]) for k, g in by.items()} == {
        "PEOPLE": (1, 0.0), "PRICE": (1, 100.0), "PRODUCT": (1, 50.0),
    }  # fmt: skip
    # one component: its answers; two: the mean of theirs, (5 + 1)/2 = 3 → 50
    price = await metric(client, "COMPONENT_SCORE", source, {"components": ["PRICE"]})
    assert (price["n"], price["value"]) == (1, 100.0)
    two = await metric(client, "COMPONENT_SCORE", source, {"components": ["PRICE", "PEOPLE"]})
    assert (two["n"], two["value"]) == (1, 50.0)
    assert (await metric(client, "RESPONSE_COUNT", source))["n"] == 1


@pytest.mark.parametrize("source", SOURCES)
async def test_the_interval_counts_respondents(client: httpx.AsyncClient, source: str) -> None:
    """Three respondents rating three components alike: 5, 1 and 3 (the last one in the
    window's raw edge on AUTO)."""
    await submit_responses(client, [
        response(f"r{v}", submitted_at=at, answers=[component(c, v) for c in
                 ("PRICE", "PEOPLE", "PRODUCT")])
        for v, at in ((5, DAY1), (1, DAY2), (3, EDGE))
    ])  # fmt: skip
    total = await metric(client, "COMPONENT_SCORE", source)
    # rescaled 100, 0, 50: n = 3, mean 50, s = 50, half-width t(0.975, 2)·50/√3 = 124.2
    # (nine answers gave t(0.975, 8)·43.3/3 = 33.3); clipped to [0, 100]
    assert (total["n"], total["value"], total["numerator"]) == (3, 50.0, 150.0)
    assert total["marginOfError"] == pytest.approx(
        float(stats.t.ppf(0.975, 2)) * 50 / math.sqrt(3), rel=1e-9
    )
    assert total["confidenceInterval"] == {"low": 0.0, "high": 100.0}


@pytest.mark.parametrize("source", SOURCES)
async def test_two_answers_of_a_metric_are_one_mean_off_the_integer_points(
    client: httpx.AsyncClient, source: str
) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=DAY1, answers=[answer("CSAT", 5), answer("CSAT", 4,
                 question="again")]),  # 4.5: in the top two (≥ 4)
        response("r2", submitted_at=DAY2, answers=[answer("CSAT", 4), answer("CSAT", 3,
                 question="again")]),  # 3.5: not
        response("r3", submitted_at=EDGE, answers=[answer("CSAT", 2)]),
    ])  # fmt: skip
    csat = await metric(client, "CSAT", source)
    assert (csat["n"], csat["numerator"]) == (3, 1)
    score = await metric(client, "CSAT_SCORE_PERCENT", source)
    # (4.5 + 3.5 + 2)/(3 · 5) · 100 = 66.67
    assert (score["n"], score["numerator"], score["denominator"]) == (3, 10.0, 15)
    assert score["value"] == pytest.approx(200 / 3)


# -- the questions filter ------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
async def test_the_questions_filter_picks_the_answers_that_count(
    client: httpx.AsyncClient, source: str
) -> None:
    await submit_responses(client, [
        response("a", submitted_at=DAY1, answers=[answer("CSAT", 5, question="q1"),
                                                  answer("CSAT", 1, question="q2")]),
        response("b", submitted_at=DAY2, answers=[answer("CSAT", 2, question="q1")]),
    ])  # fmt: skip
    everything = await metric(client, "CSAT", source)
    # a: (5 + 1)/2 = 3, b: 2: no one in the top two
    assert (everything["n"], everything["numerator"]) == (2, 0)
    q1 = await metric(client, "CSAT", source, {"questions": ["q1"]})
    assert (q1["n"], q1["numerator"], q1["value"]) == (2, 1, 50.0)  # a: 5, b: 2
    q2 = await metric(client, "CSAT", source, {"questions": ["q2"]})
    assert (q2["n"], q2["numerator"]) == (1, 0)  # a: 1
    both = await metric(client, "CSAT", source, {"questions": ["q1", "q2"]})
    assert (both["n"], both["numerator"]) == (2, 0)
    count = await metric(client, "RESPONSE_COUNT", source, {"questions": ["q2"]})
    assert count["n"] == 1
    for nothing in ([], ["$ne"], ['{"$gt": ""}'], ["q3"]):
        got = await metric(client, "CSAT", source, {"questions": nothing})
        assert (got["n"], got["value"]) == (0, None), nothing


async def test_bad_questions_filters(client: httpx.AsyncClient) -> None:
    ask = "query($k: MetricKind!, $f: MetricFilter) { metric(kind: $k, filter: $f) { n } }"
    too_many = {"questions": [f"q{i}" for i in range(101)]}
    too_long = {"questions": ["q" * 257]}
    for flt, maximum in ((too_many, 100), (too_long, 256)):
        extensions = error_of(await gql(client, ask, {"k": "CSAT", "f": flt}))
        assert (extensions["code"], extensions["reason"], extensions["maximum"]) == (
            "BAD_USER_INPUT", "INVALID_QUESTIONS", maximum,
        )  # fmt: skip
    assert await gql_ok(client, ask, {"k": "CSAT", "f": {"questions": ["q" * 256] * 100}})
    extensions = error_of(await gql(client, ask, {"k": "CSAT", "f": {"questions": [1]}}))
    assert extensions["code"] == "BAD_USER_INPUT"
    literal = "{ metric(kind: CSAT, filter: {questions: {q: 1}}) { n } }"
    assert error_of(await gql(client, literal))["code"] == "BAD_USER_INPUT"
    for kind in ("FCR", "CHURN_RATE", "CLV"):
        extensions = error_of(await gql(client, ask, {"k": kind, "f": {"questions": ["q1"]}}))
        assert (extensions["code"], extensions["reason"]) == (
            "BAD_USER_INPUT", "UNSUPPORTED_FILTER"
        ), kind  # fmt: skip


# -- CES direction -------------------------------------------------------------------------------

# An effort scale 1–7 ("how much effort", high = hard): 1, 1, 2, 3, 6, 7
EFFORT = [1, 1, 2, 3, 6, 7]


async def effort_and_agreement(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        *(response(f"e{i}", submitted_at=DAY1 if i % 2 else EDGE,
                   answers=[ces(v, "effort", highIsEasy=False)], channel="PHONE")
          for i, v in enumerate(EFFORT)),
        # the CES 2.0 agreement scale, said and unsaid: 7 and 6 are easy
        response("a1", submitted_at=DAY2, answers=[ces(7, "agree", highIsEasy=True)],
                 channel="WEB"),
        response("a2", submitted_at=DAY2, answers=[ces(6, "agree")], channel="WEB"),
        response("a3", submitted_at=DAY2, answers=[ces(2, "agree", highIsEasy=None)],
                 channel="WEB"),
    ])  # fmt: skip


@pytest.mark.parametrize("source", SOURCES)
async def test_percent_easy_reads_an_effort_scale_from_the_bottom(
    client: httpx.AsyncClient, source: str
) -> None:
    await effort_and_agreement(client)
    effort = {"questions": ["effort"]}
    easy = await metric(client, "CES_PERCENT_EASY", source, effort)
    # bottom two points (1, 2) of six: 3 → 50%
    assert (easy["n"], easy["numerator"], easy["value"], easy["highIsEasy"]) == (
        6, 3, 50.0, False,
    )  # fmt: skip
    mean = await metric(client, "CES", source, effort)
    assert (mean["value"], mean["numerator"], mean["highIsEasy"]) == (20 / 6, 20.0, False)
    agree = await metric(client, "CES_PERCENT_EASY", source, {"questions": ["agree"]})
    assert (agree["n"], agree["numerator"], agree["highIsEasy"]) == (3, 2, True)
    assert (await metric(client, "CSAT", source))["highIsEasy"] is None


@pytest.mark.parametrize("source", SOURCES)
async def test_directions_are_never_pooled(client: httpx.AsyncClient, source: str) -> None:
    await effort_and_agreement(client)
    for kind in ("CES", "CES_PERCENT_EASY"):
        body = await gql(client, METRIC, {"k": kind, "s": source, "w": WINDOW})
        extensions = error_of(body)
        assert extensions == {"code": "INCOMPATIBLE_DIRECTIONS", "highIsEasy": [False, True]}
        by_day = await gql(client, BREAKDOWN, {"k": kind, "by": ["STAGE"], "s": source,
                                               "w": WINDOW})  # fmt: skip
        assert error_of(by_day)["code"] == "INCOMPATIBLE_DIRECTIONS"


async def test_ces_means_of_opposite_directions_are_not_compared(mongo_uri: str) -> None:
    compare = (
        "query($k: MetricKind!) { compare(kind: $k, "
        f'a: {{window: {{from: "{WINDOW["from"]}", to: "{WINDOW["to"]}"}}, '
        'filter: {questions: ["effort"]}}, '
        f'b: {{window: {{from: "{WINDOW["from"]}", to: "{WINDOW["to"]}"}}, '
        'filter: {questions: ["agree"]}}) { difference pValue a { highIsEasy } '
        "b { highIsEasy } } }"
    )
    async with serving(make_settings(mongo_uri, min_sample=1)) as (_, client):
        await effort_and_agreement(client)
        assert error_of(await gql(client, compare, {"k": "CES"}))["code"] == (
            "INCOMPATIBLE_DIRECTIONS"
        )
        shares = (await gql_ok(client, compare, {"k": "CES_PERCENT_EASY"}))["compare"]
        # 50% easy against 2 of 3
        assert shares["difference"] == pytest.approx(200 / 3 - 50)
        assert (shares["a"]["highIsEasy"], shares["b"]["highIsEasy"]) == (False, True)
        assert shares["pValue"] is not None


async def test_tests_across_directions_are_withheld(mongo_uri: str) -> None:
    vs_rest = (
        "query($w: TimeWindow) { breakdown(kind: CES_PERCENT_EASY, by: [CHANNEL], window: $w, "
        "significance: VS_REST) { result { highIsEasy } test { pValue withheld } } }"
    )
    vs_previous = (
        'query { trend(kind: CES, granularity: DAY, window: {from: "2026-03-01T00:00:00Z", '
        'to: "2026-03-03T00:00:00Z"}, significance: VS_PREVIOUS) '
        "{ result { n highIsEasy } test { pValue withheld } } }"
    )
    async with serving(make_settings(mongo_uri, min_sample=1)) as (_, client):
        await effort_and_agreement(client)
        # each channel holds one direction, their total both: no rest to test against
        tests = (await gql_ok(client, vs_rest, {"w": WINDOW}))["breakdown"]
        assert [(t["result"]["highIsEasy"], t["test"]) for t in tests] == [
            (False, {"pValue": None, "withheld": "INCOMPATIBLE_DIRECTIONS"}),  # PHONE
            (True, {"pValue": None, "withheld": "INCOMPATIBLE_DIRECTIONS"}),  # WEB
        ]  # fmt: skip
        # effort answers on day 1, agreement answers on day 2: two means of opposite sense
        points = (await gql_ok(client, vs_previous))["trend"]
        assert [(p["result"]["n"], p["result"]["highIsEasy"]) for p in points] == [
            (3, False), (3, True)
        ]  # fmt: skip
        assert [p["test"]["withheld"] for p in points] == ["NO_PREVIOUS", "INCOMPATIBLE_DIRECTIONS"]


# -- bad input to highIsEasy ---------------------------------------------------------------------

SUBMIT = (
    "mutation($input: [SurveyResponseInput!]!) { submitSurveyResponses(input: $input) { "
    "inserted unchanged results { status error { code field } } } }"
)
READ_BACK = "query { surveyResponses(first: 10) { edges { node { externalId answers { metric " \
    "highIsEasy } } } } }"  # fmt: skip


async def read_back(client: httpx.AsyncClient) -> dict[str, list[tuple[str, bool]]]:
    edges = (await gql_ok(client, READ_BACK))["surveyResponses"]["edges"]
    return {e["node"]["externalId"]: [(a["metric"], a["highIsEasy"]) for a in
            e["node"]["answers"]] for e in edges}  # fmt: skip


async def test_high_is_easy_through_graphql(client: httpx.AsyncClient) -> None:
    records = [
        response("ok-false", answers=[ces(2, highIsEasy=False)]),
        response("ok-null", answers=[ces(2, highIsEasy=None), answer("CSAT", 4, highIsEasy=True)]),
        response("nps-false", answers=[answer("NPS", 9, 0, 10, highIsEasy=False)]),
    ]
    data = (await gql_ok(client, SUBMIT, {"input": records}))["submitSurveyResponses"]
    assert [(r["status"], r["error"]) for r in data["results"]] == [
        ("INSERTED", None), ("INSERTED", None),
        ("REJECTED", {"code": "INVALID_DIRECTION", "field": "answers[0].highIsEasy"}),
    ]  # fmt: skip
    assert await read_back(client) == {
        "ok-false": [("CES", False)], "ok-null": [("CES", True), ("CSAT", True)],
    }  # fmt: skip
    # true is the default: the record without it is the same record
    again = [response("ok-null", answers=[ces(2), answer("CSAT", 4)])]
    assert (await gql_ok(client, SUBMIT, {"input": again}))["submitSurveyResponses"][
        "unchanged"
    ] == 1
    for wrong in ("no", 0, {"$ne": False}, [False]):
        bad = [response("x", answers=[ces(2, highIsEasy=wrong)])]
        assert error_of(await gql(client, SUBMIT, {"input": bad}))["code"] == "BAD_USER_INPUT"
    assert set(await read_back(client)) == {"ok-false", "ok-null"}


async def test_high_is_easy_through_ndjson(client: httpx.AsyncClient) -> None:
    lines = [
        response("n-false", answers=[ces(2, highIsEasy=False)]),
        response("n-string", answers=[ces(2, highIsEasy="false")]),
        response("n-number", answers=[ces(2), ces(3, highIsEasy=0)]),
        response("n-operator", answers=[ces(2, highIsEasy={"$ne": False})]),
        response("n-csat", answers=[answer("CSAT", 4, highIsEasy=False)]),
        response("n-null", answers=[ces(6, highIsEasy=None)]),
    ]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    reply = await client.post("/ingest/survey-responses", content=body,
                              headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    *results, _ = [json.loads(line) for line in reply.text.splitlines()]
    assert [(r["status"], r["error"] and (r["error"]["code"], r["error"]["field"]))
            for r in results] == [
        ("INSERTED", None),
        ("REJECTED", ("WRONG_TYPE", "answers[0].highIsEasy")),
        ("REJECTED", ("WRONG_TYPE", "answers[1].highIsEasy")),
        ("REJECTED", ("WRONG_TYPE", "answers[0].highIsEasy")),
        ("REJECTED", ("INVALID_DIRECTION", "answers[0].highIsEasy")),
        ("INSERTED", None),
    ]  # fmt: skip
    assert await read_back(client) == {"n-false": [("CES", False)], "n-null": [("CES", True)]}


# -- stored rollups of the previous format -------------------------------------------------------


async def test_rollups_stored_in_the_previous_format_are_rebuilt(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rollups materialised by the previous release (format 2 counted answers) are never
    read again: the first read re-keys the tenant's state and rebuilds every day."""
    async with serving(make_settings(mongo_uri, cache_backend="none")) as (app, client):
        mongo = app.state.cx.mongo
        await submit_responses(client, [response("r1", submitted_at=DAY1, answers=[
            answer("CSAT", 5), answer("CSAT", 2, question="again")])])  # fmt: skip
        with monkeypatch.context() as patched:
            patched.setattr(rollup_format, "FORMAT_VERSION", 2)
            await metric(client, "CSAT", "AUTO")  # materialised and stored as format 2
            state = await mongo["rollup_state"].find_one({"_id": "default"})
            assert state["params"] == "UTC|format2"
        assert rollups.params_of(ZoneInfo("UTC")) == "UTC|format3"
        csat = await metric(client, "CSAT", "AUTO")
        assert (csat["n"], csat["numerator"]) == (1, 0)  # one respondent, mean 3.5
        state = await mongo["rollup_state"].find_one({"_id": "default"})
        assert state["params"] == "UTC|format3"
        assert state["materialized"]["2026-03-01"] == state["written"]["2026-03-01"]
        stored = (
            await mongo["metric_rollups"]
            .find({"day": "2026-03-01", "params": "UTC|format3"}, {"family": 1})
            .to_list()
        )
        assert sorted(d["family"] for d in stored) == ["CSAT", "CSAT/COMPONENT", "RESPONSE"]


# -- drivers -------------------------------------------------------------------------------------

DRIVERS = (
    "query($f: MetricFilter) { drivers(outcome: CES, filter: $f, "
    f'window: {{from: "{WINDOW["from"]}", to: "{WINDOW["to"]}"}}) {{ respondents outcomeMean }} }}'
)


async def test_drivers_read_one_ces_direction_and_take_no_questions(
    client: httpx.AsyncClient,
) -> None:
    await effort_and_agreement(client)
    extensions = error_of(await gql(client, DRIVERS, {"f": None}))
    assert extensions["code"] == "INCOMPATIBLE_DIRECTIONS"
    # the effort answers alone (channel PHONE): six respondents, mean (1+1+2+3+6+7)/6
    effort = (await gql_ok(client, DRIVERS, {"f": {"channels": ["PHONE"]}}))["drivers"]
    assert (effort["respondents"], effort["outcomeMean"]) == (6, pytest.approx(20 / 6))
    extensions = error_of(await gql(client, DRIVERS, {"f": {"questions": ["effort"]}}))
    assert (extensions["code"], extensions["reason"]) == ("BAD_USER_INPUT", "UNSUPPORTED_FILTER")
