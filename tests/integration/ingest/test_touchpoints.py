"""recordTouchpoints: stored documents, idempotency, stub customers and segment snapshots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.domain.ids import record_id
from tests.graphql import RECORD_TOUCHPOINTS, gql_ok
from tests.integration.builders import (
    SOURCE,
    all_docs,
    at,
    counts,
    customer,
    define_journey,
    ids,
    record_touchpoints,
    ref,
    statuses,
    touchpoint,
    upsert_customers,
)

TOUCHPOINT_FIELDS = """id source externalId customerId customerRef { source externalId }
segments journey stage channel kind occurredAt caseId resolved component
customer { externalId stub segments }"""


@pytest.fixture(autouse=True)
async def journey(client: httpx.AsyncClient) -> None:
    await define_journey(client)


async def fetch_touchpoints(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    data = await gql_ok(
        client, "query { touchpoints(first: 500) { edges { node { " + TOUCHPOINT_FIELDS + " } } } }"
    )
    return [e["node"] for e in data["touchpoints"]["edges"]]


def support_call(external_id: str, customer_id: str = "c1") -> dict[str, Any]:
    return touchpoint(
        external_id,
        customer_id,
        occurred_at="2026-03-01T11:30:00.250+01:30",
        channel="PHONE",
        kind="support_call",
        journey="onboarding",
        stage="support",
        caseId="case-7",
        resolved=True,
        component="PEOPLE",
    )


async def test_a_touchpoint_is_stored_with_its_customers_segments(
    client: httpx.AsyncClient, db: Any
) -> None:
    known = await upsert_customers(client, [customer("c1", segments=["vip"])])

    result = await record_touchpoints(client, [support_call("t1")])

    assert counts(result) == (1, 0, 0, 0)
    assert ids(result) == [record_id("touchpoints", "default", SOURCE, "t1")]
    assert result["dataVersion"] == known["dataVersion"] + 1
    stored = await db.touchpoints.find_one({"_id": ids(result)[0]})
    assert stored is not None
    assert {k: stored[k] for k in stored if k not in ("writeId", "createdAt", "updatedAt")} == {
        "_id": ids(result)[0],
        "tenant": "default",
        "source": SOURCE,
        "externalId": "t1",
        "contentHash": stored["contentHash"],
        "customerId": ids(known)[0],
        "customerRef": {"source": SOURCE, "externalId": "c1"},
        "segments": ["vip"],
        "journey": "onboarding",
        "stage": "support",
        "channel": "PHONE",
        "kind": "support_call",
        "occurredAt": datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC),
        "caseId": "case-7",
        "resolved": True,
        "component": "PEOPLE",
    }
    assert await db.customers.count_documents({}) == 1  # no stub for a known customer

    assert await fetch_touchpoints(client) == [
        {
            "id": ids(result)[0],
            "source": SOURCE,
            "externalId": "t1",
            "customerId": ids(known)[0],
            "customerRef": {"source": SOURCE, "externalId": "c1"},
            "segments": ["vip"],
            "journey": "onboarding",
            "stage": "support",
            "channel": "PHONE",
            "kind": "support_call",
            "occurredAt": "2026-03-01T10:00:00.250000+00:00",
            "caseId": "case-7",
            "resolved": True,
            "component": "PEOPLE",
            "customer": {"externalId": "c1", "stub": False, "segments": ["vip"]},
        }
    ]


async def test_resending_touchpoints_changes_nothing(client: httpx.AsyncClient, db: Any) -> None:
    records = [support_call("t1"), touchpoint("t2", "c2", occurred_at=at(5))]
    first = await record_touchpoints(client, records)
    touchpoints_before = await all_docs(db.touchpoints)
    customers_before = await all_docs(db.customers)

    again = await record_touchpoints(client, records)

    assert counts(again) == (0, 0, 2, 0)
    assert ids(again) == ids(first)
    assert again["dataVersion"] == first["dataVersion"]
    assert await all_docs(db.touchpoints) == touchpoints_before
    assert await all_docs(db.customers) == customers_before


async def test_a_changed_touchpoint_is_updated_and_keeps_its_snapshot(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1", segments=["vip"])])
    first = await record_touchpoints(client, [support_call("t1")])
    before = await db.touchpoints.find_one({"externalId": "t1"})
    assert before is not None
    await asyncio.sleep(0.01)

    changed = support_call("t1")
    changed["resolved"] = False
    changed["stage"] = "checkout"
    result = await record_touchpoints(client, [changed])

    assert counts(result) == (0, 1, 0, 0)
    assert ids(result) == ids(first)
    assert result["dataVersion"] == first["dataVersion"] + 1
    after = await db.touchpoints.find_one({"externalId": "t1"})
    assert after is not None
    assert after["resolved"] is False
    assert after["stage"] == "checkout"
    assert after["segments"] == ["vip"]
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]
    assert await db.touchpoints.count_documents({}) == 1


async def test_touchpoint_of_an_unknown_customer_creates_a_stub(
    client: httpx.AsyncClient, db: Any
) -> None:
    result = await record_touchpoints(client, [touchpoint("t1", "late")])

    assert statuses(result) == ["INSERTED"]
    stub_id = record_id("customers", "default", SOURCE, "late")
    stub = await db.customers.find_one({"_id": stub_id})
    assert stub is not None
    assert stub["stub"] is True
    assert stub["segments"] == []
    assert (stub["source"], stub["externalId"]) == (SOURCE, "late")
    stored = await db.touchpoints.find_one({"externalId": "t1"})
    assert stored is not None
    assert stored["customerId"] == stub_id
    assert stored["segments"] == []
    assert stored["segmentsPending"] is True

    data = await gql_ok(
        client,
        "query($ref: RecordRefInput) { customer(ref: $ref) { id stub segments name "
        "touchpoints { edges { node { externalId } } } } }",
        {"ref": ref("late")},
    )
    assert data["customer"] == {
        "id": stub_id,
        "stub": True,
        "segments": [],
        "name": None,
        "touchpoints": {"edges": [{"node": {"externalId": "t1"}}]},
    }

    # A second touchpoint of the same stub does not create another customer.
    more = await record_touchpoints(client, [touchpoint("t2", "late", occurred_at=at(1))])
    assert statuses(more) == ["INSERTED"]
    assert await db.customers.count_documents({}) == 1


async def test_the_customer_record_arriving_later_fills_the_pending_snapshots(
    client: httpx.AsyncClient, db: Any
) -> None:
    early = await record_touchpoints(
        client, [touchpoint("t1", "late"), touchpoint("t2", "late", occurred_at=at(1))]
    )
    assert counts(early) == (2, 0, 0, 0)

    arrived = await upsert_customers(client, [customer("late", name="Late", segments=["vip"])])

    assert counts(arrived) == (1, 0, 0, 0)  # the stub does not count as an existing record
    assert statuses(arrived) == ["INSERTED"]
    assert arrived["dataVersion"] == early["dataVersion"] + 1
    stored = await db.customers.find_one({"externalId": "late"})
    assert stored is not None
    assert "stub" not in stored
    assert stored["name"] == "Late"
    assert stored["segments"] == ["vip"]
    assert await db.customers.count_documents({}) == 1
    for tp in await all_docs(db.touchpoints):
        assert tp["segments"] == ["vip"]
        assert "segmentsPending" not in tp
    nodes = await fetch_touchpoints(client)
    assert [n["segments"] for n in nodes] == [["vip"], ["vip"]]
    assert [n["customer"] for n in nodes] == [
        {"externalId": "late", "stub": False, "segments": ["vip"]}
    ] * 2

    # Both sent again: nothing changes anywhere.
    touchpoints_before = await all_docs(db.touchpoints)
    resent_customer = await upsert_customers(
        client, [customer("late", name="Late", segments=["vip"])]
    )
    resent_touchpoints = await record_touchpoints(
        client, [touchpoint("t1", "late"), touchpoint("t2", "late", occurred_at=at(1))]
    )
    assert statuses(resent_customer) == ["UNCHANGED"]
    assert statuses(resent_touchpoints) == ["UNCHANGED", "UNCHANGED"]
    assert resent_touchpoints["dataVersion"] == arrived["dataVersion"]
    assert await all_docs(db.touchpoints) == touchpoints_before


async def test_a_later_change_of_segments_does_not_change_a_recorded_snapshot(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1", segments=["basic"])])
    await record_touchpoints(client, [touchpoint("t1", "c1")])

    changed = await upsert_customers(client, [customer("c1", segments=["premium"])])
    later = await record_touchpoints(client, [touchpoint("t2", "c1", occurred_at=at(1))])

    assert statuses(changed) == ["UPDATED"]
    assert statuses(later) == ["INSERTED"]
    snapshots = {d["externalId"]: d["segments"] for d in await all_docs(db.touchpoints)}
    assert snapshots == {"t1": ["basic"], "t2": ["premium"]}


async def test_concurrent_identical_touchpoint_batches_store_each_once(
    client: httpx.AsyncClient, db: Any
) -> None:
    # Ten customers, none known yet: the two batches also race to create their stubs.
    records = [touchpoint(f"t{i:02d}", f"c{i % 10}", occurred_at=at(i)) for i in range(20)]
    variables = {"input": records}

    first, second = await asyncio.gather(
        gql_ok(client, RECORD_TOUCHPOINTS, variables), gql_ok(client, RECORD_TOUCHPOINTS, variables)
    )
    a, b = first["recordTouchpoints"], second["recordTouchpoints"]

    assert a["inserted"] + b["inserted"] == 20
    assert a["unchanged"] + b["unchanged"] == 20
    assert a["updated"] + b["updated"] == 0
    assert a["rejected"] + b["rejected"] == 0
    for i in range(20):
        assert {a["results"][i]["status"], b["results"][i]["status"]} == {"INSERTED", "UNCHANGED"}
    assert await db.touchpoints.count_documents({}) == 20
    assert await db.customers.count_documents({}) == 10
    assert await db.customers.count_documents({"stub": True}) == 10
