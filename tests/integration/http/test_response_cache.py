"""The response cache in front of GraphQL execution: a hit touches neither MongoDB nor the
executor; tenants, scopes and data versions never share an entry; errors are never kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import monitoring
from starlette.applications import Starlette

from tests.conftest import http_client, make_settings, running_app
from tests.integration.builders import answer, response, submit_responses

WINDOW = '{from: "2026-02-01T00:00:00Z", to: "2026-04-01T00:00:00Z"}'
QUERY = f"{{ metric(kind: CSAT, window: {WINDOW}) {{ n value }} }}"
SAME = f"""# a comment, other spacing, other argument order: the same question
query {{ metric( window: {WINDOW},   kind: CSAT ) {{ n value }} }}"""


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def cached_app(mongo_uri: str) -> AsyncIterator[tuple[Starlette, Commands]]:
    listener = Commands()
    monitoring.register(listener)
    settings = make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=60_000)
    async with running_app(settings) as application:
        yield application, listener


async def ask(client: httpx.AsyncClient, query: str = QUERY, **variables: Any) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables})


async def test_a_hit_touches_neither_mongodb_nor_the_executor(
    cached_app: tuple[Starlette, Commands], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, commands = cached_app
    async with http_client(app) as client:
        await submit_responses(client, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
        first = await ask(client)
        assert first.headers.get("x-cx-cache") is None

        async def refuse(*args: Any) -> Any:
            raise AssertionError("a hit executed the query")

        monkeypatch.setattr(app.state.cx.metrics, "metric", refuse)
        before = len(commands.names)
        assert before > 0  # the listener sees this app's commands
        for query in (QUERY, SAME):
            hit = await ask(client, query)
            assert hit.headers["x-cx-cache"] == "hit"
            assert hit.content == first.content
        assert len(commands.names) == before  # not one MongoDB command
        exposed = (await client.get("/metrics")).text
        assert "cx_response_cache_hits_total 2" in exposed
        assert "cx_response_cache_misses_total 1" in exposed


async def test_a_write_through_this_replica_is_seen_at_once(
    cached_app: tuple[Starlette, Commands],
) -> None:
    app, _ = cached_app
    async with http_client(app) as client:
        await submit_responses(client, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
        assert (await ask(client)).json()["data"]["metric"]["n"] == 1
        written = await submit_responses(
            client, [response("r2", answers=[answer("CSAT", 1, 1, 5)])]
        )
        again = await ask(client)
        assert again.headers.get("x-cx-cache") is None
        assert again.json()["data"]["metric"]["n"] == 2
        with_min = f"""query($v: Int) {{ metric(kind: CSAT, window: {WINDOW},
            minDataVersion: $v) {{ n dataVersion }} }}"""
        answered = (await ask(client, with_min, v=written["dataVersion"])).json()
        assert answered["data"]["metric"]["dataVersion"] >= written["dataVersion"]


async def test_tenants_and_scopes_never_share_an_entry(
    cached_app: tuple[Starlette, Commands],
) -> None:
    app, _ = cached_app
    async with http_client(app, tenant="A") as a, http_client(app, tenant="B") as b:
        await submit_responses(a, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
        assert (await ask(a)).json()["data"]["metric"]["n"] == 1
        other = await ask(b)
        assert other.headers.get("x-cx-cache") is None
        assert other.json()["data"]["metric"]["n"] == 0
    async with http_client(app, tenant="A", scopes=["metrics:read"]) as narrow:
        assert (await ask(narrow)).headers.get("x-cx-cache") is None  # other scopes: own entry
        assert (await ask(narrow)).headers["x-cx-cache"] == "hit"


async def test_errors_and_mutations_are_never_cached(
    cached_app: tuple[Starlette, Commands],
) -> None:
    app, _ = cached_app
    async with http_client(app, scopes=["metrics:read"]) as client:
        both = (
            f"{{ metric(kind: CSAT, window: {WINDOW}) {{ n }} customers {{ edges {{ cursor }} }} }}"
        )
        for _ in range(2):
            answered = await ask(client, both)
            assert answered.headers.get("x-cx-cache") is None
            assert answered.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with http_client(app) as client:
        mutation = "mutation { upsertCustomers(input: []) { dataVersion } }"
        for _ in range(2):
            assert (await ask(client, mutation)).headers.get("x-cx-cache") is None


# -- automatic persisted queries, GET, ETag ----------------------------------------------------


def persisted(query: str) -> dict[str, Any]:
    digest = hashlib.sha256(query.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_apq_not_found_then_registered_then_hit(app: Starlette) -> None:
    async with http_client(app) as client:
        hashed = {"extensions": persisted(QUERY)}
        missing = (await client.post("/graphql", json=hashed)).json()
        assert missing["errors"][0]["message"] == "PersistedQueryNotFound"
        assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        registered = await client.post("/graphql", json={"query": QUERY, **hashed})
        assert registered.json()["data"]["metric"] == {"n": 0, "value": None}
        by_hash = await client.post("/graphql", json=hashed)
        assert by_hash.json()["data"] == registered.json()["data"]
        wrong = {"query": SAME, **hashed}  # another text under this hash
        refused = await client.post("/graphql", json=wrong)
        assert (refused.status_code, refused.json()["errors"][0]["extensions"]["code"]) == (
            400, "INVALID_PERSISTED_QUERY")  # fmt: skip


async def test_get_by_hash_revalidates_with_etag_until_the_data_changes(
    cached_app: tuple[Starlette, Commands],
) -> None:
    app, _ = cached_app
    async with http_client(app) as client:
        await client.post("/graphql", json={"query": QUERY, "extensions": persisted(QUERY)})
        params = {"extensions": json.dumps(persisted(QUERY))}
        first = await client.get("/graphql", params=params)
        assert first.status_code == 200 and first.json()["data"]["metric"]["n"] == 0
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        same = await client.get("/graphql", params=params, headers={"if-none-match": etag})
        assert (same.status_code, same.content) == (304, b"")
        await submit_responses(client, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
        changed = await client.get("/graphql", params=params, headers={"if-none-match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert changed.json()["data"]["metric"]["n"] == 1


@pytest.mark.parametrize("backend", ["memory", "redis"])
# aiocache 0.12.3 on redis-py 8, as in test_cache.py
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_two_replicas_see_each_others_writes(mongo_uri: str, backend: str) -> None:
    """A write through replica A: B answers it at once when asked with minDataVersion, and
    without it within CX_VERSION_STALENESS_MS. With Redis (database 13 of 127.0.0.1:6379, a
    tenant of the test's own) they also share metric results."""
    import asyncio
    import uuid

    import redis.asyncio as aioredis

    tenant = "default"
    shared: dict[str, Any] = {}
    if backend == "redis":
        tenant, url = uuid.uuid4().hex, "redis://127.0.0.1:6379/13"
        probe = aioredis.Redis.from_url(url, socket_connect_timeout=0.5)
        try:
            await probe.ping()
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
            pytest.skip(f"no Redis answers on 127.0.0.1:6379 ({exc!r})")
        finally:
            await probe.aclose()
        shared = {"cache_backend": "redis", "redis_url": url}
    settings = make_settings(
        mongo_uri, response_cache_entries=100, version_staleness_ms=300, **shared
    )
    with_min = f"""query($v: Int) {{ metric(kind: CSAT, window: {WINDOW}, minDataVersion: $v)
                   {{ n }} }}"""
    record = response("r1", answers=[answer("CSAT", 5, 1, 5)])
    async with (
        running_app(settings) as one,
        running_app(settings) as two,
        http_client(one, tenant=tenant) as a,
        http_client(two, tenant=tenant) as b,
    ):
        assert (await ask(b)).json()["data"]["metric"]["n"] == 0  # B caches n = 0
        written = await submit_responses(a, [record])
        fresh = await ask(b, with_min, v=written["dataVersion"])
        assert fresh.json()["data"]["metric"]["n"] == 1
        await asyncio.sleep(0.4)  # past the staleness bound
        assert (await ask(b)).json()["data"]["metric"]["n"] == 1
        if backend == "redis":  # B computed n = 1 at this version: A finds it in Redis
            hits, misses = one.state.cx.cache.stats.hits, one.state.cx.cache.stats.misses
            assert (await ask(a)).json()["data"]["metric"]["n"] == 1
            assert (one.state.cx.cache.stats.hits, one.state.cx.cache.stats.misses) == (
                hits + 1, misses)  # fmt: skip
