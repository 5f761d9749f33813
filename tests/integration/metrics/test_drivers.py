"""drivers(outcome, window, filter): key-driver analysis through GraphQL, against known weights
and against the independent computation of tests/oracle/drivers.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.timeframe import Window
from service.store import driver_rows
from service.store.indexes import SURVEY_RESPONSES
from tests.conftest import api_key, http_client, make_settings, serving
from tests.graphql import error_codes, gql, gql_ok, no_answer
from tests.integration.builders import (
    answer,
    customer,
    nps,
    response,
    submit_responses,
    upsert_customers,
)
from tests.integration.store.test_pages_use_indexes import TIME_INDEX, _index_of
from tests.oracle import drivers as oracle

START = datetime(2026, 2, 1, tzinfo=UTC)
END = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = {"from": START.isoformat(), "to": END.isoformat()}
INTERVAL = "{ low high level }"
FIELDS = f"""outcome definition respondents n rSquared outcomeMean outcomeScaleMin
outcomeScaleMax lowSample dataVersion bootstrap {{ resamples seed level }}
ranking {{ driver n meanScore scaleMin scaleMax performance pearson
  pearsonInterval {INTERVAL} spearman inModel importance importanceInterval {INTERVAL}
  importanceShare rank quadrant lowSample }}"""
DRIVERS = f"""query($outcome: MetricKind!, $w: TimeWindow, $f: MetricFilter) {{
  drivers(outcome: $outcome, window: $w, filter: $f) {{ {FIELDS} }} }}"""


async def drivers(
    client: httpx.AsyncClient, outcome: str = "NPS", flt: dict[str, Any] | None = None,
    window: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    data = await gql_ok(client, DRIVERS, {"outcome": outcome, "w": window or WINDOW, "f": flt})
    result: dict[str, Any] = data["drivers"]
    return result


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def interval(found: dict[str, Any] | None) -> tuple[float, float] | None:
    return None if found is None else (found["low"], found["high"])


def same_interval(found: dict[str, Any] | None, expected: tuple[float, float] | None) -> bool:
    got = interval(found)
    if got is None or expected is None:
        return got is expected
    return close(got[0], expected[0]) and close(got[1], expected[1])


# ------------------------------------------------------------------- known weights

# Drivers on 1–5 from an orthogonal array (GF(5)³, eight pairwise independent linear forms):
# every pair of drivers is exactly uncorrelated, so each driver's relative weight is exactly
# β²·Var(x)/Var(y). The noise is projected off the drivers and scaled to a known variance.
FORMS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1), (1, 2, 0)]
BETA = {"PRODUCT": 0.44, "PEOPLE": 0.36, "EMOTION": 0.28, "PRICE": 0.24, "PROCESSES": 0.2,
        "VALUE_FOR_EFFORT": 0.16, "COMMUNICATIONS": 0.08, "CHANNELS": 0.04}  # fmt: skip
NOISE_VARIANCE = 0.36
BLOCKS = 4  # 4 × 125 responses, each block with noise of its own


def known_weights() -> dict[str, float]:
    """Var(x) = 2 on a balanced 1–5 scale; Var(y) = Σ β²·2 + the noise's variance."""
    total = sum(2 * b * b for b in BETA.values()) + NOISE_VARIANCE
    return {name: 2 * b * b / total for name, b in BETA.items()}


def orthogonal_records() -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    grid = np.array([(a, b, c) for a in range(5) for b in range(5) for c in range(5)])
    x = (grid @ np.array(FORMS).T) % 5 + 1.0  # 125 × 8, values 1..5
    names = list(BETA)
    records = []
    for block in range(BLOCKS):
        design = np.column_stack([np.ones(len(x)), x])
        noise = rng.uniform(-1, 1, len(x))
        noise -= design @ np.linalg.lstsq(design, noise, rcond=None)[0]
        noise *= np.sqrt(NOISE_VARIANCE / noise.var())
        y = 5 + (x - 3) @ np.array([BETA[n] for n in names]) + noise
        assert y.min() >= 0 and y.max() <= 10
        for i, row in enumerate(x):
            answers = [nps(float(y[i]))]
            for name, value in zip(names, row, strict=True):
                if name in ("EMOTION", "VALUE_FOR_EFFORT"):
                    answers.append(answer(name, int(value), 1, 5))
                else:
                    answers.append(answer("COMPONENT", int(value), 1, 5, component=name))
            when = START + timedelta(hours=block * 125 + i)
            records.append(response(f"o{block}-{i}", f"c{i % 40}", submitted_at=when,
                                    answers=answers))  # fmt: skip
    return records


async def ingest_ndjson(client: httpx.AsyncClient, records: list[dict[str, Any]]) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    reply = await client.post("/ingest/survey-responses", content=body,
                              headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert reply.status_code == 200, reply.text
    summary = json.loads(reply.text.splitlines()[-1])
    assert summary["inserted"] == len(records), summary


async def test_drivers_recover_the_known_weights_of_a_synthetic_data_set_within_their_intervals(
    client: httpx.AsyncClient,
) -> None:
    await ingest_ndjson(client, orthogonal_records())
    result = await drivers(client)

    truth = known_weights()
    assert (result["respondents"], result["n"]) == (500, 500)
    assert close(result["rSquared"], sum(truth.values()))
    ranking = result["ranking"]
    assert [d["driver"] for d in ranking] == sorted(truth, key=truth.__getitem__, reverse=True)
    assert [d["rank"] for d in ranking] == list(range(1, 9))
    for d in ranking:
        weight = truth[d["driver"]]
        assert close(d["importance"], weight), (d["driver"], d["importance"], weight)
        low, high = interval(d["importanceInterval"]) or (np.nan, np.nan)
        assert low <= weight <= high, (d["driver"], low, weight, high)
        # Uncorrelated drivers: the weight is the squared correlation.
        assert close(d["pearson"] ** 2, weight)
        assert (d["n"], d["meanScore"], d["scaleMin"], d["scaleMax"]) == (500, 3.0, 1, 5)
        assert d["performance"] == 50.0 and d["inModel"] and not d["lowSample"]
        assert close(d["importanceShare"], 100 * weight / sum(truth.values()))
    # Every driver performs alike (the mean, 50): the important ones are KEEP_UP.
    share = 100 / 8
    assert {d["driver"]: d["quadrant"] for d in ranking} == {
        name: "KEEP_UP" if 100 * w / sum(truth.values()) >= share else "POSSIBLE_OVERKILL"
        for name, w in truth.items()
    }
    assert result["bootstrap"] == {"resamples": 1000, "seed": 20260711, "level": 0.95}
    assert (result["outcomeScaleMin"], result["outcomeScaleMax"]) == (0, 10)


# ------------------------------------------------------------------- against the oracle

SEGMENTS = {f"c{i}": (["vip"] if i % 3 == 0 else ["basic"] if i % 3 == 1 else [])
            for i in range(60)}  # fmt: skip
SCALES = {"PRICE": (1, 10)}  # every other driver on 1–5


def correlated_records() -> list[dict[str, Any]]:
    """Correlated drivers, answers missing at random, a driver answered twice, responses
    outside the window or without the outcome, and answers that are no driver."""
    rng = np.random.default_rng(11)
    names = list(oracle.DRIVERS)
    beta = np.array([0.9, 0.7, 0.5, 0.1, 0.6, 0.4, 0.8, 0.3])
    records = []
    for i in range(460):
        inside = i < 420
        when = START + timedelta(hours=1 + 1.5 * i) if inside else END + timedelta(hours=i)
        latent = rng.normal()
        z = 0.6 * latent + 0.8 * rng.normal(size=len(names))
        y = int(np.clip(np.round(6 + 1.2 * z @ beta + rng.normal()), 0, 10))
        answers = [] if i % 23 == 5 else [nps(y)]
        answers.append(answer("CSAT", int(rng.integers(1, 6)), 1, 5))
        for name, value in zip(names, z, strict=True):
            if rng.random() < 0.12:
                continue
            lo, hi = SCALES.get(name, (1, 5))
            rating = int(np.clip(np.round((lo + hi) / 2 + value * (hi - lo) / 4), lo, hi))
            if name in ("EMOTION", "VALUE_FOR_EFFORT"):
                answers.append(answer(name, rating, lo, hi))
            else:
                answers.append(answer("COMPONENT", rating, lo, hi, component=name))
                if name == "PRODUCT" and i % 7 == 0:  # a second PRODUCT question
                    answers.append(answer("COMPONENT", lo + (rating - lo) // 2, lo, hi,
                                          component=name))  # fmt: skip
        if i % 11 == 0:
            answers.append(answer("OTHER", 3, 0, 5))
        channel = ("WEB", "EMAIL", "PHONE")[i % 3]
        records.append(response(f"r{i}", f"c{i % 60}", submitted_at=when, answers=answers,
                                channel=channel))  # fmt: skip
    return records


async def load_correlated(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    await upsert_customers(client, [customer(c, segments=s) for c, s in SEGMENTS.items()])
    records = correlated_records()
    for start in range(0, len(records), 200):
        await submit_responses(client, records[start : start + 200])
    return records


async def expected_of(
    records: list[dict[str, Any]], outcome: str, flt: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
    """The oracle's answer, computed in a thread: a blocked event loop starves the MongoDB
    client's monitor of its heartbeats."""
    y, x, names = oracle.table(records, (START, END), outcome, SEGMENTS, flt)
    return y, names, await asyncio.to_thread(oracle.analyse, y, x)


async def assert_matches_oracle(
    result: dict[str, Any], records: list[dict[str, Any]], flt: dict[str, list[str]] | None
) -> None:
    y, names, expected = await expected_of(records, "NPS", flt)
    assert (result["respondents"], result["n"]) == (expected["respondents"], expected["n"])
    assert close(result["rSquared"], expected["rSquared"])
    assert close(result["outcomeMean"], float(y.mean()))
    by_name = {d["driver"]: d for d in result["ranking"]}
    scores: list[float | None] = []
    for name, want in zip(names, expected["drivers"], strict=True):
        got = by_name[name]
        lo, hi = SCALES.get(name, (1, 5))
        assert (got["n"], got["inModel"], got["scaleMin"], got["scaleMax"]) == (
            want["n"], want["inModel"], lo, hi), name  # fmt: skip
        for field in ("pearson", "spearman", "importance", "importanceShare"):
            assert close(got[field], want[field]), (name, field, got[field], want[field])
        assert close(got["meanScore"], want["mean"]), name
        assert same_interval(got["pearsonInterval"], want["pearsonInterval"]), name
        assert same_interval(got["importanceInterval"], want["importanceInterval"]), name
        score = None if want["mean"] is None else 100 * (want["mean"] - lo) / (hi - lo)
        assert close(got["performance"], score), name
        scores.append(score)
    shares = [d["importanceShare"] for d in expected["drivers"]]
    assert [by_name[n]["quadrant"] for n in names] == oracle.quadrants(shares, scores)
    ranked = sorted((d for d in zip(names, expected["drivers"], strict=True)
                     if d[1]["importance"] is not None),
                    key=lambda d: -d[1]["importance"])  # fmt: skip
    assert [d["driver"] for d in result["ranking"][: len(ranked)]] == [n for n, _ in ranked]


async def test_drivers_equal_an_independent_computation_pairwise_and_complete_case(
    client: httpx.AsyncClient,
) -> None:
    records = await load_correlated(client)

    whole = await drivers(client)
    await assert_matches_oracle(whole, records, None)
    assert whole["respondents"] > whole["n"] > 0  # missing answers: fewer complete cases
    assert {d["n"] for d in whole["ranking"]} != {whole["respondents"]}  # pairwise n differ

    flt = {"segments": ["vip", "basic"], "channels": ["WEB", "EMAIL"]}
    narrow = await drivers(client, flt=flt)
    await assert_matches_oracle(narrow, records, flt)
    assert narrow["respondents"] < whole["respondents"]


async def test_an_emotion_outcome_is_not_its_own_driver(client: httpx.AsyncClient) -> None:
    records = await load_correlated(client)
    result = await drivers(client, outcome="EMOTION")
    _, names, expected = await expected_of(records, "EMOTION")
    assert "EMOTION" not in names and len(result["ranking"]) == 7
    by_name = {d["driver"]: d for d in result["ranking"]}
    assert (result["respondents"], result["n"]) == (expected["respondents"], expected["n"])
    for name, want in zip(names, expected["drivers"], strict=True):
        assert close(by_name[name]["importance"], want["importance"]), name


# ------------------------------------------------------------------- small and empty


async def test_no_data_answers_nulls_not_an_error(client: httpx.AsyncClient) -> None:
    result = await drivers(client)
    assert (result["respondents"], result["n"], result["rSquared"]) == (0, 0, None)
    assert result["lowSample"] is True
    assert [d["driver"] for d in result["ranking"]] == list(oracle.DRIVERS)
    for d in result["ranking"]:
        found = (d["n"], d["meanScore"], d["pearson"], d["importance"], d["rank"], d["quadrant"])
        assert found == (0, None, None, None, None, None) and d["inModel"] is False


async def test_drivers_answered_by_few_stay_out_of_the_model_and_say_so(
    client: httpx.AsyncClient,
) -> None:
    records = []
    for i in range(40):
        answers = [nps(i % 11), answer("COMPONENT", 1 + i % 5, 1, 5, component="PRODUCT"),
                   answer("EMOTION", 1 + (i * 3) % 5, 1, 5)]  # fmt: skip
        if i < 2:  # two answers: no correlation, no weight
            answers.append(answer("COMPONENT", 3 + i, 1, 5, component="PRICE"))
        if i < 15:  # asked on fewer than half of the surveys: a correlation, no weight
            answers.append(answer("COMPONENT", 1 + (i * 7) % 5, 1, 5, component="PEOPLE"))
        records.append(response(f"s{i}", submitted_at=START + timedelta(hours=i), answers=answers))
    await submit_responses(client, records)
    result = await drivers(client)
    by_name = {d["driver"]: d for d in result["ranking"]}
    assert (by_name["PRICE"]["n"], by_name["PRICE"]["inModel"]) == (2, False)
    assert (by_name["PRICE"]["pearson"], by_name["PRICE"]["importance"]) == (None, None)
    assert by_name["PRICE"]["meanScore"] == 3.5 and by_name["PRICE"]["lowSample"]
    assert [d["driver"] for d in result["ranking"][:2]] in (
        ["PRODUCT", "EMOTION"], ["EMOTION", "PRODUCT"])  # fmt: skip
    people = by_name["PEOPLE"]
    assert (people["n"], people["inModel"], people["importance"]) == (15, False, None)
    assert people["pearson"] is not None and people["spearman"] is not None
    assert result["n"] == 40  # neither is in the model, so their absence removes no row


# ------------------------------------------------------------------- caching and scopes


async def test_answers_are_cached_per_data_version(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [response("a1", submitted_at=START, answers=[
        nps(9), answer("COMPONENT", 4, 1, 5, component="PEOPLE")])])  # fmt: skip
    query = f"query {{ drivers(window: {{from: \"{WINDOW['from']}\", to: \"{WINDOW['to']}\"}}) " \
            "{ computedAt dataVersion respondents } }"  # fmt: skip
    first = (await gql_ok(client, query))["drivers"]
    again = (await gql_ok(client, query))["drivers"]
    assert again == first
    written = await submit_responses(client, [response("a2", submitted_at=START,
                                                        answers=[nps(3)])])  # fmt: skip
    mine = query.replace("drivers(", f"drivers(minDataVersion: {written['dataVersion']}, ")
    later = (await gql_ok(client, mine))["drivers"]  # read-your-writes
    assert later["dataVersion"] == written["dataVersion"] > first["dataVersion"]
    assert later["respondents"] == 2


async def test_another_tenants_responses_are_not_read(app: Any, client: httpx.AsyncClient) -> None:
    async with http_client(app, tenant="other") as theirs:
        await submit_responses(theirs, [response("x1", submitted_at=START, answers=[
            nps(2), answer("COMPONENT", 1, 1, 5, component="PRICE")])])  # fmt: skip
        assert (await drivers(theirs))["respondents"] == 1
    await submit_responses(client, [response("x1", submitted_at=START, answers=[
        nps(9), answer("COMPONENT", 5, 1, 7, component="PRICE")])])  # fmt: skip
    ours = await drivers(client)  # the same record key, another tenant, another scale
    assert ours["respondents"] == 1
    price = next(d for d in ours["ranking"] if d["driver"] == "PRICE")
    assert (price["meanScore"], price["scaleMax"]) == (5.0, 7)


async def test_drivers_need_the_metrics_read_scope(app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    for scopes, allowed in ((["data:read", "data:write"], False), (["metrics:read"], True)):
        headers = {"authorization": f"Bearer {await api_key(app, scopes=scopes)}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                     headers=headers) as c:  # fmt: skip
            body = await gql(c, "{ drivers { respondents } }")
        if allowed:
            assert "errors" not in body and body["data"]["drivers"]["respondents"] == 0
        else:
            assert error_codes(body) == ["FORBIDDEN"] and no_answer(body)


async def test_a_drivers_query_has_its_cost(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/graphql", headers={"x-cx-dry-run": "1"},
        json={"query": "{ drivers { n ranking { driver importanceInterval { low } } } }"},
    )  # fmt: skip
    # drivers: 1 + 50 of work; ranking: 1 + 8 × its interval (1).
    assert reply.json()["extensions"]["cost"] == 1 + 50 + (1 + 8 * 1)


# ------------------------------------------------------------------- bad input

BAD = [
    ("an unknown outcome kind", "{ drivers(outcome: LOYALTY) { n } }", "BAD_USER_INPUT", None),
    ("an outcome that is no rating", "{ drivers(outcome: FCR) { n } }", "BAD_USER_INPUT",
     "UNSUPPORTED_OUTCOME"),
    ("a kind that is a driver", "{ drivers(outcome: COMPONENT_SCORE) { n } }", "BAD_USER_INPUT",
     "UNSUPPORTED_OUTCOME"),
    ("a window too long", '{ drivers(window: {from: "2024-01-01T00:00:00Z", '
     'to: "2026-01-01T00:00:00Z"}) { n } }', "BAD_USER_INPUT", "WINDOW_TOO_LONG"),
    ("a reversed window", '{ drivers(window: {from: "2026-02-01T00:00:00Z", '
     'to: "2026-01-01T00:00:00Z"}) { n } }', "BAD_USER_INPUT", "INVALID_WINDOW"),
    ("a components filter", "{ drivers(filter: {components: [PRICE]}) { n } }",
     "BAD_USER_INPUT", "UNSUPPORTED_FILTER"),
    ("an object where a string goes", '{ drivers(filter: {segments: [{ne: 1}]}) { n } }',
     "BAD_USER_INPUT", None),
    ("an unknown filter key", '{ drivers(filter: {tenant: "other"}) { n } }', "BAD_USER_INPUT",
     None),
]  # fmt: skip


@pytest.mark.parametrize("query,code,reason", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_input_is_refused_with_its_code(
    client: httpx.AsyncClient, query: str, code: str, reason: str | None
) -> None:
    body = await gql(client, query)
    assert error_codes(body) == [code], body
    assert no_answer(body)
    if reason is not None:
        assert body["errors"][0]["extensions"]["reason"] == reason


async def test_strings_that_look_like_operators_are_values_that_match_nothing(
    client: httpx.AsyncClient,
) -> None:
    await submit_responses(client, [response("p1", submitted_at=START, answers=[
        nps(9), answer("COMPONENT", 4, 1, 5, component="PEOPLE")], channel="WEB")])  # fmt: skip
    for flt in ({"segments": ["$ne"]}, {"journeys": ['{"$gt": ""}']}, {"stages": ["$where"]},
                {"segments": ["$exists"], "journeys": ["$regex"]}):  # fmt: skip
        result = await drivers(client, flt=flt)
        assert (result["respondents"], result["n"]) == (0, 0), flt
    assert (await drivers(client))["respondents"] == 1


async def test_drivers_on_two_scales_are_not_pooled(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        response("k1", submitted_at=START, answers=[nps(9), answer("COMPONENT", 4, 1, 5,
                                                                   component="PRICE")]),
        response("k2", submitted_at=START, answers=[nps(9), answer("COMPONENT", 4, 1, 7,
                                                                   component="PRICE")]),
    ])  # fmt: skip
    body = await gql(client, DRIVERS, {"outcome": "NPS", "w": WINDOW})
    assert error_codes(body) == ["INCOMPATIBLE_SCALES"]
    assert body["errors"][0]["extensions"]["driver"] == "PRICE"
    assert body["errors"][0]["extensions"]["scales"] == [{"min": 1, "max": 5},
                                                         {"min": 1, "max": 7}]  # fmt: skip


async def test_more_responses_than_the_limit_are_refused(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, drivers_max_responses=3)) as (_, client):
        records = [response(f"m{i}", submitted_at=START + timedelta(hours=i)) for i in range(4)]
        await submit_responses(client, records[:3])
        assert (await drivers(client))["respondents"] == 3
        await submit_responses(client, records[3:])
        body = await gql(client, DRIVERS, {"outcome": "NPS", "w": WINDOW})
        assert error_codes(body) == ["TOO_MANY_RESPONSES"]
        assert body["errors"][0]["extensions"]["limit"] == 3
        assert "CX_DRIVERS_MAX_RESPONSES" in body["errors"][0]["message"]


async def test_the_drivers_read_walks_the_time_index(db: Any) -> None:
    flt = CellFilter(segments=frozenset({"vip"}), channels=frozenset({"WEB"}))
    pipeline = driver_rows.pipeline("t1", Window(START, END), flt, "NPS", 100)
    assert await _index_of(db, SURVEY_RESPONSES, pipeline) == TIME_INDEX[SURVEY_RESPONSES]


async def test_a_computation_over_its_budget_answers_timeout(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, mongo_query_timeout_s=0.001)) as (_, client):
        await submit_responses(client, [response("t1", submitted_at=START)])
        body = await gql(client, DRIVERS, {"outcome": "NPS", "w": WINDOW})
    assert error_codes(body) == ["TIMEOUT"] and no_answer(body)
    assert body["errors"][0]["extensions"]["setting"] == "CX_MONGO_QUERY_TIMEOUT_S"
