"""The demo data set: deterministic, realistic, valid, and idempotent to load."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from starlette.applications import Starlette

from devtools.demo import DemoData, generate, is_empty, load_demo
from service.domain.model import AnswerMetric, Channel, Component, Phase
from service.settings import Settings
from service.store import rollups

SMALL: dict[str, int] = {"customers": 200, "touchpoints": 1500, "responses": 600}
END = "2026-03-31"
END_DATE = date(2026, 3, 31)
TENANT = "demo-test"
COLLECTIONS = {
    "customers": "customers",
    "touchpoints": "touchpoints",
    "responses": "survey_responses",
    "journeys": "journeys",
}
LISTED_CHANNELS = {c.value for c in Channel} - {Channel.OTHER.value}


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(7, END_DATE, **SMALL)


def test_generate_is_deterministic(data: DemoData) -> None:
    assert generate(7, END_DATE, **SMALL) == data
    assert generate(8, END_DATE, **SMALL) != data


def test_generate_makes_exactly_the_sizes_asked_for(data: DemoData) -> None:
    assert len(data.customers) == SMALL["customers"]
    assert len(data.touchpoints) == SMALL["touchpoints"]
    assert len(data.responses) == SMALL["responses"]
    assert data.customers[0]["externalId"] == "cus-00001"
    assert data.touchpoints[0]["externalId"] == "tp-000001"
    assert data.responses[0]["externalId"] == "sr-00001"
    ids = [r["externalId"] for r in data.touchpoints + data.responses + data.customers]
    assert len(set(ids)) == len(ids)


def test_records_span_the_cx_vocabulary(data: DemoData) -> None:
    phase_of = {(j["key"], s["key"]): s["phase"] for j in data.journeys for s in j["stages"]}
    assert set(phase_of.values()) == {p.value for p in Phase}
    for journey in data.journeys:
        assert len({s["phase"] for s in journey["stages"]}) >= 2, journey["key"]
    reached = {phase_of[t["journey"], t["stage"]] for t in data.touchpoints if "stage" in t}
    assert reached == {p.value for p in Phase}

    assert {t["channel"] for t in data.touchpoints} >= LISTED_CHANNELS
    all_components = {c.value for c in Component}
    assert {t["component"] for t in data.touchpoints if "component" in t} == all_components

    answers = [a for r in data.responses for a in r["answers"]]
    assert {a["metric"] for a in answers} == {m.value for m in AnswerMetric} - {"OTHER"}
    assert {a["component"] for a in answers if a["metric"] == "COMPONENT"} == all_components
    assert all(len(r["answers"]) == 4 for r in data.responses)
    for a in answers:
        assert isinstance(a["value"], int)
        assert a["scaleMin"] <= a["value"] <= a["scaleMax"]
    assert {(a["scaleMin"], a["scaleMax"]) for a in answers if a["metric"] == "NPS"} == {(0, 10)}


def test_everything_happens_inside_the_window(data: DemoData) -> None:
    since, until = data.window
    assert until.date() == date(2026, 4, 1) and (until - since).days == 180
    assert all(since <= t["occurredAt"] < until for t in data.touchpoints)
    assert all(since <= r["submittedAt"] < until for r in data.responses)
    touchpoint = {t["externalId"]: t for t in data.touchpoints}
    for r in data.responses:
        if "touchpoint" in r:
            t = touchpoint[r["touchpoint"]["externalId"]]
            assert t["customer"] == r["customer"]
            assert (t["journey"], t["stage"]) == (r["journey"], r["stage"])


def test_cases_customers_and_funnels_look_real(data: DemoData) -> None:
    touchpoints = pd.DataFrame(data.touchpoints)
    contacts = touchpoints.dropna(subset=["caseId"])
    assert set(contacts["channel"]) <= {"PHONE", "CHAT", "EMAIL"}
    cases = contacts.groupby("caseId").agg(contacts=("kind", "size"), resolved=("resolved", "any"))
    assert cases["contacts"].between(1, 3).all()
    fcr = ((cases["contacts"] == 1) & cases["resolved"]).mean()
    assert 0.5 <= fcr <= 0.9
    assert not cases["resolved"].all()  # some cases stay open

    customers = pd.DataFrame(data.customers)
    churned = customers.dropna(subset=["churnedAt"])
    assert 0.08 <= len(churned) / len(customers) <= 0.12
    assert (churned["churnedAt"] > churned["signedUpAt"]).all()
    assert (customers["revenue"] > 0).all()
    assert customers["segments"].map(len).max() == 2

    touchpoints["customerId"] = touchpoints["customer"].map(lambda ref: ref["externalId"])
    for journey in data.journeys:
        steps = touchpoints[touchpoints["journey"] == journey["key"]]
        reached = [
            steps.loc[steps["stage"] == s["key"], "customerId"].nunique() for s in journey["stages"]
        ]
        assert reached == sorted(reached, reverse=True), (journey["key"], reached)
        assert reached[-1] > 0


async def _counts(app: Starlette) -> dict[str, int]:
    mongo = app.state.cx.mongo
    return {
        name: await mongo[collection].count_documents({"tenant": TENANT})
        for name, collection in COLLECTIONS.items()
    }


async def test_load_demo_stores_the_generated_set_once(
    app: Starlette, settings: Settings, data: DemoData, capsys: pytest.CaptureFixture[str]
) -> None:
    mongo = app.state.cx.mongo
    assert await is_empty(mongo, TENANT)

    summary = await load_demo(mongo, settings, TENANT, seed=7, end=END, **SMALL)

    expected = {name: len(getattr(data, name)) for name in COLLECTIONS}
    assert await _counts(app) == expected
    assert not await is_empty(mongo, TENANT)
    total = len(data.customers) + len(data.touchpoints) + len(data.responses)
    assert (summary.inserted, summary.updated, summary.unchanged) == (total, 0, 0)
    # Customers went in first, so no touchpoint or response waits for its segments.
    pending: dict[str, Any] = {"tenant": TENANT, "segmentsPending": True}
    assert await mongo["touchpoints"].count_documents(pending) == 0
    assert await mongo["survey_responses"].count_documents(pending) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "demo: touchpoints 1500/1500" in lines
    assert sum(line.startswith("demo: touchpoints") for line in lines) <= 11
    # The rollups are materialised by the load: the first dashboard finds every day ready.
    state = await rollups.state(mongo, TENANT)
    assert state.written and state.stale(state.written) == []
    assert any(line.startswith("demo: rollups: materialised") for line in lines)

    again = await load_demo(mongo, settings, TENANT, seed=7, end=END, **SMALL)

    assert await _counts(app) == expected
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, total)


@pytest.mark.parametrize("end", ["2026-02-30", "31/03/2026", "2026-3-31", "today"])
async def test_load_demo_refuses_a_bad_end_date(
    app: Starlette, settings: Settings, end: str
) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        await load_demo(app.state.cx.mongo, settings, TENANT, end=end, **SMALL)
    assert await is_empty(app.state.cx.mongo, TENANT)
