"""metric.threshold: judged after writes settle, fired when the condition becomes true (not
on every write while it holds), re-armed once it is false; the value it reports is the one
pandas computes from the records sent (tests/oracle)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import http_client
from tests.graphql import gql_ok
from tests.integration.builders import customer, nps, response, submit_responses, upsert_customers
from tests.integration.webhooks.support import (
    SECRET,
    Receiver,
    fast,
    receiving,
    recent,
    signature_is_valid,
    started,
)
from tests.oracle import metrics as oracle
from tests.oracle.dataset import Dataset

DEFINE = """mutation($url: String!, $secret: String!, $thresholds: [MetricThresholdInput!]) {
  defineWebhook(url: $url, events: ["metric.threshold"], secret: $secret,
                thresholds: $thresholds) { id } }"""
STATE = """{ webhooks { id enabled thresholds { key kind operator value windowDays minSample
  filter { segments journeys } state { met value n dataVersion timesMet error } } } }"""
NPS_BELOW_ZERO = {"kind": "NPS", "filter": {"segments": ["vip"]}, "operator": "BELOW",
                  "value": 0, "windowDays": 7, "minSample": 3}  # fmt: skip


@pytest.fixture
async def app(mongo_uri: str) -> AsyncIterator[Starlette]:
    async with started(fast(mongo_uri)) as application:
        yield application


async def define(client: httpx.AsyncClient, url: str, thresholds: list[Any]) -> dict[str, Any]:
    variables = {"url": url, "secret": SECRET, "thresholds": thresholds}
    hook: dict[str, Any] = (await gql_ok(client, DEFINE, variables))["defineWebhook"]
    return hook


class Tenant:
    """What one tenant sent, for the oracle."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.customers = [customer("v1", segments=["vip"]), customer("v2", segments=["vip"]),
                          customer("s1", segments=["standard"])]  # fmt: skip
        self.responses: list[dict[str, Any]] = []

    async def start(self) -> int:
        written = await upsert_customers(self.client, self.customers)
        version: int = written["dataVersion"]
        return version

    async def answer(self, who: str, *scores: int) -> int:
        batch = [response(f"r{len(self.responses) + i}", who, submitted_at=recent(30 - i),
                          answers=[nps(s)]) for i, s in enumerate(scores)]  # fmt: skip
        self.responses += batch
        written = await submit_responses(self.client, batch)
        version: int = written["dataVersion"]
        return version

    def nps(self, window: dict[str, str]) -> dict[str, Any]:
        ds = Dataset(customers=self.customers, responses=self.responses)
        span = (datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"]))
        return oracle.metric(ds, "NPS", span, {"segments": ["vip"]}, min_sample=30)


async def judged(client: httpx.AsyncClient, version: int, timeout_s: float = 60.0) -> Any:
    """The threshold's state once it was judged at ``version`` or later."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        (hook,) = (await gql_ok(client, STATE))["webhooks"]
        (threshold,) = hook["thresholds"]
        state = threshold["state"]
        if state is not None and state["dataVersion"] >= version:
            return threshold
        assert asyncio.get_running_loop().time() < deadline, threshold
        await asyncio.sleep(0.05)


async def quiet(receiver: Receiver, count: int) -> None:
    """Nothing beyond ``count`` deliveries arrives (a few worker polls later)."""
    await asyncio.sleep(0.5)
    assert len(receiver.received) == count


async def test_a_threshold_fires_when_it_becomes_true_and_again_only_after_it_was_false(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = Tenant(client)
    with receiving() as receiver:
        version = await tenant.start()
        await define(client, receiver.url, [NPS_BELOW_ZERO])
        threshold = await judged(client, version)
        assert threshold["state"] == {
            "met": None,
            "value": None,
            "n": 0,
            "dataVersion": version,
            "timesMet": 0,
            "error": None,
        }
        assert {
            k: threshold[k] for k in ("kind", "operator", "value", "windowDays", "minSample")
        } == {"kind": "NPS", "operator": "BELOW", "value": 0.0, "windowDays": 7, "minSample": 3}
        assert threshold["filter"] == {"segments": ["vip"], "journeys": None}

        # promoters among the VIPs, detractors elsewhere: the filter keeps it false
        await tenant.answer("v1", 10, 9, 9)
        version = await tenant.answer("s1", 0, 1, 2, 3)
        assert (await judged(client, version))["state"]["met"] is False
        await quiet(receiver, 0)

        version = await tenant.answer("v2", 0, 2, 4, 6, 6)  # NPS -25 among 8 VIPs: true
        (fired,) = await receiver.wait_for(1)
        state = (await judged(client, version))["state"]
        assert (state["met"], state["timesMet"]) == (True, 1)

        assert signature_is_valid(fired.headers["cxgraph-signature"], SECRET, fired.body)
        assert fired.headers["cxgraph-event"] == "metric.threshold"
        payload = fired.payload
        assert payload["type"] == "metric.threshold" and payload["id"] == fired.key
        assert payload["dataVersion"] == version
        data = payload["data"]
        assert data["episode"] == 1
        assert data["threshold"] == {
            "key": threshold["key"],
            **{k: v for k, v in NPS_BELOW_ZERO.items()},
            "filter": {"segments": ["vip"]},
        }
        expected = tenant.nps(data["result"]["window"])
        assert data["result"]["n"] == expected["n"] == 8
        assert abs(data["result"]["value"] - expected["value"]) < 1e-9
        assert expected["value"] < 0
        assert data["result"]["window"]["timezone"] == "UTC"

        version = await tenant.answer("v1", 5)  # still below: no second event
        assert (await judged(client, version))["state"]["met"] is True
        await quiet(receiver, 1)

        version = await tenant.answer("v1", *[10] * 12)  # above again: re-armed, no event
        state = (await judged(client, version))["state"]
        assert (state["met"], state["timesMet"]) == (False, 1)
        await quiet(receiver, 1)

        version = await tenant.answer("v2", *[0] * 20)  # below again: a second event
        first, second = await receiver.wait_for(2)
        state = (await judged(client, version))["state"]
        assert (state["met"], state["timesMet"]) == (True, 2)
        assert second.payload["data"]["episode"] == 2 and second.key != first.key
        expected = tenant.nps(second.payload["data"]["result"]["window"])
        assert second.payload["data"]["result"]["n"] == expected["n"] == 41
        assert abs(second.payload["data"]["result"]["value"] - expected["value"]) < 1e-9


async def test_too_few_answers_leave_the_judgement_as_it_was(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = Tenant(client)
    with receiving() as receiver:
        await tenant.start()
        await define(client, receiver.url, [{**NPS_BELOW_ZERO, "minSample": 5}])
        version = await tenant.answer("v1", 0, 0, 0, 0)  # 4 answers, all detractors
        state = (await judged(client, version))["state"]
        assert (state["met"], state["n"], state["value"]) == (None, 4, -100.0)
        await quiet(receiver, 0)
        await tenant.answer("v1", 0)
        (fired,) = await receiver.wait_for(1)
        assert fired.payload["data"]["result"]["n"] == 5


async def test_a_burst_of_writes_fires_once_and_other_tenants_are_not_seen(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    tenant = Tenant(client)
    with receiving() as receiver:
        await tenant.start()
        await define(client, receiver.url, [NPS_BELOW_ZERO])
        async with http_client(app, tenant="other") as other_client:
            other = Tenant(other_client)
            await other.start()
            await other.answer("v1", *[0] * 10)  # another tenant's VIPs: not ours
            versions = [await tenant.answer("v1", 0, 0, 0) for _ in range(4)]
        (fired,) = await receiver.wait_for(1)
        await judged(client, versions[-1])
        await quiet(receiver, 1)
    # judged once the burst settled, or part-way through it (writes go on while a check
    # runs): every VIP answer is a detractor, so the value is exact whatever n it saw
    result = fired.payload["data"]["result"]
    assert (result["value"], result["n"] in (3, 6, 9, 12)) == (-100.0, True)
    assert fired.payload["dataVersion"] in versions


async def test_a_disabled_webhook_is_not_judged_and_resumes_where_it_was(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    switch = """mutation($id: ID!, $on: Boolean!) { setWebhookEnabled(id: $id, enabled: $on) {
      enabled } }"""
    tenant = Tenant(client)
    with receiving() as receiver:
        version = await tenant.start()
        hook = await define(client, receiver.url, [NPS_BELOW_ZERO])
        await judged(client, version)
        await gql_ok(client, switch, {"id": hook["id"], "on": False})
        await tenant.answer("v1", 0, 0, 0)
        await quiet(receiver, 0)
        (listed,) = (await gql_ok(client, STATE))["webhooks"]
        assert listed["enabled"] is False
        assert listed["thresholds"][0]["state"]["met"] is None
        version = await gql_ok(client, switch, {"id": hook["id"], "on": True})
        (fired,) = await receiver.wait_for(1)
    assert fired.payload["data"]["result"]["n"] == 3
    assert version["setWebhookEnabled"]["enabled"] is True
