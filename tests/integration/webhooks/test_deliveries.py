"""Webhook deliveries end to end, to a real receiver on 127.0.0.1 (CX_WEBHOOK_ALLOW_PRIVATE):
signed (checked here by an implementation of the documented scheme), retried with the same
idempotency key, recorded with their outcome, never in the way of ingestion, surviving a
restart, delivered once by two replicas sharing the work."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from service.ingest.announce import Written
from tests.conftest import http_client
from tests.graphql import SUBMIT_RESPONSES, error_codes, gql, gql_ok
from tests.integration.builders import nps, response, submit_responses
from tests.integration.webhooks.support import (
    SECRET,
    fast,
    receiving,
    recent,
    signature_is_valid,
    started,
)

DEFINE = """mutation($url: String!, $events: [String!]!, $secret: String!) {
  defineWebhook(url: $url, events: $events, secret: $secret) { id url events enabled } }"""
DELIVERIES = """query($webhook: ID) { webhookDeliveries(webhook: $webhook) {
  id webhookId event idempotencyKey status attempts lastStatusCode lastError payload
  attemptLog { statusCode error } } }"""


async def define(client: httpx.AsyncClient, url: str, events: list[str] | None = None,
                 secret: str = SECRET) -> dict[str, Any]:  # fmt: skip
    variables = {"url": url, "events": events or ["responses.ingested"], "secret": secret}
    data = await gql_ok(client, DEFINE, variables)
    hook: dict[str, Any] = data["defineWebhook"]
    return hook


async def deliveries(client: httpx.AsyncClient, webhook: str | None = None) -> list[Any]:
    found: list[Any] = (await gql_ok(client, DELIVERIES, {"webhook": webhook}))["webhookDeliveries"]
    return found


async def settled(client: httpx.AsyncClient, count: int, timeout_s: float = 60.0) -> list[Any]:
    """The deliveries once ``count`` of them are finished (DELIVERED, FAILED, CANCELLED)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await deliveries(client)
        if sum(d["status"] != "PENDING" for d in found) >= count:
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)


def documented_verify() -> Any:
    """The verification sample of docs/webhooks.md, run as a receiver would copy it."""
    doc = (Path(__file__).resolve().parents[3] / "docs/webhooks.md").read_text()
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify"]


@pytest.fixture
async def app(mongo_uri: str) -> AsyncIterator[Starlette]:
    async with started(fast(mongo_uri)) as application:
        yield application


# -- signed, with the payload a receiver needs ----------------------------------------------


async def test_a_delivery_is_signed_and_says_what_was_ingested(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    with receiving() as receiver:
        hook = await define(client, receiver.url)
        assert (hook["url"], hook["events"], hook["enabled"]) == (
            receiver.url, ["responses.ingested"], True)  # fmt: skip
        written = await submit_responses(client, [
            response("r2", "c1", submitted_at=recent(5), answers=[nps(3)]),
            response("r1", "c2", submitted_at=recent(4), answers=[nps(10)]),
        ])  # fmt: skip
        (got,) = await receiver.wait_for(1)

        assert got.path == "/hooks/cx"
        assert got.headers["content-type"] == "application/json"
        assert signature_is_valid(got.headers["cxgraph-signature"], SECRET, got.body)
        # the check is a real one: another secret, another body or an old timestamp fail
        assert not signature_is_valid(got.headers["cxgraph-signature"], SECRET + "x", got.body)
        assert not signature_is_valid(got.headers["cxgraph-signature"], SECRET, got.body + b" ")
        verify = documented_verify()  # and the sample in the docs says the same
        assert verify(got.headers["cxgraph-signature"], SECRET, got.body)
        assert not verify(got.headers["cxgraph-signature"], SECRET, got.body + b" ")
        payload = got.payload
        assert got.key == payload["id"] and got.key.startswith("evt_")
        assert got.headers["cxgraph-event"] == payload["type"] == "responses.ingested"
        assert payload["dataVersion"] == written["dataVersion"]
        ids = {r["externalId"]: r["id"] for r in written["results"]}
        assert payload["data"] == {"count": 2, "responses": [
            {"id": ids["r1"], "source": "crm", "externalId": "r1", "status": "INSERTED"},
            {"id": ids["r2"], "source": "crm", "externalId": "r2", "status": "INSERTED"},
        ]}  # fmt: skip

        (recorded,) = await settled(client, 1)
        assert recorded == {
            "id": recorded["id"], "webhookId": hook["id"], "event": "responses.ingested",
            "idempotencyKey": got.key, "status": "DELIVERED", "attempts": 1,
            "lastStatusCode": 200, "lastError": None, "payload": got.body.decode(),
            "attemptLog": [{"statusCode": 200, "error": None}],
        }  # fmt: skip


async def test_a_resend_that_stores_nothing_sends_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    with receiving() as receiver:
        await define(client, receiver.url)
        batch = [response("r1", submitted_at=recent(3))]
        await submit_responses(client, batch)
        await receiver.wait_for(1)
        again = await submit_responses(client, batch)  # UNCHANGED
        assert again["unchanged"] == 1
        changed = await submit_responses(client, [response("r1", submitted_at=recent(2))])
        (first, second) = await receiver.wait_for(2)
        assert second.payload["data"]["responses"][0]["status"] == "UPDATED"
        assert second.key != first.key
        await asyncio.sleep(0.5)  # nothing else arrives
        assert len(receiver.received) == 2
        assert second.payload["dataVersion"] == changed["dataVersion"]


async def test_an_ndjson_upload_is_announced_too(app: Starlette, client: httpx.AsyncClient) -> None:
    with receiving() as receiver:
        await define(client, receiver.url)
        lines = [response(f"r{i}", submitted_at=recent(i + 1)) for i in range(3)]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        answer = await client.post("/ingest/survey-responses", content=body,
                                   headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        (got,) = await receiver.wait_for(1)
    assert [(r["externalId"], r["status"]) for r in got.payload["data"]["responses"]] == [
        ("r0", "INSERTED"), ("r1", "INSERTED"), ("r2", "INSERTED")]  # fmt: skip


# -- retried, with the same idempotency key ------------------------------------------------


async def test_a_500_is_retried_until_it_succeeds_with_the_same_key_and_body(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    with receiving(statuses=[500, 503]) as receiver:
        hook = await define(client, receiver.url)
        await submit_responses(client, [response("r1", submitted_at=recent(1))])
        attempts = await receiver.wait_for(3)
        (recorded,) = await settled(client, 1)

    assert len({a.key for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    assert [a.headers["cxgraph-attempt"] for a in attempts] == ["1", "2", "3"]
    assert all(signature_is_valid(a.headers["cxgraph-signature"], SECRET, a.body)
               for a in attempts)  # fmt: skip
    assert (recorded["webhookId"], recorded["status"], recorded["attempts"]) == (
        hook["id"], "DELIVERED", 3)  # fmt: skip
    assert recorded["idempotencyKey"] == attempts[0].key
    assert recorded["attemptLog"] == [{"statusCode": 500, "error": "HTTP 500"},
                                      {"statusCode": 503, "error": "HTTP 503"},
                                      {"statusCode": 200, "error": None}]  # fmt: skip
    exposed = (await client.get("/metrics")).text
    assert 'cx_webhook_attempts_total{outcome="retry"} 2\n' in exposed
    assert 'cx_webhook_attempts_total{outcome="delivered"} 1\n' in exposed


async def test_a_delivery_gives_up_after_the_attempts_allowed(mongo_uri: str) -> None:
    settings = fast(mongo_uri, webhook_max_attempts=3)
    async with started(settings) as application, http_client(application) as client:
        with receiving(statuses=[500] * 10) as receiver:
            await define(client, receiver.url)
            await submit_responses(client, [response("r1", submitted_at=recent(1))])
            (recorded,) = await settled(client, 1)
            await asyncio.sleep(0.3)
            assert len(receiver.received) == 3
    assert (recorded["status"], recorded["attempts"], recorded["lastError"]) == (
        "FAILED", 3, "HTTP 500")  # fmt: skip


async def test_a_duplicate_delivery_carries_the_same_idempotency_key(mongo_uri: str) -> None:
    """The receiver took the first attempt but answered after the sender's timeout: the
    sender cannot know, so it sends again — the receiver sees the same key and body twice."""
    settings = fast(mongo_uri, webhook_timeout_s=1.0)
    async with started(settings) as application, http_client(application) as client:
        with receiving(slow_first_s=2.5) as receiver:
            await define(client, receiver.url)
            await submit_responses(client, [response("r1", submitted_at=recent(1))])
            first, second = await receiver.wait_for(2)
            (recorded,) = await settled(client, 1)
    assert first.key == second.key == recorded["idempotencyKey"]
    assert first.body == second.body
    assert recorded["status"] == "DELIVERED" and recorded["attempts"] == 2
    assert recorded["attemptLog"][0]["error"].startswith("timed out after 1 s")


class _FailAfterAnnouncing:
    """The write dies right after it recorded its deliveries (before its intent closed)."""

    def __init__(self, inner: Any, announce_first: bool) -> None:
        self.inner, self.announce_first, self.failures = inner, announce_first, 1

    async def responses_written(self, tenant: str, version: int, records: list[Written]) -> None:
        if self.failures:
            self.failures -= 1
            if self.announce_first:
                await self.inner.responses_written(tenant, version, records)
            raise ConnectionResetError("the process died here")
        await self.inner.responses_written(tenant, version, records)

    async def write_recovered(self, *args: Any) -> None:
        await self.inner.write_recovered(*args)


@pytest.mark.parametrize("announced_before_dying", [True, False])
async def test_a_write_resent_after_a_failure_is_announced_once(
    app: Starlette, client: httpx.AsyncClient, announced_before_dying: bool
) -> None:
    ingestor = app.state.cx.ingestor
    ingestor.announcer = _FailAfterAnnouncing(ingestor.announcer, announced_before_dying)
    batch = [response("r1", submitted_at=recent(2)), response("r2", submitted_at=recent(1))]
    with receiving() as receiver:
        await define(client, receiver.url)
        failed = await gql(client, SUBMIT_RESPONSES, {"input": batch})
        assert error_codes(failed) == ["INTERNAL_SERVER_ERROR"]
        resent = await submit_responses(client, batch)  # the client's retry
        assert resent["unchanged"] == 2
        (got,) = await receiver.wait_for(1)
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1, "one event, stored once, whoever recorded it"
    statuses = [r["status"] for r in got.payload["data"]["responses"]]
    assert statuses == (["INSERTED"] * 2 if announced_before_dying else ["RECOVERED"] * 2)
    assert [r["externalId"] for r in got.payload["data"]["responses"]] == ["r1", "r2"]


async def test_a_write_nobody_resends_is_announced_by_recovery(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ingestor = app.state.cx.ingestor
    ingestor.announcer = _FailAfterAnnouncing(ingestor.announcer, announce_first=False)
    with receiving() as receiver:
        await define(client, receiver.url)
        failed = await gql(client, SUBMIT_RESPONSES,
                           {"input": [response("r1", submitted_at=recent(2))]})  # fmt: skip
        assert error_codes(failed) == ["INTERNAL_SERVER_ERROR"]
        assert await ingestor.recover_abandoned(timedelta(0)) == 1
        (got,) = await receiver.wait_for(1)
    assert [(r["externalId"], r["status"]) for r in got.payload["data"]["responses"]] == [
        ("r1", "RECOVERED")]  # fmt: skip


# -- never in the way of ingestion ---------------------------------------------------------


async def test_ingestion_answers_while_the_receiver_has_not(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    with receiving() as receiver:
        await define(client, receiver.url)
        receiver.hold.clear()  # the receiver takes requests but answers none
        batch = [response("r1", submitted_at=recent(1))]
        written = await asyncio.wait_for(submit_responses(client, batch), 60)
        assert written["inserted"] == 1
        (held,) = await receiver.wait_for(1)  # it is being delivered meanwhile
        written = await asyncio.wait_for(
            submit_responses(client, [response("r2", submitted_at=recent(1))]), 60
        )
        assert written["inserted"] == 1
        receiver.hold.set()
        await settled(client, 2)
    assert held.payload["data"]["responses"][0]["externalId"] == "r1"


# -- survives a restart; two replicas share the work ---------------------------------------


async def test_pending_deliveries_survive_a_restart(mongo_uri: str) -> None:
    settings = fast(mongo_uri, webhook_retry_base_s=0.2, webhook_retry_max_s=0.2)
    with receiving(statuses=[503] * 1000) as receiver:
        async with started(settings, drop=False) as first, http_client(first) as client:
            await define(client, receiver.url)
            await submit_responses(client, [response("r1", submitted_at=recent(1))])
            await receiver.wait_for(1)
        before = len(receiver.received)
        receiver.statuses.clear()  # answers 200 from now on
        async with started(settings) as second, http_client(second) as client:
            (recorded,) = await settled(client, 1)
            after = await receiver.wait_for(before + 1)
    assert recorded["status"] == "DELIVERED"
    assert recorded["attempts"] == len(after) >= 2
    assert len({r.key for r in after}) == 1


async def test_shutdown_lets_an_attempt_in_flight_finish(mongo_uri: str) -> None:
    """A rolling update: the replica going away records the outcome of what it is sending,
    so the next one does not send it again."""
    settings = fast(mongo_uri)
    with receiving(slow_first_s=1.0) as receiver:
        async with started(settings, drop=False) as first, http_client(first) as client:
            await define(client, receiver.url)
            await submit_responses(client, [response("r1", submitted_at=recent(1))])
            await receiver.wait_for(1)  # the answer is a second away: shut down now
        async with started(settings) as second, http_client(second) as client:
            (recorded,) = await deliveries(client)
            await asyncio.sleep(0.3)
    assert (recorded["status"], recorded["attempts"]) == ("DELIVERED", 1)
    assert len(receiver.received) == 1


async def test_two_replicas_deliver_each_event_once(mongo_uri: str) -> None:
    settings = fast(mongo_uri)
    with receiving() as receiver:
        async with (
            started(settings, drop=False) as one, started(settings) as two,
            http_client(one) as c1, http_client(two) as c2,
        ):  # fmt: skip
            await define(c1, receiver.url)
            for i in range(12):
                await submit_responses((c1, c2)[i % 2],
                                       [response(f"r{i}", submitted_at=recent(1))])  # fmt: skip
            await receiver.wait_for(12)
            recorded = await settled(c1, 12)
            await asyncio.sleep(0.5)
            sent = [a.state.cx.webhooks.worker.attempts for a in (one, two)]
    keys = [r.key for r in receiver.received]
    assert len(keys) == len(set(keys)) == 12
    assert {d["status"] for d in recorded} == {"DELIVERED"}
    assert {d["attempts"] for d in recorded} == {1}
    assert sum(sent) == 12 and min(sent) > 0, sent  # both replicas delivered
