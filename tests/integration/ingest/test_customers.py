"""upsertCustomers: what is stored, idempotent resends, updates, concurrent identical batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from service.domain.ids import record_id
from tests.graphql import UPSERT_CUSTOMERS, gql_ok
from tests.integration.builders import (
    SOURCE,
    all_docs,
    counts,
    customer,
    data_version,
    ids,
    statuses,
    upsert_customers,
)

CUSTOMER_FIELDS = """id source externalId stub name email segments attributes signedUpAt
churnedAt revenue"""


def batch() -> list[dict[str, Any]]:
    return [
        customer(
            "c1",
            name="Ada",
            email="ada@example.com",
            segments=["vip", "b2b", "vip"],
            attributes={"plan": "gold", "seats": 12, "tags": ["a", "b"]},
            signedUpAt="2025-06-01T08:00:00+02:00",
            revenue=1250.5,
        ),
        customer("c2", name="Bob", segments=["b2c"]),
        customer("c3"),
    ]


async def fetch_customer(client: httpx.AsyncClient, external_id: str) -> dict[str, Any]:
    data = await gql_ok(
        client,
        "query($ref: RecordRefInput) { customer(ref: $ref) { " + CUSTOMER_FIELDS + " } }",
        {"ref": {"source": SOURCE, "externalId": external_id}},
    )
    found: dict[str, Any] = data["customer"]
    return found


async def test_new_customers_are_inserted_and_stored(client: httpx.AsyncClient, db: Any) -> None:
    before = await data_version(client)
    result = await upsert_customers(client, batch())

    assert counts(result) == (3, 0, 0, 0)
    assert statuses(result) == ["INSERTED"] * 3
    assert [r["index"] for r in result["results"]] == [0, 1, 2]
    assert [r["externalId"] for r in result["results"]] == ["c1", "c2", "c3"]
    assert [r["error"] for r in result["results"]] == [None] * 3
    assert ids(result) == [record_id("customers", "default", SOURCE, x) for x in ("c1", "c2", "c3")]
    assert result["dataVersion"] == before + 1

    stored = await db.customers.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert stored["source"] == SOURCE
    assert stored["externalId"] == "c1"
    assert stored["name"] == "Ada"
    assert stored["email"] == "ada@example.com"
    assert stored["segments"] == ["b2b", "vip"]  # deduplicated, sorted
    assert stored["attributes"] == {"plan": "gold", "seats": 12, "tags": ["a", "b"]}
    assert stored["signedUpAt"] == datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
    assert stored["revenue"] == 1250.5
    assert "stub" not in stored
    assert stored["createdAt"] == stored["updatedAt"]
    assert await db.customers.count_documents({}) == 3

    ada = await fetch_customer(client, "c1")
    assert ada == {
        "id": ids(result)[0],
        "source": SOURCE,
        "externalId": "c1",
        "stub": False,
        "name": "Ada",
        "email": "ada@example.com",
        "segments": ["b2b", "vip"],
        "attributes": {"plan": "gold", "seats": 12, "tags": ["a", "b"]},
        "signedUpAt": "2025-06-01T06:00:00+00:00",
        "churnedAt": None,
        "revenue": 1250.5,
    }


async def test_resending_the_same_batch_changes_nothing(client: httpx.AsyncClient, db: Any) -> None:
    first = await upsert_customers(client, batch())
    stored_before = await all_docs(db.customers)
    tenant_before = await db.tenants.find_one({"_id": "default"})

    again = await upsert_customers(client, batch())

    assert counts(again) == (0, 0, 3, 0)
    assert statuses(again) == ["UNCHANGED"] * 3
    assert ids(again) == ids(first)
    assert again["dataVersion"] == first["dataVersion"]
    assert await all_docs(db.customers) == stored_before  # updatedAt and writeId included
    assert await db.tenants.find_one({"_id": "default"}) == tenant_before


async def test_same_instant_with_another_offset_is_unchanged(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1", signedUpAt="2025-06-01T06:00:00Z")])
    stored_before = await all_docs(db.customers)

    again = await upsert_customers(client, [customer("c1", signedUpAt="2025-06-01T09:30:00+03:30")])

    assert statuses(again) == ["UNCHANGED"]
    assert await all_docs(db.customers) == stored_before


async def test_a_changed_record_is_updated(client: httpx.AsyncClient, db: Any) -> None:
    first = await upsert_customers(client, batch())
    before = {d["externalId"]: d for d in await all_docs(db.customers)}
    await asyncio.sleep(0.01)  # so that a new updatedAt is visibly later

    changed = batch()
    changed[1]["name"] = "Robert"
    changed[1]["revenue"] = 99.0
    result = await upsert_customers(client, changed)

    assert counts(result) == (0, 1, 2, 0)
    assert statuses(result) == ["UNCHANGED", "UPDATED", "UNCHANGED"]
    assert ids(result) == ids(first)
    assert result["dataVersion"] == first["dataVersion"] + 1

    after = {d["externalId"]: d for d in await all_docs(db.customers)}
    assert after["c1"] == before["c1"]
    assert after["c3"] == before["c3"]
    bob = after["c2"]
    assert bob["name"] == "Robert"
    assert bob["revenue"] == 99.0
    assert bob["createdAt"] == before["c2"]["createdAt"]
    assert bob["updatedAt"] > before["c2"]["updatedAt"]
    assert bob["contentHash"] != before["c2"]["contentHash"]
    assert await db.customers.count_documents({}) == 3
    assert (await fetch_customer(client, "c2"))["name"] == "Robert"

    # The updated version sent again is now unchanged.
    again = await upsert_customers(client, changed)
    assert counts(again) == (0, 0, 3, 0)
    assert again["dataVersion"] == result["dataVersion"]


async def test_a_change_of_segments_is_stored(client: httpx.AsyncClient, db: Any) -> None:
    await upsert_customers(client, [customer("c1", segments=["basic"])])

    result = await upsert_customers(client, [customer("c1", segments=["premium", "b2b"])])

    assert statuses(result) == ["UPDATED"]
    stored = await db.customers.find_one({"externalId": "c1"})
    assert stored is not None
    assert stored["segments"] == ["b2b", "premium"]
    assert (await fetch_customer(client, "c1"))["segments"] == ["b2b", "premium"]


async def test_clearing_an_optional_field_is_an_update(client: httpx.AsyncClient, db: Any) -> None:
    await upsert_customers(client, [customer("c1", name="Ada", email="ada@example.com")])

    result = await upsert_customers(client, [customer("c1", name="Ada")])

    assert statuses(result) == ["UPDATED"]
    stored = await db.customers.find_one({"externalId": "c1"})
    assert stored is not None
    assert stored["email"] is None
    assert stored["name"] == "Ada"


async def test_same_external_id_in_two_sources_is_two_customers(
    client: httpx.AsyncClient, db: Any
) -> None:
    result = await upsert_customers(
        client,
        [
            {"source": "crm", "externalId": "42", "name": "From CRM"},
            {"source": "shop", "externalId": "42", "name": "From shop"},
        ],
    )

    assert counts(result) == (2, 0, 0, 0)
    assert ids(result)[0] != ids(result)[1]
    names = {d["source"]: d["name"] for d in await all_docs(db.customers)}
    assert names == {"crm": "From CRM", "shop": "From shop"}


async def test_concurrent_identical_batches_store_each_record_once(
    client: httpx.AsyncClient, db: Any
) -> None:
    records = [customer(f"c{i:02d}", name=f"Customer {i}", segments=["s"]) for i in range(20)]
    variables = {"input": records}

    first, second = await asyncio.gather(
        gql_ok(client, UPSERT_CUSTOMERS, variables), gql_ok(client, UPSERT_CUSTOMERS, variables)
    )
    a, b = first["upsertCustomers"], second["upsertCustomers"]

    assert a["inserted"] + b["inserted"] == 20
    assert a["unchanged"] + b["unchanged"] == 20
    assert a["updated"] + b["updated"] == 0
    assert a["rejected"] + b["rejected"] == 0
    for i in range(20):  # each record: inserted by exactly one batch, unchanged in the other
        assert {a["results"][i]["status"], b["results"][i]["status"]} == {"INSERTED", "UNCHANGED"}
        assert a["results"][i]["id"] == b["results"][i]["id"]
    assert await db.customers.count_documents({}) == 20
    assert sorted(d["externalId"] for d in await all_docs(db.customers)) == [
        f"c{i:02d}" for i in range(20)
    ]
