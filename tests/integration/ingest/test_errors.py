"""Rejections: per-record codes while the rest of the batch lands, oversized batches, and
GraphQL type errors that refuse the whole request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from service.settings import Settings
from tests.graphql import (
    RECORD_TOUCHPOINTS,
    SUBMIT_RESPONSES,
    UPSERT_CUSTOMERS,
    error_codes,
    gql,
    gql_ok,
)
from tests.integration.builders import (
    answer,
    at,
    counts,
    customer,
    data_version,
    define_journey,
    nps,
    rejection,
    response,
    statuses,
    touchpoint,
)

MUTATIONS = {
    "customers": (UPSERT_CUSTOMERS, "upsertCustomers"),
    "touchpoints": (RECORD_TOUCHPOINTS, "recordTouchpoints"),
    "survey_responses": (SUBMIT_RESPONSES, "submitSurveyResponses"),
}
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "customers": lambda x, **f: customer(x, **f),
    "touchpoints": lambda x, **f: touchpoint(x, "c1", **f),
    "survey_responses": lambda x, **f: response(x, "c1", **f),
}


@pytest.fixture(autouse=True)
async def journey(client: httpx.AsyncClient) -> None:
    await define_journey(client)


def _tp(**fields: Any) -> dict[str, Any]:
    return touchpoint("bad", "c1", **fields)


def _sr(*answers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return response("bad", "c1", answers=list(answers), **fields)


SEMANTIC_CASES = [
    # (collection, the bad record, code, field)
    ("survey_responses", _sr(answer("CSAT", 6, 1, 5)), "VALUE_OUT_OF_SCALE", "answers[0].value"),
    ("survey_responses", _sr(answer("CSAT", 0, 1, 5)), "VALUE_OUT_OF_SCALE", "answers[0].value"),
    ("survey_responses", _sr(nps(9), nps(11)), "VALUE_OUT_OF_SCALE", "answers[1].value"),
    ("survey_responses", _sr(answer("CSAT", 3, 5, 5)), "INVALID_SCALE", "answers[0].scaleMax"),
    ("survey_responses", _sr(answer("CSAT", 3, 5, 1)), "INVALID_SCALE", "answers[0].scaleMax"),
    ("survey_responses", _sr(answer("NPS", 4, 1, 5)), "INVALID_NPS_SCALE", "answers[0].scaleMin"),
    ("survey_responses", _sr(answer("NPS", 4, 0, 5)), "INVALID_NPS_SCALE", "answers[0].scaleMin"),
    (
        "survey_responses",
        _sr(nps(8), answer("COMPONENT", 4, 1, 5)),
        "MISSING_COMPONENT",
        "answers[1].component",
    ),
    ("survey_responses", _sr(), "REQUIRED", "answers"),
    (
        "survey_responses",
        _sr(nps(9), submitted_at="2026-03-01T10:00:00"),
        "MISSING_UTC_OFFSET",
        "submittedAt",
    ),
    ("touchpoints", _tp(occurred_at="2026-03-01T10:00:00"), "MISSING_UTC_OFFSET", "occurredAt"),
    (
        "customers",
        customer("bad", signedUpAt="2026-03-01T10:00:00"),
        "MISSING_UTC_OFFSET",
        "signedUpAt",
    ),
    ("touchpoints", _tp(journey="nope"), "UNKNOWN_JOURNEY", "journey"),
    ("survey_responses", _sr(nps(9), journey="nope"), "UNKNOWN_JOURNEY", "journey"),
    ("touchpoints", _tp(journey="onboarding", stage="nope"), "UNKNOWN_STAGE", "stage"),
    (
        "survey_responses",
        _sr(nps(9), journey="onboarding", stage="nope"),
        "UNKNOWN_STAGE",
        "stage",
    ),
    ("touchpoints", _tp(stage="signup"), "STAGE_WITHOUT_JOURNEY", "stage"),
    ("customers", customer("bad", name="x" * 1001), "STRING_TOO_LONG", "name"),
    ("touchpoints", _tp(kind="k" * 1001), "STRING_TOO_LONG", "kind"),
    ("survey_responses", _sr(nps(9), comment="c" * 5001), "STRING_TOO_LONG", "comment"),
    (
        "customers",
        customer("bad", attributes={"blob": "x" * 17_000}),
        "ATTRIBUTES_TOO_LARGE",
        "attributes",
    ),
    ("customers", customer("bad", revenue=-1.0), "NEGATIVE_VALUE", "revenue"),
    ("customers", customer("bad", segments=["ok", " "]), "REQUIRED", "segments[1]"),
    ("customers", customer(""), "REQUIRED", "externalId"),
    ("customers", customer("   "), "REQUIRED", "externalId"),
    ("customers", {"source": "", "externalId": "bad"}, "REQUIRED", "source"),
    ("touchpoints", touchpoint("", "c1"), "REQUIRED", "externalId"),
    ("touchpoints", touchpoint("bad", ""), "REQUIRED", "customer.externalId"),
    ("survey_responses", response("", "c1"), "REQUIRED", "externalId"),
]


@pytest.mark.parametrize(
    ("collection", "bad", "code", "field"),
    SEMANTIC_CASES,
    ids=[f"{c[0]}-{c[2]}-{c[3]}-{i}" for i, c in enumerate(SEMANTIC_CASES)],
)
async def test_a_bad_record_is_rejected_while_the_valid_ones_land(
    client: httpx.AsyncClient, db: Any, collection: str, bad: dict[str, Any], code: str, field: str
) -> None:
    build = BUILDERS[collection]
    records = [build("ok1"), bad, build("ok2")]
    query, name = MUTATIONS[collection]

    result = (await gql_ok(client, query, {"input": records}))[name]

    assert statuses(result) == ["INSERTED", "REJECTED", "INSERTED"]
    assert counts(result) == (2, 0, 0, 1)
    assert rejection(result, 1) == (code, field)
    assert result["results"][1]["externalId"] == bad["externalId"]
    assert result["results"][1]["error"]["message"]
    stored = await db[collection].find({}).to_list(None)
    assert sorted(d["externalId"] for d in stored) == ["ok1", "ok2"]
    assert sorted(d["_id"] for d in stored) == sorted(
        r["id"] for r in result["results"] if r["id"] is not None
    )


async def test_the_longest_allowed_name_is_accepted(
    client: httpx.AsyncClient, db: Any, settings: Settings
) -> None:
    limit = settings.max_string_length
    data = await gql_ok(
        client,
        UPSERT_CUSTOMERS,
        {"input": [customer("max", name="x" * limit), customer("over", name="x" * (limit + 1))]},
    )
    result = data["upsertCustomers"]

    assert statuses(result) == ["INSERTED", "REJECTED"]
    assert rejection(result, 1) == ("STRING_TOO_LONG", "name")
    stored = await db.customers.find_one({"externalId": "max"})
    assert stored is not None
    assert len(stored["name"]) == limit
    assert await db.customers.count_documents({}) == 1


async def test_a_duplicate_inside_a_batch_rejects_every_occurrence(
    client: httpx.AsyncClient, db: Any
) -> None:
    data = await gql_ok(
        client,
        UPSERT_CUSTOMERS,
        {
            "input": [
                customer("c1", name="first version"),
                customer("c2"),
                customer("c1", name="second version"),
                {"source": "shop", "externalId": "c1"},  # another source: not a duplicate
            ]
        },
    )
    result = data["upsertCustomers"]

    assert statuses(result) == ["REJECTED", "INSERTED", "REJECTED", "INSERTED"]
    assert counts(result) == (2, 0, 0, 2)
    assert rejection(result, 0) == ("DUPLICATE_IN_BATCH", "externalId")
    assert rejection(result, 2) == ("DUPLICATE_IN_BATCH", "externalId")
    assert [result["results"][i]["externalId"] for i in (0, 2)] == ["c1", "c1"]
    stored = await db.customers.find({}).to_list(None)
    assert sorted((d["source"], d["externalId"]) for d in stored) == [("crm", "c2"), ("shop", "c1")]


async def test_duplicate_touchpoints_in_a_batch_are_rejected(
    client: httpx.AsyncClient, db: Any
) -> None:
    data = await gql_ok(
        client,
        RECORD_TOUCHPOINTS,
        {"input": [touchpoint("t1"), touchpoint("t1", occurred_at=at(1)), touchpoint("t2")]},
    )
    result = data["recordTouchpoints"]

    assert statuses(result) == ["REJECTED", "REJECTED", "INSERTED"]
    assert rejection(result, 0) == ("DUPLICATE_IN_BATCH", "externalId")
    assert rejection(result, 1) == ("DUPLICATE_IN_BATCH", "externalId")
    assert [d["externalId"] for d in await db.touchpoints.find({}).to_list(None)] == ["t2"]


async def test_a_batch_of_only_rejections_does_not_bump_the_data_version(
    client: httpx.AsyncClient, db: Any
) -> None:
    before = await data_version(client)
    data = await gql_ok(client, RECORD_TOUCHPOINTS, {"input": [_tp(journey="nope")]})

    assert counts(data["recordTouchpoints"]) == (0, 0, 0, 1)
    assert data["recordTouchpoints"]["dataVersion"] == before
    assert await db.touchpoints.count_documents({}) == 0


# --- whole-request refusals -------------------------------------------------------------


@pytest.mark.parametrize("collection", ["customers", "touchpoints", "survey_responses"])
async def test_a_batch_over_the_limit_is_refused_whole(
    small_app: Starlette, small_client: httpx.AsyncClient, collection: str
) -> None:
    db = small_app.state.cx.mongo.db
    build = BUILDERS[collection]
    query, name = MUTATIONS[collection]

    body = await gql(small_client, query, {"input": [build(f"x{i}") for i in range(6)]})

    assert error_codes(body) == ["BATCH_TOO_LARGE"]
    assert body["errors"][0]["extensions"]["limit"] == 5
    assert body["errors"][0]["extensions"]["received"] == 6
    assert body["data"] is None
    for stored in ("customers", "touchpoints", "survey_responses"):
        assert await db[stored].count_documents({}) == 0  # not even stub customers
    assert await db.tenants.count_documents({}) == 0

    # Exactly the limit is accepted.
    accepted = (await gql_ok(small_client, query, {"input": [build(f"x{i}") for i in range(5)]}))[
        name
    ]
    assert counts(accepted) == (5, 0, 0, 0)
    assert await db[collection].count_documents({}) == 5


TYPE_ERROR_CASES = [
    # (collection, the invalid record) — each fails GraphQL variable coercion
    ("survey_responses", response("bad", answers=[answer("CSAT", "ten", 1, 5)])),
    ("survey_responses", response("bad", answers=[{**nps(9), "scaleMax": 10.5}])),
    ("survey_responses", response("bad", answers=[{**nps(9), "metric": "HAPPINESS"}])),
    ("touchpoints", touchpoint("bad", channel="FAX")),
    ("touchpoints", touchpoint("bad", occurred_at="yesterday")),
    ("touchpoints", {k: v for k, v in touchpoint("bad").items() if k != "kind"}),
    ("touchpoints", touchpoint("bad", resolved="yes")),
    ("touchpoints", {**touchpoint("bad"), "customer": "c1"}),
    ("customers", customer("bad", colour="blue")),
    ("customers", {"externalId": "bad"}),
    ("customers", customer("bad", revenue="lots")),
    ("customers", customer(None)),
]


@pytest.mark.parametrize(
    ("collection", "bad"),
    TYPE_ERROR_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(TYPE_ERROR_CASES)],
)
async def test_a_wrong_graphql_type_refuses_the_request(
    client: httpx.AsyncClient, db: Any, collection: str, bad: dict[str, Any]
) -> None:
    build = BUILDERS[collection]
    query, _ = MUTATIONS[collection]
    before = await data_version(client)

    body = await gql(client, query, {"input": [build("ok1"), bad]})

    assert error_codes(body) and set(error_codes(body)) == {"BAD_USER_INPUT"}
    assert body.get("data") is None
    for stored in ("customers", "touchpoints", "survey_responses"):
        assert await db[stored].count_documents({}) == 0
    assert await data_version(client) == before
