"""The hit path (service/http/hit_path.py): a repeated query answered from memory in front of
the middleware stack gives what the stack would have given, counts against the rate limit
once, and leaves every request it is not sure of to the stack."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from service.settings import Settings
from tests.conftest import api_key, http_client, make_settings, running_app
from tests.integration.builders import answer, response, submit_responses

WINDOW = '{from: "2026-02-01T00:00:00Z", to: "2026-04-01T00:00:00Z"}'
QUERY = f"{{ metric(kind: CSAT, window: {WINDOW}) {{ n value }} }}"


class StackCalls:
    """Counts the requests that reached the middleware stack behind the hit path."""

    def __init__(self, app: Starlette) -> None:
        self.inner = app.middleware_stack
        self.count = 0
        app.middleware_stack = self  # type: ignore[assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.count += 1
        assert self.inner is not None
        await self.inner(scope, receive, send)


def cached(mongo_uri: str, **overrides: Any) -> Settings:
    return make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=60_000,
                         **overrides)  # fmt: skip


@pytest.fixture
async def cache_on(mongo_uri: str) -> AsyncIterator[Starlette]:
    async with running_app(cached(mongo_uri)) as application:
        yield application


async def ask(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": QUERY}, headers=headers)


async def seeded(client: httpx.AsyncClient, app: Starlette) -> tuple[httpx.Response, StackCalls]:
    """One response stored, the query asked once (a miss, through the stack), and a counter
    on the stack from then on."""
    await submit_responses(client, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
    first = await ask(client)
    assert first.status_code == 200 and first.headers.get("x-cx-cache") is None
    return first, StackCalls(app)


async def test_a_repeat_is_answered_before_the_stack_with_the_stacks_bytes(
    cache_on: Starlette,
) -> None:
    async with http_client(cache_on) as client:
        first, stack = await seeded(client, cache_on)
        hit = await ask(client, **{"x-request-id": "dash-1"})
        assert stack.count == 0
        assert hit.status_code == 200 and hit.content == first.content
        assert hit.headers["x-cx-cache"] == "hit"
        assert hit.headers["x-request-id"] == "dash-1"
        assert hit.headers["content-type"] == first.headers["content-type"]
        assert int(hit.headers["content-length"]) == len(first.content)
        # The same hit through the stack (the hit path off) answers the same bytes, headers.
        cache_on.state.cx.hit_path = False
        through = await ask(client, **{"x-request-id": "dash-1"})
        assert stack.count == 1
        assert through.content == hit.content
        assert dict(through.headers) == dict(hit.headers)
        exposed = (await client.get("/metrics")).text
        assert "cx_response_cache_hits_total 2" in exposed
        assert "cx_response_cache_misses_total 1" in exposed


async def test_a_new_request_id_on_every_hit(cache_on: Starlette) -> None:
    async with http_client(cache_on) as client:
        await seeded(client, cache_on)
        ids = {(await ask(client)).headers["x-request-id"] for _ in range(3)}
        refused = await ask(client, **{"x-request-id": "not a sane id!"})
        assert len(ids) == 3
        assert refused.headers["x-request-id"] != "not a sane id!"


async def test_a_write_or_another_tenant_never_gets_the_old_answer(cache_on: Starlette) -> None:
    async with http_client(cache_on) as client, http_client(cache_on, "other") as other:
        first, stack = await seeded(client, cache_on)
        theirs = await ask(other)
        assert theirs.headers.get("x-cx-cache") is None and stack.count == 1
        assert json.loads(theirs.content)["data"]["metric"]["n"] == 0
        await submit_responses(client, [response("r2", answers=[answer("CSAT", 1, 1, 5)])])
        after = await ask(client)
        assert after.headers.get("x-cx-cache") is None
        assert json.loads(after.content)["data"]["metric"]["n"] == 2
        assert json.loads(first.content)["data"]["metric"]["n"] == 1


async def test_the_rate_limit_counts_a_hit_once_and_refuses_it_as_the_edge_does(
    mongo_uri: str,
) -> None:
    async with (
        running_app(cached(mongo_uri, rate_limit_per_minute=4)) as app,
        http_client(app) as client,
    ):
        _, stack = await seeded(client, app)  # a write and a miss: 2 of the 4
        answers = [await ask(client) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert stack.count == 0  # the refusal too came from the hit path
        refused = answers[-1]
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-request-id"]
        registry = app.state.observability.registry
        assert registry.get_sample_value("cx_rate_limit_refusals_total") == 1


async def test_what_needs_more_than_memory_goes_through_the_stack(cache_on: Starlette) -> None:
    async with http_client(cache_on) as client:
        _, stack = await seeded(client, cache_on)
        cx = cache_on.state.cx
        await ask(client, **{"x-cx-dry-run": "1"})  # never cached
        assert stack.count == 1
        await client.post("/graphql", content=json.dumps({"query": QUERY}),
                          headers={"content-type": "text/plain"})  # fmt: skip
        assert stack.count == 2  # refused by the edge (415)
        cx.versions._known.clear()  # the tenant's version must be read again
        again = await ask(client)
        assert again.headers["x-cx-cache"] == "hit" and stack.count == 3
        cx.tenants._known.clear()  # and its settings
        assert (await ask(client)).headers["x-cx-cache"] == "hit" and stack.count == 4
        cx.authenticator._verified.clear()  # and the credential
        assert (await ask(client)).headers["x-cx-cache"] == "hit" and stack.count == 5
        assert (await ask(client)).headers["x-cx-cache"] == "hit" and stack.count == 5


async def test_with_cors_a_browsers_request_gets_its_cors_headers(mongo_uri: str) -> None:
    origin = "https://dash.example"
    async with running_app(cached(mongo_uri, cors_origins=origin)) as app, http_client(app) as c:
        _, stack = await seeded(c, app)
        browser = await ask(c, origin=origin)
        assert browser.headers["access-control-allow-origin"] == origin
        assert browser.headers["x-cx-cache"] == "hit" and stack.count == 1
        await ask(c)  # no Origin: a server's request takes the hit path
        assert stack.count == 1


async def test_only_registered_documents_turns_the_hit_path_off(mongo_uri: str) -> None:
    async with running_app(cached(mongo_uri, only_registered_queries=True)) as app:
        assert app.state.cx.hit_path is False


async def test_a_body_that_does_not_arrive_is_answered_408(mongo_uri: str) -> None:
    async with running_app(cached(mongo_uri, body_timeout_s=0.2)) as app:
        async with http_client(app) as client:
            _, stack = await seeded(client, app)
            key = client.headers["authorization"]
        body = json.dumps({"query": QUERY}).encode()
        headers = [(b"content-type", b"application/json"), (b"authorization", key.encode()),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        scope = {"type": "http", "method": "POST", "path": "/graphql", "query_string": b"",
                 "headers": headers}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def never() -> dict[str, Any]:
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await asyncio.wait_for(app(scope, never, send), 5)
        assert stack.count == 0
        assert sent[0]["status"] == 408
        assert json.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


async def test_a_hit_writes_its_access_log_line(
    cache_on: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    async with http_client(cache_on) as client:
        _, stack = await seeded(client, cache_on)
        key = client.headers["authorization"].removeprefix("Bearer ")
        with caplog.at_level(logging.INFO, logger="cxgraph.access"):
            await ask(client, **{"x-request-id": "dash-2"})
    assert stack.count == 0
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cxgraph.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["requestId"] == "dash-2" and line["status"] == 200
    assert line["path"] == "/graphql" and line["tenant"] == "default"
    assert line["credential"] == f"key:{key.split('_')[1]}"
    assert line["method"] == "POST" and isinstance(line["ms"], float)


async def test_a_second_key_of_the_same_tenant_with_fewer_scopes_is_not_served(
    cache_on: Starlette,
) -> None:
    async with http_client(cache_on) as client:
        _, stack = await seeded(client, cache_on)
    narrow = await api_key(cache_on, "default", ["data:read"])
    transport = httpx.ASGITransport(app=cache_on)
    headers = {"authorization": f"Bearer {narrow}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://cxgraph.test", headers=headers
    ) as reader:
        for _ in range(2):  # the second time, its credential is remembered
            refused = await ask(reader)
            assert refused.headers.get("x-cx-cache") is None
            assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert stack.count == 2
