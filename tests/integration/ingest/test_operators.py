"""Strings and keys that look like MongoDB operators are plain data, stored and returned as
sent, and a filter with such a value matches nothing rather than everything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.graphql import gql_ok
from tests.integration.builders import (
    answer,
    at,
    counts,
    customer,
    define_journey,
    ids,
    record_touchpoints,
    rejection,
    response,
    statuses,
    submit_responses,
    touchpoint,
    upsert_customers,
)

GT = '{"$gt": ""}'
NE_NULL = '{"$ne": null}'
OPERATOR_SOURCE = "$ne"
OPERATOR_ID = "$where"

ATTRIBUTES = {
    "$where": "sleep(1000)",
    "a.b": 1,
    "filter": {"$gt": ""},
    "list": [{"$ne": None}, "$in"],
    "%24where": "already escaped",
    "plain": "value",
}
STORED_ATTRIBUTES = {
    "%24where": "sleep(1000)",
    "a%2Eb": 1,
    "filter": {"%24gt": ""},
    "list": [{"%24ne": None}, "$in"],
    "%2524where": "already escaped",
    "plain": "value",
}


@pytest.fixture(autouse=True)
async def journey(client: httpx.AsyncClient) -> None:
    await define_journey(client)


def operator_customer() -> dict[str, Any]:
    return {
        "source": OPERATOR_SOURCE,
        "externalId": OPERATOR_ID,
        "name": GT,
        "email": "$regex",
        "segments": [GT, "$ne", "$where"],
        "attributes": ATTRIBUTES,
    }


async def test_operator_strings_in_a_customer_are_stored_verbatim(
    client: httpx.AsyncClient, db: Any
) -> None:
    result = await upsert_customers(client, [operator_customer(), customer("plain", name="P")])

    assert counts(result) == (2, 0, 0, 0)
    stored = await db.customers.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert stored["source"] == "$ne"
    assert stored["externalId"] == "$where"
    assert stored["name"] == GT
    assert stored["email"] == "$regex"
    assert stored["segments"] == sorted([GT, "$ne", "$where"])
    assert stored["attributes"] == STORED_ATTRIBUTES
    assert await db.customers.count_documents({}) == 2

    data = await gql_ok(
        client,
        "query($ref: RecordRefInput) { customer(ref: $ref) "
        "{ id source externalId name email segments attributes } }",
        {"ref": {"source": OPERATOR_SOURCE, "externalId": OPERATOR_ID}},
    )
    assert data["customer"] == {
        "id": ids(result)[0],
        "source": "$ne",
        "externalId": "$where",
        "name": GT,
        "email": "$regex",
        "segments": sorted([GT, "$ne", "$where"]),
        "attributes": ATTRIBUTES,
    }

    # Sent again, it is the same record: the escaping is stable.
    again = await upsert_customers(client, [operator_customer()])
    assert statuses(again) == ["UNCHANGED"]


async def test_a_segment_filter_is_an_equality_on_the_string(
    client: httpx.AsyncClient,
) -> None:
    await upsert_customers(
        client,
        [
            customer("a", segments=["$ne"]),
            customer("b", segments=["vip"]),
            customer("c"),
            customer("d", segments=[GT]),
        ],
    )
    query = "query($s: String) { customers(segment: $s) { edges { node { externalId } } } }"

    async def matching(segment: str) -> list[str]:
        data = await gql_ok(client, query, {"s": segment})
        return [e["node"]["externalId"] for e in data["customers"]["edges"]]

    assert await matching(GT) == ["d"]
    assert await matching("$ne") == ["a"]
    assert await matching(NE_NULL) == []
    assert await matching('{"$exists": true}') == []
    assert await matching("$where") == []
    assert await matching("vip") == ["b"]


async def test_operator_strings_in_touchpoints_are_stored_and_matched_verbatim(
    client: httpx.AsyncClient, db: Any
) -> None:
    records = [
        touchpoint("$ne", GT, kind=GT, caseId="$where", journey="onboarding", stage="signup"),
        touchpoint("t2", "c2", occurred_at=at(1), journey="onboarding"),
        touchpoint("t3", "c3", occurred_at=at(2)),
        touchpoint("t4", "c2", occurred_at=at(3), journey="$ne"),
    ]
    result = await record_touchpoints(client, records)

    assert statuses(result) == ["INSERTED", "INSERTED", "INSERTED", "REJECTED"]
    assert rejection(result, 3) == ("UNKNOWN_JOURNEY", "journey")
    stored = await db.touchpoints.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert stored["externalId"] == "$ne"
    assert stored["kind"] == GT
    assert stored["caseId"] == "$where"
    assert stored["customerRef"] == {"source": "crm", "externalId": GT}
    stub = await db.customers.find_one({"_id": stored["customerId"]})
    assert stub is not None
    assert (stub["externalId"], stub["stub"]) == (GT, True)

    query = """query($f: RecordFilter) { touchpoints(filter: $f) {
        edges { node { externalId kind caseId customerRef { externalId } } } } }"""

    async def matching(flt: dict[str, Any]) -> list[dict[str, Any]]:
        data = await gql_ok(client, query, {"f": flt})
        return [e["node"] for e in data["touchpoints"]["edges"]]

    assert await matching({}) == [
        {"externalId": "$ne", "kind": GT, "caseId": "$where", "customerRef": {"externalId": GT}},
        {"externalId": "t2", "kind": "visit", "caseId": None, "customerRef": {"externalId": "c2"}},
        {"externalId": "t3", "kind": "visit", "caseId": None, "customerRef": {"externalId": "c3"}},
    ]
    assert await matching({"journey": "$ne"}) == []
    assert await matching({"journey": GT}) == []
    assert await matching({"journey": NE_NULL}) == []
    assert await matching({"stage": "$where"}) == []
    assert await matching({"stage": GT}) == []
    assert await matching({"customer": GT}) == []
    assert await matching({"customer": "$ne"}) == []
    assert [n["externalId"] for n in await matching({"journey": "onboarding"})] == ["$ne", "t2"]


async def test_operator_strings_in_responses_are_stored_and_matched_verbatim(
    client: httpx.AsyncClient, db: Any
) -> None:
    tricky_answer = answer("OTHER", 3, 1, 5)
    tricky_answer["question"] = "$where"
    records = [
        response(
            GT,
            "$ne",
            answers=[tricky_answer, {**answer("CSAT", 4, 1, 5), "question": GT}],
            comment=GT,
        ),
        response("r2", "c2", submitted_at=at(1), comment="$where"),
    ]
    result = await submit_responses(client, records)

    assert counts(result) == (2, 0, 0, 0)
    stored = await db.survey_responses.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert stored["externalId"] == GT
    assert stored["comment"] == GT
    assert [a["question"] for a in stored["answers"]] == ["$where", GT]
    assert stored["customerRef"] == {"source": "crm", "externalId": "$ne"}

    query = """query($f: RecordFilter) { surveyResponses(filter: $f) {
        edges { node { externalId comment answers { question } } } } }"""

    async def matching(flt: dict[str, Any]) -> list[dict[str, Any]]:
        data = await gql_ok(client, query, {"f": flt})
        return [e["node"] for e in data["surveyResponses"]["edges"]]

    assert await matching({}) == [
        {"externalId": GT, "comment": GT, "answers": [{"question": "$where"}, {"question": GT}]},
        {"externalId": "r2", "comment": "$where", "answers": [{"question": "nps question"}]},
    ]
    assert await matching({"journey": "$ne"}) == []
    assert await matching({"stage": GT}) == []
    assert await matching({"customer": NE_NULL}) == []


async def test_journey_keys_that_look_like_operators_are_plain_keys(
    client: httpx.AsyncClient, db: Any
) -> None:
    await define_journey(
        client,
        {"key": "$ne", "name": GT, "stages": [{"key": "$where", "name": "x", "phase": "PURCHASE"}]},
    )
    result = await record_touchpoints(
        client,
        [
            touchpoint("t1", journey="$ne", stage="$where"),
            touchpoint("t2", occurred_at=at(1), journey="onboarding", stage="signup"),
        ],
    )
    assert statuses(result) == ["INSERTED", "INSERTED"]

    data = await gql_ok(
        client,
        'query { journey(key: "$ne") { key name stages { key } } '
        'touchpoints(filter: {journey: "$ne", stage: "$where"}) '
        "{ edges { node { externalId } } } }",
    )
    assert data["journey"] == {"key": "$ne", "name": GT, "stages": [{"key": "$where"}]}
    assert [e["node"]["externalId"] for e in data["touchpoints"]["edges"]] == ["t1"]
    assert await db.journeys.count_documents({}) == 2
