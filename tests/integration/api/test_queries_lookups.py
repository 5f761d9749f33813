"""Journey definitions and single-customer lookups."""

from __future__ import annotations

from typing import Any

import httpx

from tests.graphql import DEFINE_JOURNEY, error_codes, gql, gql_ok
from tests.integration.builders import (
    JOURNEY,
    customer,
    data_version,
    define_journey,
    record_touchpoints,
    ref,
    rejection,
    statuses,
    touchpoint,
    upsert_customers,
)

JOURNEY_FIELDS = "key name stages { key name phase order }"
BILLING = {
    "key": "billing",
    "name": "Billing",
    "stages": [
        {"key": "invoice", "name": "Invoice", "phase": "POST_PURCHASE"},
        {"key": "dunning", "name": "Dunning", "phase": "POST_PURCHASE"},
    ],
}


def expected_journey(journey: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": journey["key"],
        "name": journey["name"],
        "stages": [{**s, "order": i} for i, s in enumerate(journey["stages"])],
    }


async def test_journeys_return_their_stages_in_the_order_defined(
    client: httpx.AsyncClient, db: Any
) -> None:
    assert (await gql_ok(client, "{ journeys { key } }"))["journeys"] == []

    defined = await define_journey(client, JOURNEY)
    await define_journey(client, BILLING)

    assert defined == expected_journey(JOURNEY)
    data = await gql_ok(
        client,
        "{ journeys { "
        + JOURNEY_FIELDS
        + ' } one: journey(key: "onboarding") { '
        + JOURNEY_FIELDS
        + ' } missing: journey(key: "nope") { key } }',
    )
    assert data["journeys"] == [expected_journey(BILLING), expected_journey(JOURNEY)]
    assert data["one"] == expected_journey(JOURNEY)
    assert [s["key"] for s in data["one"]["stages"]] == ["signup", "checkout", "support"]
    assert data["missing"] is None
    assert await db.journeys.count_documents({}) == 2


async def test_redefining_a_journey_unchanged_does_not_bump_the_data_version(
    client: httpx.AsyncClient, db: Any
) -> None:
    await define_journey(client, JOURNEY)
    version = await data_version(client)
    stored = await db.journeys.find_one({"key": "onboarding"})

    again = await define_journey(client, JOURNEY)

    assert again == expected_journey(JOURNEY)
    assert await data_version(client) == version
    assert await db.journeys.find_one({"key": "onboarding"}) == stored


async def test_redefining_a_journey_replaces_its_stages(client: httpx.AsyncClient, db: Any) -> None:
    await define_journey(client, JOURNEY)
    version = await data_version(client)
    reordered = {
        "key": "onboarding",
        "name": "Onboarding v2",
        "stages": [
            {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
            {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
        ],
    }

    redefined = await define_journey(client, reordered)

    assert redefined == expected_journey(reordered)
    assert await data_version(client) == version + 1
    assert await db.journeys.count_documents({}) == 1
    data = await gql_ok(client, '{ journey(key: "onboarding") { ' + JOURNEY_FIELDS + " } }")
    assert data["journey"] == expected_journey(reordered)

    # The dropped stage is no longer a valid stage of that journey.
    result = await record_touchpoints(
        client,
        [
            touchpoint("t1", journey="onboarding", stage="support"),
            touchpoint("t2", journey="onboarding", stage="checkout"),
        ],
    )
    assert statuses(result) == ["REJECTED", "INSERTED"]
    assert rejection(result, 0) == ("UNKNOWN_STAGE", "stage")


async def test_an_invalid_journey_is_refused(client: httpx.AsyncClient, db: Any) -> None:
    twice = {
        "key": "dup",
        "name": "Dup",
        "stages": [
            {"key": "a", "name": "A", "phase": "PURCHASE"},
            {"key": "a", "name": "A again", "phase": "PURCHASE"},
        ],
    }
    for journey, reason, field in (
        (twice, "DUPLICATE_STAGE", "stages[1].key"),
        ({"key": "empty", "name": "Empty", "stages": []}, "REQUIRED", "stages"),
        ({**BILLING, "key": ""}, "REQUIRED", "key"),
    ):
        body = await gql(client, DEFINE_JOURNEY, {"input": journey})
        assert error_codes(body) == ["BAD_USER_INPUT"]  # one error: the semantic check
        assert body["errors"][0]["extensions"]["reason"] == reason
        assert body["errors"][0]["extensions"]["field"] == field

    # A stage without its name and phase: GraphQL reports each missing field.
    body = await gql(client, DEFINE_JOURNEY, {"input": {**BILLING, "stages": [{"key": "x"}]}})
    assert error_codes(body) == ["BAD_USER_INPUT", "BAD_USER_INPUT"]
    assert await db.journeys.count_documents({}) == 0


LOOKUP = """query($id: ID, $ref: RecordRefInput) {
    customer(id: $id, ref: $ref) { id source externalId name stub } }"""


async def test_a_customer_by_id_and_by_ref(client: httpx.AsyncClient) -> None:
    result = await upsert_customers(client, [customer("c1", name="Ada"), customer("c2")])
    ada_id = result["results"][0]["id"]
    expected = {"id": ada_id, "source": "crm", "externalId": "c1", "name": "Ada", "stub": False}

    by_id = await gql_ok(client, LOOKUP, {"id": ada_id})
    by_ref = await gql_ok(client, LOOKUP, {"ref": ref("c1")})

    assert by_id["customer"] == expected
    assert by_ref["customer"] == expected
    assert (await gql_ok(client, LOOKUP, {"id": "cus_000000000000000000000000"}))[
        "customer"
    ] is None
    assert (await gql_ok(client, LOOKUP, {"ref": ref("c1", source="shop")}))["customer"] is None
    assert (await gql_ok(client, LOOKUP, {"ref": ref("nobody")}))["customer"] is None


async def test_a_customer_needs_exactly_one_of_id_and_ref(client: httpx.AsyncClient) -> None:
    result = await upsert_customers(client, [customer("c1")])
    both = {"id": result["results"][0]["id"], "ref": ref("c1")}

    for variables in (both, {}):
        body = await gql(client, LOOKUP, variables)
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert body["data"] == {"customer": None}

    body = await gql(client, LOOKUP, {"ref": {"source": "crm"}})  # incomplete ref
    assert error_codes(body) == ["BAD_USER_INPUT"]
