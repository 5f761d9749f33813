"""Identical metric misses compute once: per process, and with Redis once across replicas
(docs/adr/0023) — never an error, with Redis unreachable or dying in the middle.

Two app instances share the test's MongoDB database and a Redis: the one on 127.0.0.1:6379
(database 13; each test uses a tenant of its own, so nothing is flushed), a closed port, or
a redis-server of the test's own that it stops mid-way. Computations are counted by wrapping
each app's ``MetricsService.compute`` (the real one runs); the first one is held until every
other request is seen waiting, so the count proves the waiting, not a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from service.cache.metric_cache import MetricCache, build_backend
from service.cache.single_flight import ReplicaLock
from service.settings import Settings
from tests import oracle
from tests.conftest import http_client, make_settings, running_app
from tests.graphql import gql
from tests.integration.builders import nps, response, submit_responses
from tests.integration.faults.test_redis import redis_server
from tests.integration.processes import free_port

pytestmark = [  # aiocache 0.12.3 on redis-py 8, as in test_cache.py
    pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]

REDIS_URL = "redis://127.0.0.1:6379/13"
DOWN_URL = "redis://127.0.0.1:1/0"
WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
METRIC = """query { metric(kind: NPS, window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-03T00:00:00Z"}) { n value numerator denominator dataVersion } }"""
SENT = [response(f"r{i}", submitted_at=f"2026-03-0{1 + i % 2}T10:00:00Z", answers=[nps(i % 11)])
        for i in range(23)]  # fmt: skip


async def redis_or_skip() -> None:
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        await client.ping()
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
        pytest.skip(f"no Redis answers on 127.0.0.1:6379 ({exc!r})")
    finally:
        await client.aclose()


def expected() -> dict[str, Any]:
    r = oracle.metric(oracle.Dataset(responses=SENT), "NPS", WINDOW)
    return {k: r[k] for k in ("n", "value", "numerator", "denominator")}


class Computations:
    """Counts each app's computations; the first waits until ``ready()`` says every other
    request is waiting (or the test fails)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, apps: list[Starlette]) -> None:
        self.calls: list[int] = []  # which app (index) computed
        self.ready: Callable[[], bool] = lambda: True
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None
        for index, app in enumerate(apps):
            self._wrap(monkeypatch, app, index)

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, app: Starlette, index: int) -> None:
        metrics = app.state.cx.metrics
        original = metrics.compute

        async def compute(tenant: str, q: Any) -> Any:
            self.calls.append(index)
            self.entered.set()
            for _ in range(1000):
                if self.ready():
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the other requests never waited")
            if self.gate is not None:
                await self.gate.wait()
            return await original(tenant, q)

        monkeypatch.setattr(metrics, "compute", compute)


def flights(*apps: Starlette) -> list[Any]:
    return [app.state.cx.cache.flight_stats for app in apps]


async def replicas(settings: Settings, tenant: str, stack: AsyncExitStack) -> tuple[
    Starlette, Starlette, httpx.AsyncClient, httpx.AsyncClient
]:  # fmt: skip
    one = await stack.enter_async_context(running_app(settings))
    two = await stack.enter_async_context(running_app(settings))
    a = await stack.enter_async_context(http_client(one, tenant=tenant))
    b = await stack.enter_async_context(http_client(two, tenant=tenant))
    await submit_responses(a, SENT)
    return one, two, a, b


async def answers(client: httpx.AsyncClient) -> dict[str, Any]:
    body = await gql(client, METRIC)
    assert "errors" not in body, body["errors"]
    found: dict[str, Any] = body["data"]["metric"]
    found.pop("dataVersion")
    return found


def shared_settings(mongo_uri: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"cache_backend": "redis", "redis_url": REDIS_URL}
    values.update(overrides)
    return make_settings(mongo_uri, **values)


# -- per process --------------------------------------------------------------------------------


async def test_identical_misses_in_one_process_compute_once(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(make_settings(mongo_uri)) as app, http_client(app) as client:
        await submit_responses(client, SENT)
        counted = Computations(monkeypatch, [app])
        counted.ready = lambda: flights(app)[0].process_waits == 5
        results = await asyncio.gather(*(answers(client) for _ in range(6)))
        exposed = (await client.get("/metrics")).text
    assert counted.calls == [0]
    assert results == [expected()] * 6
    assert 'cx_single_flight_waits_total{scope="process"} 5.0' in exposed


# -- across replicas, with Redis ------------------------------------------------------------------


async def test_identical_misses_on_two_replicas_compute_once(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await redis_or_skip()
    async with AsyncExitStack() as stack:
        one, two, a, b = await replicas(shared_settings(mongo_uri), uuid.uuid4().hex, stack)
        counted = Computations(monkeypatch, [one, two])
        # One request computes; two wait beside it in its process; in the other process one
        # waits for the Redis lock and two wait beside that one.
        counted.ready = lambda: (
            sum(f.process_waits for f in flights(one, two)) == 4
            and sum(f.replica_waits for f in flights(one, two)) == 1
        )
        results = await asyncio.gather(*(answers(c) for c in (a, b, a, b, a, b)))
        exposed = [(await c.get("/metrics")).text for c in (a, b)]
    assert len(counted.calls) == 1
    assert results == [expected()] * 6
    waiter = flights(one, two)[1 - counted.calls[0]]
    assert (waiter.replica_waits, waiter.shared, waiter.lock_timeouts) == (1, 1, 0)
    assert 'cx_single_flight_waits_total{scope="replicas"} 1.0' in exposed[1 - counted.calls[0]]
    assert "cx_single_flight_shared_total 1.0" in exposed[1 - counted.calls[0]]


async def test_with_redis_unreachable_each_replica_computes_once_and_answers(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with AsyncExitStack() as stack:
        settings = shared_settings(mongo_uri, redis_url=DOWN_URL)
        one, two, a, b = await replicas(settings, "default", stack)
        counted = Computations(monkeypatch, [one, two])
        counted.ready = lambda: sum(f.process_waits for f in flights(one, two)) == 4
        results = await asyncio.gather(*(answers(c) for c in (a, b, a, b, a, b)))
    assert sorted(counted.calls) == [0, 1]  # once per process: no lock to share
    assert results == [expected()] * 6
    assert [f.replica_waits for f in flights(one, two)] == [0, 0]


async def test_redis_dying_while_a_replica_waits_for_the_lock(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holds the lock and computes; B waits for it; Redis stops. A's answer cannot be
    stored and B's next look fails: B computes by itself, and both answer."""
    port = free_port()
    with redis_server(port):
        settings = shared_settings(mongo_uri, redis_url=f"redis://127.0.0.1:{port}/0")
        async with AsyncExitStack() as stack:
            one, two, a, b = await replicas(settings, "default", stack)
            counted = Computations(monkeypatch, [one, two])
            counted.gate = asyncio.Event()
            first = asyncio.create_task(answers(a))
            await counted.entered.wait()  # A computes (holding the lock) and waits at the gate
            second = asyncio.create_task(answers(b))
            for _ in range(1000):
                if flights(two)[0].replica_waits == 1:
                    break
                await asyncio.sleep(0.01)
            assert flights(two)[0].replica_waits == 1
            await asyncio.to_thread(stop_redis, port)
            counted.gate.set()
            results = [await first, await second]
    assert counted.calls == [0, 1]
    assert results == [expected()] * 2
    assert one.state.cx.cache.stats.errors >= 1  # A's answer could not be stored


def stop_redis(port: int) -> None:
    import redis

    client = redis.Redis(port=port, socket_timeout=2)
    with contextlib.suppress(redis.ConnectionError):  # it goes away while answering
        client.shutdown(nosave=True)


async def test_a_lock_whose_holder_died_is_waited_out_then_computed() -> None:
    """A holder that died never lets go: after CX_SINGLE_FLIGHT_TIMEOUT_MS the waiter
    computes by itself."""
    await redis_or_skip()
    settings = Settings(cache_backend="redis", redis_url=REDIS_URL)
    cache = MetricCache(build_backend(settings), 60)
    cache.flight = ReplicaLock(REDIS_URL, 200)
    key = f"cx:test:{uuid.uuid4().hex}"
    try:
        assert await cache.flight.acquire(f"{key}:lock", "a-dead-replica")  # for 200 ms
        await cache.flight.client.pexpire(f"{key}:lock", 60_000)  # and it never lets go
        calls: list[int] = []

        async def compute() -> int:
            calls.append(1)
            return 42

        assert await cache.get_or_compute(key, compute) == 42
        assert calls == [1]
        assert (cache.flight_stats.replica_waits, cache.flight_stats.lock_timeouts) == (1, 1)
        assert await cache.get_or_compute(key, compute) == 42  # stored: a hit now
        assert calls == [1]
    finally:
        await cache.flight.client.delete(key, f"{key}:lock")
        await cache.close()
