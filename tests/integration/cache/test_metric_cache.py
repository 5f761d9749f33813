"""The metric result cache: hits, misses after a write, Redis keys, single-flight, Redis down.

The Redis-backed tests use database 15 of the Redis on 127.0.0.1:6379 (flushed before and
after each test) and are skipped when none answers there. The same behaviour is checked on
the in-memory backend, and with a Redis that does not answer (nothing listens on port 1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from service.cache.metric_cache import MetricCache, RawBytes, build_backend
from service.http.app import create_app
from service.metrics.service import MetricsService
from service.settings import Settings
from tests.conftest import http_client, make_settings, serving
from tests.graphql import gql_ok
from tests.integration.builders import answer, nps, response, submit_responses

# aiocache 0.12.3 calls redis-py APIs that redis-py 8 deprecates (setex, close). Outside the
# test suite a DeprecationWarning is not an error; here it would turn every Redis write and
# every shutdown into a failure, so these two (and only these) are let through.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

REDIS_URL = "redis://127.0.0.1:6379/15"
DOWN_URL = "redis://127.0.0.1:1/0"
KEY = re.compile(r"^cx:v2:default:[0-9a-f]{32}:d(\d+)$")
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
METRIC = """query($kind: MetricKind!, $window: TimeWindow, $min: Int) {
  metric(kind: $kind, window: $window, minDataVersion: $min) {
    n value numerator dataVersion computedAt } }"""


# -- fixtures -----------------------------------------------------------------------------------


async def _redis_or_skip() -> aioredis.Redis:
    """Redis database 15, emptied; skips the test when no Redis answers on 6379."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        await client.ping()
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"no Redis answers on 127.0.0.1:6379 ({exc!r})")
    await client.flushdb()
    return client


async def _release(client: aioredis.Redis) -> None:
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def redis_db() -> AsyncIterator[aioredis.Redis]:
    client = await _redis_or_skip()
    yield client
    await _release(client)


async def _serve(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with serving(settings) as (app, c):
        yield app, c


@pytest.fixture(params=["memory", "redis"])
async def cached(
    request: pytest.FixtureRequest, mongo_uri: str
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app with a working cache: in memory, or in Redis database 15."""
    if request.param == "memory":
        async for served in _serve(make_settings(mongo_uri, cache_backend="memory")):
            yield served
        return
    client = await _redis_or_skip()
    try:
        settings = make_settings(mongo_uri, cache_backend="redis", redis_url=REDIS_URL)
        async for served in _serve(settings):
            yield served
    finally:
        await _release(client)


@pytest.fixture
async def on_redis(
    redis_db: aioredis.Redis, mongo_uri: str
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    settings = make_settings(mongo_uri, cache_backend="redis", redis_url=REDIS_URL)
    async for served in _serve(settings):
        yield served


@pytest.fixture
async def redis_down(mongo_uri: str) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    settings = make_settings(mongo_uri, cache_backend="redis", redis_url=DOWN_URL)
    async for served in _serve(settings):
        yield served


# -- helpers ------------------------------------------------------------------------------------


async def metric(client: httpx.AsyncClient, kind: str = "CSAT", min_version: int | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    data = await gql_ok(client, METRIC, {"kind": kind, "window": WINDOW, "min": min_version})
    result: dict[str, Any] = data["metric"]
    return result


def stats(app: Starlette) -> tuple[int, int, int]:
    s = app.state.cx.cache.stats
    return s.hits, s.misses, s.errors


def count_computations(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each MetricsService.compute call of this app."""
    metrics: MetricsService = app.state.cx.metrics
    calls: list[object] = []
    original: Callable[..., Any] = metrics.compute

    async def counting(tenant: str, q: Any) -> Any:
        calls.append(q)
        return await original(tenant, q)

    monkeypatch.setattr(metrics, "compute", counting)
    return calls


async def seed(client: httpx.AsyncClient) -> int:
    written = await submit_responses(client, [
        response("r1", submitted_at="2026-03-01T10:00:00Z", answers=[answer("CSAT", 5), nps(9)]),
        response("r2", submitted_at="2026-03-02T10:00:00Z", answers=[answer("CSAT", 2)]),
    ])  # fmt: skip
    return int(written["dataVersion"])


# -- the backend --------------------------------------------------------------------------------


async def test_the_redis_backend_is_built_from_the_url() -> None:
    backend = build_backend(Settings(cache_backend="redis", redis_url=REDIS_URL))
    try:
        assert (backend.endpoint, backend.port, backend.db) == ("127.0.0.1", 6379, 15)
        assert isinstance(backend.serializer, RawBytes)  # the codec writes JSON, never pickle
        assert backend.timeout == 0.5
    finally:
        await backend.close()


# -- hits and misses ----------------------------------------------------------------------------


async def test_a_second_identical_query_is_a_hit(
    cached: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = cached
    version = await seed(client)
    calls = count_computations(app, monkeypatch)
    before = stats(app)

    first = await metric(client)
    assert stats(app) == (before[0], before[1] + 1, before[2])
    second = await metric(client)
    assert stats(app) == (before[0] + 1, before[1] + 1, before[2])
    assert second["computedAt"] == first["computedAt"]
    assert second == first
    assert (first["n"], first["numerator"], first["value"], first["dataVersion"]) == (
        2, 1, 50.0, version,
    )  # fmt: skip
    assert len(calls) == 1
    assert stats(app)[2] == 0


async def test_a_different_query_is_a_miss(cached: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = cached
    await seed(client)
    await metric(client, "CSAT")
    hits, misses, _ = stats(app)
    await metric(client, "NPS")
    assert stats(app)[:2] == (hits, misses + 1)


async def test_a_write_makes_the_next_query_a_miss_with_the_new_data(
    cached: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = cached
    await seed(client)
    first = await metric(client)
    hits, misses, _ = stats(app)

    written = await submit_responses(
        client, [response("r3", submitted_at="2026-03-02T11:00:00Z", answers=[answer("CSAT", 4)])]
    )
    after = await metric(client, min_version=written["dataVersion"])
    assert stats(app)[:2] == (hits, misses + 1)
    assert after["dataVersion"] == written["dataVersion"] == first["dataVersion"] + 1
    assert (after["n"], after["numerator"]) == (3, 2)
    assert after["computedAt"] != first["computedAt"]

    again = await metric(client)
    assert stats(app)[:2] == (hits + 1, misses + 1)
    assert again == after


async def test_concurrent_identical_queries_compute_once(
    cached: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = cached
    await seed(client)
    calls = count_computations(app, monkeypatch)
    _, misses, errors = stats(app)

    results = await asyncio.gather(*(metric(client) for _ in range(5)))

    assert len(calls) == 1
    assert stats(app)[1] == misses + 1
    assert stats(app)[2] == errors
    assert all(r == results[0] for r in results)
    assert results[0]["n"] == 2


async def test_a_failed_computation_reaches_every_waiter_and_is_not_cached() -> None:
    cache = MetricCache(None, 60)
    started = asyncio.Event()
    calls: list[int] = []

    async def failing() -> int:
        calls.append(1)
        started.set()
        await asyncio.sleep(0.05)
        raise RuntimeError("database went away")

    leader = asyncio.create_task(cache.get_or_compute("k", failing))
    await started.wait()
    waiter = asyncio.create_task(cache.get_or_compute("k", failing))
    for task in (leader, waiter):
        with pytest.raises(RuntimeError, match="database went away"):
            await task
    assert len(calls) == 1

    async def working() -> int:
        return 7

    assert await cache.get_or_compute("k", working) == 7
    assert (cache.stats.hits, cache.stats.misses) == (0, 2)


async def test_a_cancelled_request_does_not_cancel_the_identical_ones_waiting_on_it() -> None:
    """A client that disconnects cancels its own request; the identical requests that were
    waiting for its computation must still get an answer, not a CancelledError."""
    cache = MetricCache(None, 60)
    started = asyncio.Event()
    calls: list[int] = []

    async def slow() -> int:
        calls.append(1)
        started.set()
        await asyncio.sleep(0.1)
        return len(calls)

    leader = asyncio.create_task(cache.get_or_compute("k", slow))
    await started.wait()
    waiter = asyncio.create_task(cache.get_or_compute("k", slow))
    await asyncio.sleep(0.01)  # the waiter is now waiting on the leader's computation
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    done, _ = await asyncio.wait([waiter], timeout=2)
    assert done, "the waiter never finished"
    assert not waiter.cancelled(), "the waiter was cancelled with the request it waited on"
    assert waiter.result() == 2  # it computed by itself


# -- what Redis holds ---------------------------------------------------------------------------


async def test_redis_keys_carry_tenant_hash_and_data_version(
    on_redis: tuple[Starlette, httpx.AsyncClient], redis_db: aioredis.Redis
) -> None:
    app, client = on_redis
    version = await seed(client)
    await metric(client, "CSAT")
    await metric(client, "NPS")

    keys = sorted(k.decode() for k in await redis_db.keys("*"))
    assert len(keys) == 2
    assert all(KEY.match(k) for k in keys), keys
    assert {KEY.match(k).group(1) for k in keys} == {str(version)}  # type: ignore[union-attr]
    ttl = await redis_db.ttl(keys[0])
    assert 0 < ttl <= app.state.cx.settings.cache_ttl_s

    written = await submit_responses(
        client, [response("r3", submitted_at="2026-03-02T11:00:00Z", answers=[answer("CSAT", 4)])]
    )
    await metric(client, "CSAT", written["dataVersion"])
    keys_after = sorted(k.decode() for k in await redis_db.keys("*"))
    assert len(keys_after) == 3  # nothing is invalidated: the old entries just stop being asked
    versions = sorted(int(KEY.match(k).group(1)) for k in keys_after)  # type: ignore[union-attr]
    assert versions == [version, version, version + 1]
    # the same query under the new version: same hash, new version suffix
    new_key = next(k for k in keys_after if k.endswith(f":d{version + 1}"))
    assert new_key.rsplit(":", 1)[0] in {k.rsplit(":", 1)[0] for k in keys}


async def test_a_hit_from_another_process_sees_the_stored_result(
    on_redis: tuple[Starlette, httpx.AsyncClient], mongo_uri: str
) -> None:
    """A second app on the same Redis and database reads what the first stored."""
    app, client = on_redis
    await seed(client)
    first = await metric(client)
    other = create_app(app.state.cx.settings)
    async with other.router.lifespan_context(other):
        async with http_client(other) as c2:
            assert await metric(c2) == first
        assert stats(other)[:2] == (1, 0)


# -- Redis down ---------------------------------------------------------------------------------


async def test_queries_still_answer_when_redis_is_down(
    redis_down: tuple[Starlette, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = redis_down
    caplog.set_level(logging.WARNING, logger="cxgraph.cache")
    await seed(client)

    first = await metric(client)
    second = await metric(client, "NPS")
    third = await metric(client)
    assert (first["n"], first["numerator"], first["value"]) == (2, 1, 50.0)
    assert (second["n"], second["value"]) == (1, 100.0)
    assert (third["n"], third["numerator"]) == (2, 1)

    hits, misses, errors = stats(app)
    assert hits == 0
    assert misses == 3
    # The first read failed; the backend is then left alone for RETRY_AFTER_S (1 s), longer
    # than these three queries take.
    assert errors == 1
    warnings = [r for r in caplog.records
                if r.name == "cxgraph.cache" and r.levelno == logging.WARNING]  # fmt: skip
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "metric cache unavailable" in warnings[0].getMessage()

    text = (await client.get("/metrics")).text
    found = re.search(r"^cx_cache_errors_total (\d+)$", text, re.MULTILINE)
    assert found is not None, text
    assert int(found.group(1)) == errors > 0
    assert "cx_cache_misses_total 3" in text.splitlines()
    assert "cx_cache_hits_total 0" in text.splitlines()


async def test_metrics_endpoint_counts_hits_and_misses(
    cached: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, client = cached
    await seed(client)
    await metric(client)
    await metric(client)
    await metric(client, "NPS")
    lines = (await client.get("/metrics")).text.splitlines()
    assert "cx_cache_hits_total 1" in lines
    assert "cx_cache_misses_total 2" in lines
    assert "cx_cache_errors_total 0" in lines
    assert "# TYPE cx_cache_errors_total counter" in lines


# -- values are data, never code ----------------------------------------------------------------


class _Planted:
    """Unpickling this runs ``open(marker, "w")``: proof that a payload was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


async def test_a_pickle_planted_in_redis_is_never_run_and_counts_as_a_miss(
    on_redis: tuple[Starlette, httpx.AsyncClient],
    redis_db: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    app, client = on_redis
    await seed(client)
    expected = await metric(client)
    keys = [k for k in await redis_db.keys("*")]
    assert len(keys) == 1
    assert json.loads(await redis_db.get(keys[0]))["$c"] == "MetricResult"  # JSON, not pickle
    marker = tmp_path / "executed"
    await redis_db.set(keys[0], pickle.dumps(_Planted(str(marker))))
    calls = count_computations(app, monkeypatch)

    again = await metric(client)

    assert not marker.exists(), "the planted payload was executed"
    assert {**again, "computedAt": None} == {**expected, "computedAt": None}
    assert again["computedAt"] > expected["computedAt"]
    assert len(calls) == 1  # a miss: computed again
    assert app.state.cx.cache.stats.undecodable == 1
    body = (await client.get("/metrics")).text
    assert "cx_cache_undecodable_total 1" in body
    # the computed answer replaced the planted value
    assert json.loads(await redis_db.get(keys[0]))["$c"] == "MetricResult"


async def test_the_memory_cache_is_bounded_and_evicts_the_least_recently_used(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(mongo_uri, cache_backend="memory", cache_max_entries=2)
    async with serving(settings) as (app, client):
        await seed(client)
        calls = count_computations(app, monkeypatch)
        for kind in ("CSAT", "CES", "CSAT", "NPS"):  # CES is now the least recently used
            await metric(client, kind)
        assert len(calls) == 3
        assert len(app.state.cx.cache.backend) == 2
        assert app.state.cx.cache.stats.evictions == 1
        await metric(client, "CSAT")  # kept
        assert len(calls) == 3
        await metric(client, "CES")  # evicted: computed again
        assert len(calls) == 4
        assert "cx_cache_evictions_total 2" in (await client.get("/metrics")).text


async def test_settings_that_change_an_answer_are_part_of_the_key(mongo_uri: str) -> None:
    keys = []
    for overrides in (
        {}, {"min_sample": 5}, {"timezone": "Asia/Tehran"}, {"fcr_recontact_days": 3}
    ):  # fmt: skip
        settings = make_settings(mongo_uri, **overrides)
        async with serving(settings) as (app, _):
            keys.append(app.state.cx.cache.key("default", 3, {"op": "metric", "q": "same"}))
    assert len(set(keys)) == 4
    assert all(KEY.match(k) for k in keys)
