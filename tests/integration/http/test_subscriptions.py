"""metricChanged over a real WebSocket (graphql-transport-ws) on a real server socket.

The first answer is compared with the oracle (tests/oracle) over the records loaded; each
update with the oracle over the records as they are after the writes. Writes go through the
GraphQL mutations, as a partner's would; no MongoDB is mocked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from service.auth.api_keys import create as create_key
from service.auth.api_keys import split
from service.store import api_keys as stored_keys
from tests import oracle
from tests.conftest import api_key, http_client, make_settings, running_app
from tests.graphql import SUBMIT_RESPONSES, UPSERT_CUSTOMERS, gql_ok
from tests.integration import processes
from tests.integration.live import bearer, listening, live
from tests.integration.metric_data import (
    RESULT_FIELDS,
    SOURCE,
    WHOLE_DAYS,
    MetricData,
    generate,
    load,
    ref,
    result_mismatches,
    window_input,
)

NPS_BY_SEGMENT = (
    "subscription($window: TimeWindow) { metricChanged(kind: NPS, by: [SEGMENT], "
    f"window: $window) {{ dataVersion groups {{ keys {{ dimension value }} result {{ "
    f"{RESULT_FIELDS} }} }} }} }}"
)
NPS_TOTAL = (
    "subscription { metricChanged(kind: NPS, window: "
    '{from: "2026-02-01T00:00:00Z", to: "2026-03-20T00:00:00Z"}) { dataVersion groups { '
    "keys { value } result { n value } } } }"
)
DEBOUNCE_MS = 1000  # the default
QUIET_S = 3.5  # longer than the debounce plus the version staleness plus scheduling


def small_data() -> MetricData:
    return generate(customers=30, stubs=1, cases=6, responses=90)


def vip_customer(data: MetricData) -> str:
    return next(c["externalId"] for c in data.customers if c["segments"] == ["vip"])


def nps_response(external_id: str, customer: str, value: int, at: datetime) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "externalId": external_id,
        "customer": ref(customer),
        "submittedAt": at.isoformat(),
        "answers": [
            {"question": "nps", "metric": "NPS", "value": value, "scaleMin": 0, "scaleMax": 10}
        ],
    }


def csat_response(external_id: str, customer: str, at: datetime) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "externalId": external_id,
        "customer": ref(customer),
        "submittedAt": at.isoformat(),
        "answers": [
            {"question": "csat", "metric": "CSAT", "value": 4, "scaleMin": 1, "scaleMax": 5}
        ],
    }


async def submit(client: httpx.AsyncClient, records: list[dict[str, Any]]) -> int:
    data = await gql_ok(client, SUBMIT_RESPONSES, {"input": records})
    result = data["submitSurveyResponses"]
    assert result["rejected"] == 0, result
    return int(result["dataVersion"])


def check_groups(change: dict[str, Any], data: MetricData) -> None:
    """The subscription's groups equal the oracle's breakdown over ``data``."""
    expected = oracle.breakdown(data.dataset(), "NPS", ("SEGMENT",), WHOLE_DAYS)
    actual = {tuple(k["value"] for k in g["keys"]): g["result"] for g in change["groups"]}
    assert all(k["dimension"] == "SEGMENT" for g in change["groups"] for k in g["keys"])
    assert sorted(actual, key=repr) == sorted(expected, key=repr)
    problems = [p for key, result in expected.items()
                for p in result_mismatches(actual[key], result, f"{key}: ")]  # fmt: skip
    assert not problems, "\n".join(problems)
    versions = {g["result"]["dataVersion"] for g in change["groups"]}
    assert versions == {change["dataVersion"]}


async def test_first_answer_one_update_per_burst_nothing_unchanged_nothing_of_another_tenant(
    mongo_uri: str,
) -> None:
    settings = make_settings(mongo_uri, subscription_debounce_ms=DEBOUNCE_MS,
                             version_staleness_ms=200)  # fmt: skip
    data = small_data()
    async with running_app(settings) as app, listening(app) as url, http_client(app) as writer:
        _, loaded_version = await load(writer, data)
        key = await api_key(app, scopes=["metrics:read"])
        async with live(url, bearer(key)) as sub:
            await sub.subscribe("nps", NPS_BY_SEGMENT, {"window": window_input(WHOLE_DAYS)})
            first = (await sub.next_data("nps"))["metricChanged"]
            assert first["dataVersion"] == loaded_version
            check_groups(first, data)

            # A burst of four writes, each changing the answer: one update, after it.
            vip = vip_customer(data)
            at = WHOLE_DAYS[0] + timedelta(days=3)
            burst = [[nps_response(f"live-{i}", vip, 10, at + timedelta(hours=i))]
                     for i in range(4)]  # fmt: skip
            versions = await asyncio.gather(*(submit(writer, records) for records in burst))
            data.responses.extend(r for records in burst for r in records)
            update = (await sub.next_data("nps"))["metricChanged"]
            assert update["dataVersion"] == max(versions)
            check_groups(update, data)
            assert update["groups"] != first["groups"]
            await sub.nothing_within(QUIET_S)

            # Writes that change the version but not this answer: a CSAT answer, an NPS answer
            # outside the window, a resend of a record already stored.
            before = await submit(writer, [csat_response("live-csat", vip, at)])
            outside = WHOLE_DAYS[1] + timedelta(days=2)
            after = await submit(writer, [nps_response("live-outside", vip, 0, outside),
                                          burst[0][0]])  # fmt: skip
            assert after > before > max(versions)
            await sub.nothing_within(QUIET_S)

            # Another tenant's writes: nothing, though its data would change this answer.
            async with http_client(app, tenant="other") as other:
                same_customer = [c for c in data.customers if c["externalId"] == vip]
                await gql_ok(other, UPSERT_CUSTOMERS, {"input": same_customer})
                await submit(other, [nps_response("live-other", vip, 0, at)])
            await sub.nothing_within(QUIET_S)

            # And a write that changes it again is still seen.
            last = await submit(writer, [nps_response("live-5", vip, 0, at)])
            data.responses.append(nps_response("live-5", vip, 0, at))
            again = (await sub.next_data("nps"))["metricChanged"]
            assert again["dataVersion"] == last
            check_groups(again, data)


async def test_writes_through_another_replica_reach_subscribers(mongo_uri: str) -> None:
    """Two app instances on one database: subscribed on one, written through the other."""
    db = f"cxtest_live_{datetime.now(UTC):%H%M%S%f}"
    here = make_settings(mongo_uri, mongo_db=db, version_staleness_ms=200)
    there = make_settings(mongo_uri, mongo_db=db)
    data = small_data()
    async with (running_app(here) as app, running_app(there) as other_app,
                listening(app) as url, http_client(other_app) as writer):  # fmt: skip
        _, loaded = await load(writer, data)
        key = await api_key(app, scopes=["metrics:read"])
        async with live(url, bearer(key)) as sub:
            await sub.subscribe("total", NPS_TOTAL, {})
            first = (await sub.next_data("total"))["metricChanged"]
            assert first["dataVersion"] == loaded
            [group] = first["groups"]
            assert group["keys"] == []
            expected = oracle.metric(data.dataset(), "NPS", WHOLE_DAYS)
            assert group["result"]["n"] == expected["n"]
            assert group["result"]["value"] == pytest.approx(expected["value"], rel=1e-9)

            at = WHOLE_DAYS[0] + timedelta(days=5)
            written = await submit(writer, [nps_response("there-1", vip_customer(data), 0, at)])
            data.responses.append(nps_response("there-1", vip_customer(data), 0, at))
            update = (await sub.next_data("total"))["metricChanged"]
            assert update["dataVersion"] == written
            expected = oracle.metric(data.dataset(), "NPS", WHOLE_DAYS)
            [group] = update["groups"]
            assert group["result"]["n"] == expected["n"]
            assert group["result"]["value"] == pytest.approx(expected["value"], rel=1e-9)


async def closed(url: str, payload: dict[str, Any]) -> int:
    async with live(url) as client:
        await client.send({"type": "connection_init", "payload": payload})
        return await client.closed_with()


async def test_bad_credentials_are_refused_at_connection_init(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, subscription_init_timeout_s=0.5)
    async with running_app(settings) as app, listening(app) as url:
        key = await api_key(app)
        assert await closed(url, {}) == 4403
        assert await closed(url, bearer("cx_0123456789abcdef_" + "x" * 43)) == 4403
        assert await closed(url, bearer("not-a-key")) == 4403
        assert await closed(url, {"Authorization": key}) == 4403  # no scheme: not a credential
        assert await closed(url, {"X-API-Key": key[:-2]}) == 4403

        async with live(url) as client:  # subscribe before connection_init: 4401
            await client.subscribe("x", NPS_TOTAL, {})
            assert await client.closed_with() == 4401
        async with live(url) as client:  # no connection_init at all: 4408
            assert await client.closed_with(timeout_s=10) == 4408

        # The credential as an X-API-Key, and nested under "headers", are accepted.
        for payload in ({"x-api-key": key}, {"headers": bearer(key)}):
            async with live(url, payload) as client:
                await client.subscribe("t", NPS_TOTAL, {})
                assert (await client.next_data("t"))["metricChanged"]["dataVersion"] == 0


async def test_scopes_apply_per_field(mongo_uri: str) -> None:
    async with running_app(make_settings(mongo_uri)) as app, listening(app) as url:
        key = await api_key(app, scopes=["data:read"])
        async with live(url, bearer(key)) as client:
            await client.subscribe("t", NPS_TOTAL, {})
            message = await client.receive()
        assert message["type"] in ("next", "error"), message
        errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
        assert errors[0]["extensions"]["scope"] == "metrics:read"


async def test_only_subscriptions_run_over_websocket(mongo_uri: str) -> None:
    async with running_app(make_settings(mongo_uri)) as app, listening(app) as url:
        key = await api_key(app)
        async with live(url, bearer(key)) as client:
            await client.subscribe("q", "query { segments { key } }", {})
            message = await client.receive()
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"] == {
                "code": "BAD_USER_INPUT", "reason": "SUBSCRIPTIONS_ONLY"}  # fmt: skip
            await client.subscribe("m", "mutation { eraseCustomer(ref: {source: \"s\", "
                                   "externalId: \"e\"}) { erased } }", {})  # fmt: skip
            message = await client.receive()
            assert message["payload"][0]["extensions"]["reason"] == "SUBSCRIPTIONS_ONLY"


async def active_subscriptions(app: Starlette) -> int:
    async with http_client(app) as admin:
        text = (await admin.get("/metrics")).text
    found = re.search(r"^cx_subscriptions_active (\S+)$", text, re.MULTILINE)
    assert found, text
    return int(float(found.group(1)))


async def test_subscriptions_per_credential_are_limited_and_counted(
    mongo_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cxgraph.access")
    settings = make_settings(mongo_uri, subscriptions_per_key=2)
    async with running_app(settings) as app, listening(app) as url:
        key, other_key = await api_key(app), await api_key(app)
        async with live(url, bearer(key)) as one, live(url, bearer(key)) as two:
            await one.subscribe("a", NPS_TOTAL, {})
            await one.next_data("a")
            await two.subscribe("b", NPS_TOTAL, {})
            await two.next_data("b")
            assert await active_subscriptions(app) == 2
            await two.subscribe("c", NPS_TOTAL, {})  # a third for the same key
            refused = await two.receive()
            assert refused["type"] == "next" and refused["id"] == "c", refused
            [error] = refused["payload"]["errors"]
            assert error["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
            assert (await two.receive())["type"] == "complete"
            async with live(url, bearer(other_key)) as three:  # another key is not affected
                await three.subscribe("d", NPS_TOTAL, {})
                await three.next_data("d")
                assert await active_subscriptions(app) == 3
            await one.send({"id": "a", "type": "complete"})  # the client ends one
            for _ in range(100):
                if await active_subscriptions(app) == 1:
                    break
                await asyncio.sleep(0.05)
            assert await active_subscriptions(app) == 1
            await two.subscribe("e", NPS_TOTAL, {})  # room again
            await two.next_data("e")
        for _ in range(100):  # both connections closed: nothing is held
            if await active_subscriptions(app) == 0:
                break
            await asyncio.sleep(0.05)
        assert await active_subscriptions(app) == 0
        assert app.state.cx.live.tenants == {}
        async with http_client(app) as admin:
            text = (await admin.get("/metrics")).text
        assert 'cx_graphql_operations_total{operation="anonymous",outcome="ok"} 4.0' in text
        assert ('cx_graphql_operations_total{operation="anonymous",'
                'outcome="TOO_MANY_SUBSCRIPTIONS"} 1.0') in text  # fmt: skip
        assert "cx_subscriptions_refused_total 1.0" in text
        assert "cx_subscription_messages_total 4.0" in text
        # A subscription's lifetime is not an operation's latency.
        assert "cx_graphql_operation_duration_seconds_count" not in text
    # One access-log line per socket, naming its credential (never the key) and tenant.
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cxgraph.access"]
    sockets = [line for line in lines if line["method"] == "WEBSOCKET"]
    assert len(sockets) == 3
    assert {line["tenant"] for line in sockets} == {"default"}
    ids = [f"key:{part[0]}" for k in (key, key, other_key) if (part := split(k))]
    assert sorted(line["credential"] for line in sockets) == sorted(ids)
    assert not any(key in r.getMessage() for r in caplog.records)


async def test_a_revoked_key_ends_its_subscription(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, auth_cache_s=0, version_staleness_ms=200)
    async with running_app(settings) as app, listening(app) as url, http_client(app) as writer:
        cx = app.state.cx
        key, stored = await create_key(cx.mongo, "default", ["metrics:read"], "live",
                                       settings.api_key_pepper)  # fmt: skip
        async with live(url, bearer(key)) as sub:
            await sub.subscribe("t", NPS_TOTAL, {})
            await sub.next_data("t")
            assert await stored_keys.revoke(cx.mongo, stored.id)
            at = WHOLE_DAYS[0] + timedelta(days=1)
            await gql_ok(writer, UPSERT_CUSTOMERS, {"input": [{"source": SOURCE,
                                                               "externalId": "c1"}]})  # fmt: skip
            await submit(writer, [nps_response("r1", "c1", 9, at)])
            ended = await sub.receive()
            assert ended["type"] == "next", ended
            assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == [
                "UNAUTHENTICATED"]  # fmt: skip
            assert (await sub.receive())["type"] == "complete"


async def test_a_subscription_over_http_says_where_to_send_it(client: httpx.AsyncClient) -> None:
    query = "subscription { metricChanged(kind: NPS) { dataVersion } }"
    for response in (
        await client.post("/graphql", json={"query": query}),
        await client.get("/graphql", params={"query": query}),
    ):
        body = response.json()
        assert body["data"] is None, body
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "BAD_USER_INPUT", "reason": "WEBSOCKET_REQUIRED"}
        ]


async def test_a_draining_server_closes_sockets_with_service_restart(
    mongo_uri: str, tmp_path: Path
) -> None:
    """`cxgraph serve` itself: on SIGTERM its subscribers get 1012 and it exits 0."""
    db = f"cxtest_live_{datetime.now(UTC):%H%M%S%f}"
    with processes.serve(mongo_uri, db, tmp_path, CX_SHUTDOWN_DELAY_S="0.5") as server:
        key = await asyncio.to_thread(processes.create_key, mongo_uri, db)
        url = f"ws://127.0.0.1:{server.port}/graphql"
        async with live(url, bearer(key)) as sub:
            await sub.subscribe("t", NPS_TOTAL, {})
            assert (await sub.next_data("t"))["metricChanged"]["dataVersion"] == 0
            server.proc.send_signal(signal.SIGTERM)
            assert await sub.closed_with() == 1012
        assert await asyncio.to_thread(server.proc.wait, 30) == 0, server.log()


SECRET = "live-test-secret-of-at-least-32-bytes!!"


def token(tenant: str, expires_in_s: float, scope: str = "metrics:read") -> str:
    exp = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    return jwt.encode({"sub": "dashboard-user", "tenant": tenant, "scope": scope, "exp": exp},
                      SECRET, algorithm="HS256")  # fmt: skip


async def test_a_bearer_token_acts_for_its_tenant_until_it_expires(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, jwt_secret=SECRET, jwt_leeway_s=0,
                             version_staleness_ms=200, subscription_debounce_ms=200)  # fmt: skip
    async with (running_app(settings) as app, listening(app) as url,
                http_client(app, tenant="acme") as acme):  # fmt: skip
        at = WHOLE_DAYS[0] + timedelta(days=1)
        await gql_ok(acme, UPSERT_CUSTOMERS, {"input": [{"source": SOURCE, "externalId": "c1"}]})
        await submit(acme, [nps_response("r1", "c1", 9, at)])
        assert await closed(url, bearer(token("acme", -60))) == 4403  # expired already

        async with live(url, bearer(token("acme", 4))) as sub:
            await sub.subscribe("t", NPS_TOTAL, {})
            [group] = (await sub.next_data("t"))["metricChanged"]["groups"]
            assert group["result"]["n"] == 1  # acme's response: the token's tenant
            await asyncio.sleep(5)  # the token expires
            await submit(acme, [nps_response("r2", "c1", 0, at)])
            ended = await sub.receive()
            assert [e["extensions"]["code"] for e in ended["payload"]["errors"]] == [
                "UNAUTHENTICATED"]  # fmt: skip
            assert "expired" in ended["payload"]["errors"][0]["message"]
            assert (await sub.receive())["type"] == "complete"
