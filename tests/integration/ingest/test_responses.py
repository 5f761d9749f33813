"""submitSurveyResponses: stored answers, idempotency, stubs and the segment snapshot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.domain.ids import record_id
from tests.graphql import SUBMIT_RESPONSES, gql_ok
from tests.integration.builders import (
    SOURCE,
    all_docs,
    answer,
    at,
    counts,
    customer,
    define_journey,
    ids,
    nps,
    record_touchpoints,
    ref,
    response,
    statuses,
    submit_responses,
    touchpoint,
    upsert_customers,
)

RESPONSE_FIELDS = """id source externalId customerId customerRef { source externalId }
touchpointId touchpointRef { source externalId } segments journey stage channel submittedAt
answers { question metric value scaleMin scaleMax component } comment
customer { externalId stub segments }"""


@pytest.fixture(autouse=True)
async def journey(client: httpx.AsyncClient) -> None:
    await define_journey(client)


async def fetch_responses(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    data = await gql_ok(
        client,
        "query { surveyResponses(first: 500) { edges { node { " + RESPONSE_FIELDS + " } } } }",
    )
    return [e["node"] for e in data["surveyResponses"]["edges"]]


def full_response(external_id: str, customer_id: str = "c1") -> dict[str, Any]:
    return response(
        external_id,
        customer_id,
        submitted_at="2026-03-02T09:15:00-05:00",
        answers=[
            nps(10),
            answer("CSAT", 4.5, 1, 5),
            answer("COMPONENT", 2, 1, 7, component="PRICE"),
        ],
        touchpoint=ref("t1"),
        journey="onboarding",
        stage="checkout",
        channel="EMAIL",
        comment="Great checkout",
    )


async def test_a_response_is_stored_with_its_answers(client: httpx.AsyncClient, db: Any) -> None:
    known = await upsert_customers(client, [customer("c1", segments=["vip"])])
    await record_touchpoints(client, [touchpoint("t1", "c1")])

    result = await submit_responses(client, [full_response("r1")])

    assert counts(result) == (1, 0, 0, 0)
    assert ids(result) == [record_id("survey_responses", "default", SOURCE, "r1")]
    stored = await db.survey_responses.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert stored["customerId"] == ids(known)[0]
    assert stored["touchpointId"] == record_id("touchpoints", "default", SOURCE, "t1")
    assert stored["touchpointRef"] == {"source": SOURCE, "externalId": "t1"}
    assert stored["segments"] == ["vip"]
    assert "segmentsPending" not in stored
    assert stored["submittedAt"] == datetime(2026, 3, 2, 14, 15, tzinfo=UTC)
    assert stored["answers"] == [
        {
            "question": "nps question",
            "metric": "NPS",
            "value": 10,
            "scale": {"min": 0, "max": 10},
            "component": None,
        },
        {
            "question": "csat question",
            "metric": "CSAT",
            "value": 4.5,
            "scale": {"min": 1, "max": 5},
            "component": None,
        },
        {
            "question": "component question",
            "metric": "COMPONENT",
            "value": 2,
            "scale": {"min": 1, "max": 7},
            "component": "PRICE",
        },
    ]
    assert (stored["journey"], stored["stage"], stored["channel"], stored["comment"]) == (
        "onboarding",
        "checkout",
        "EMAIL",
        "Great checkout",
    )

    assert await fetch_responses(client) == [
        {
            "id": ids(result)[0],
            "source": SOURCE,
            "externalId": "r1",
            "customerId": ids(known)[0],
            "customerRef": {"source": SOURCE, "externalId": "c1"},
            "touchpointId": record_id("touchpoints", "default", SOURCE, "t1"),
            "touchpointRef": {"source": SOURCE, "externalId": "t1"},
            "segments": ["vip"],
            "journey": "onboarding",
            "stage": "checkout",
            "channel": "EMAIL",
            "submittedAt": "2026-03-02T14:15:00+00:00",
            "answers": [
                {
                    "question": "nps question",
                    "metric": "NPS",
                    "value": 10.0,
                    "scaleMin": 0,
                    "scaleMax": 10,
                    "component": None,
                },
                {
                    "question": "csat question",
                    "metric": "CSAT",
                    "value": 4.5,
                    "scaleMin": 1,
                    "scaleMax": 5,
                    "component": None,
                },
                {
                    "question": "component question",
                    "metric": "COMPONENT",
                    "value": 2.0,
                    "scaleMin": 1,
                    "scaleMax": 7,
                    "component": "PRICE",
                },
            ],
            "comment": "Great checkout",
            "customer": {"externalId": "c1", "stub": False, "segments": ["vip"]},
        }
    ]


async def test_scale_bounds_are_inside_the_scale(client: httpx.AsyncClient, db: Any) -> None:
    result = await submit_responses(
        client,
        [
            response("r1", answers=[nps(0), answer("CES", 1, 1, 7)]),
            response("r2", answers=[nps(10), answer("CES", 7, 1, 7)]),
        ],
    )

    assert counts(result) == (2, 0, 0, 0)
    assert await db.survey_responses.count_documents({}) == 2


async def test_resending_responses_changes_nothing(client: httpx.AsyncClient, db: Any) -> None:
    await upsert_customers(client, [customer("c1", segments=["vip"])])
    records = [full_response("r1"), response("r2", "c2", submitted_at=at(3))]
    first = await submit_responses(client, records)
    responses_before = await all_docs(db.survey_responses)
    customers_before = await all_docs(db.customers)

    again = await submit_responses(client, records)

    assert counts(again) == (0, 0, 2, 0)
    assert ids(again) == ids(first)
    assert again["dataVersion"] == first["dataVersion"]
    assert await all_docs(db.survey_responses) == responses_before
    assert await all_docs(db.customers) == customers_before


async def test_a_changed_answer_is_an_update(client: httpx.AsyncClient, db: Any) -> None:
    first = await submit_responses(client, [full_response("r1")])
    before = await db.survey_responses.find_one({"externalId": "r1"})
    assert before is not None
    await asyncio.sleep(0.01)

    changed = full_response("r1")
    changed["answers"][1]["value"] = 2
    result = await submit_responses(client, [changed])

    assert counts(result) == (0, 1, 0, 0)
    assert result["dataVersion"] == first["dataVersion"] + 1
    after = await db.survey_responses.find_one({"externalId": "r1"})
    assert after is not None
    assert [a["value"] for a in after["answers"]] == [10, 2, 2]
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]
    assert await db.survey_responses.count_documents({}) == 1


async def test_out_of_order_response_and_touchpoint_get_the_segments_later(
    client: httpx.AsyncClient, db: Any
) -> None:
    tp = await record_touchpoints(client, [touchpoint("t1", "late")])
    sr = await submit_responses(client, [response("r1", "late", submitted_at=at(2))])

    assert statuses(tp) == ["INSERTED"]
    assert statuses(sr) == ["INSERTED"]
    assert await db.customers.count_documents({}) == 1
    stub = await db.customers.find_one({"externalId": "late"})
    assert stub is not None
    assert stub["stub"] is True
    for stored in (
        await db.touchpoints.find_one({"externalId": "t1"}),
        await db.survey_responses.find_one({"externalId": "r1"}),
    ):
        assert stored is not None
        assert stored["segments"] == []
        assert stored["segmentsPending"] is True
    assert [r["customer"] for r in await fetch_responses(client)] == [
        {"externalId": "late", "stub": True, "segments": []}
    ]

    arrived = await upsert_customers(client, [customer("late", segments=["b2b", "vip"])])

    assert counts(arrived) == (1, 0, 0, 0)
    data = await gql_ok(
        client,
        "query($ref: RecordRefInput) { customer(ref: $ref) { stub segments } }",
        {"ref": ref("late")},
    )
    assert data["customer"] == {"stub": False, "segments": ["b2b", "vip"]}
    for stored in (
        await db.touchpoints.find_one({"externalId": "t1"}),
        await db.survey_responses.find_one({"externalId": "r1"}),
    ):
        assert stored is not None
        assert stored["segments"] == ["b2b", "vip"]
        assert "segmentsPending" not in stored
    assert [r["segments"] for r in await fetch_responses(client)] == [["b2b", "vip"]]


async def test_a_response_keeps_the_segments_it_was_recorded_with(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1", segments=["basic"])])
    await submit_responses(client, [response("r1", "c1")])
    first = await db.survey_responses.find_one({"externalId": "r1"})
    assert first is not None
    assert first["segments"] == ["basic"]
    assert "segmentsPending" not in first

    changed = await upsert_customers(client, [customer("c1", segments=["premium"])])
    later = await submit_responses(client, [response("r2", "c1", submitted_at=at(1))])

    assert statuses(changed) == ["UPDATED"]
    assert statuses(later) == ["INSERTED"]
    assert await db.survey_responses.find_one({"externalId": "r1"}) == first
    second = await db.survey_responses.find_one({"externalId": "r2"})
    assert second is not None
    assert second["segments"] == ["premium"]
    assert [r["segments"] for r in await fetch_responses(client)] == [["basic"], ["premium"]]


async def test_concurrent_identical_response_batches_store_each_once(
    client: httpx.AsyncClient, db: Any
) -> None:
    records = [response(f"r{i:02d}", f"c{i % 4}", submitted_at=at(i)) for i in range(12)]
    variables = {"input": records}

    first, second = await asyncio.gather(
        gql_ok(client, SUBMIT_RESPONSES, variables), gql_ok(client, SUBMIT_RESPONSES, variables)
    )
    a, b = first["submitSurveyResponses"], second["submitSurveyResponses"]

    assert a["inserted"] + b["inserted"] == 12
    assert a["unchanged"] + b["unchanged"] == 12
    assert a["updated"] + b["updated"] == 0
    assert a["rejected"] + b["rejected"] == 0
    assert await db.survey_responses.count_documents({}) == 12
    assert await db.customers.count_documents({}) == 4
