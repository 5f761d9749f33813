"""The same repository code on Motor (CX_MONGO_DRIVER=motor, extra `motor`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from service.settings import MongoDriver
from tests.conftest import make_settings, serving
from tests.graphql import RECORD_TOUCHPOINTS, UPSERT_CUSTOMERS, gql_ok

pytest.importorskip("motor", reason="the `motor` extra is not installed")
pytestmark = pytest.mark.motor


@pytest.fixture
async def motor_client(mongo_uri: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(make_settings(mongo_uri, mongo_driver="motor")) as (app, client):
        assert app.state.cx.mongo.driver is MongoDriver.MOTOR
        yield client


def _customers(n: int) -> list[dict[str, object]]:
    return [
        {"source": "crm", "externalId": f"c{i}", "segments": ["smb"], "revenue": 10.0 * i}
        for i in range(n)
    ]


async def test_ingest_resend_and_read_on_motor(motor_client: httpx.AsyncClient) -> None:
    first = await gql_ok(motor_client, UPSERT_CUSTOMERS, {"input": _customers(5)})
    assert [first["upsertCustomers"][k] for k in ("inserted", "unchanged", "rejected")] == [5, 0, 0]
    again = await gql_ok(motor_client, UPSERT_CUSTOMERS, {"input": _customers(5)})
    assert [again["upsertCustomers"][k] for k in ("inserted", "unchanged")] == [0, 5]
    assert again["upsertCustomers"]["dataVersion"] == first["upsertCustomers"]["dataVersion"]

    touchpoints = [
        {"source": "crm", "externalId": f"t{i}", "customer": {"source": "crm", "externalId": "new"},
         "channel": "CHAT", "kind": "chat", "occurredAt": f"2026-05-0{i + 1}T10:00:00Z"}
        for i in range(3)
    ]  # fmt: skip
    recorded = await gql_ok(motor_client, RECORD_TOUCHPOINTS, {"input": touchpoints})
    assert recorded["recordTouchpoints"]["inserted"] == 3

    page = await gql_ok(
        motor_client,
        """{ customer(ref: {source: "crm", externalId: "new"}) { stub
             touchpoints(first: 2) {
               edges { node { externalId } } pageInfo { hasNextPage } } } }""",
    )
    customer = page["customer"]
    assert customer["stub"] is True
    assert [e["node"]["externalId"] for e in customer["touchpoints"]["edges"]] == ["t0", "t1"]
    assert customer["touchpoints"]["pageInfo"]["hasNextPage"] is True
