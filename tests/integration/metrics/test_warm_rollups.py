"""Rollups kept warm (docs/adr/0023): after writes, the days they touched are materialised in
the background — every one of them, each as few times as a burst allows, by one replica at a
time — and what is stored equals a recount from raw documents (`rollups rebuild --check`).

Materialisations are counted by wrapping ``rollups.materialize`` (the real one runs); the
tenant's timezone is UTC, so rollup days are UTC dates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from service.metrics.warmer import lease_name
from service.settings import Settings
from service.store import leases, rollups
from tests import oracle
from tests.conftest import http_client, run_cli, running_app
from tests.graphql import gql_ok
from tests.integration.builders import answer, response, submit_responses

TENANT = "default"
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC))
TREND = """query($window: TimeWindow!) {
  trend(kind: CSAT, granularity: DAY, window: $window, source: ROLLUPS) {
    periodStart result { n numerator denominator value } } }"""


def warm(settings: Settings, **overrides: Any) -> Settings:
    """The test's settings (its database) with the background warmer on."""
    values: dict[str, Any] = {"warm_rollups": True, "warm_delay_ms": 0}
    values.update(overrides)
    return settings.model_copy(update=values)


class Materialisations:
    """Every call of rollups.materialize that had days to do: which app, which days."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Any, list[str]]] = []
        self.running: Counter[tuple[int, str]] = Counter()  # (mongo id, day) in flight
        self.overlaps: list[str] = []  # days two materialisations had at once
        self.gates: dict[int, asyncio.Event] = {}  # mongo id -> held until set
        self.entered = asyncio.Event()
        original = rollups.materialize

        async def counted(mongo: Any, tenant: str, tz: Any, days: list[str], *rest: Any) -> Any:
            if not days:
                return await original(mongo, tenant, tz, days, *rest)
            self.calls.append((mongo, list(days)))
            for day in days:
                if any(n and d == day for (_, d), n in self.running.items()):
                    self.overlaps.append(day)
                self.running[(id(mongo), day)] += 1
            self.entered.set()
            try:
                gate = self.gates.get(id(mongo))
                if gate is not None:
                    await gate.wait()
                await asyncio.sleep(0.02)  # widen the window in which an overlap would show
                return await original(mongo, tenant, tz, days, *rest)
            finally:
                for day in days:
                    self.running[(id(mongo), day)] -= 1

        monkeypatch.setattr(rollups, "materialize", counted)

    def per_day(self, mongo: Any = None) -> Counter[str]:
        return Counter(d for m, days in self.calls if mongo is None or m is mongo for d in days)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for something the background work does (bounded: a hang fails the test)."""
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the background work never got there")


def csat(value: int) -> dict[str, Any]:
    return answer("CSAT", value, 1, 5)


async def trend(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Per day of DAYS, from rollups alone."""
    window = {"from": WINDOW[0].isoformat(), "to": WINDOW[1].isoformat()}
    points = (await gql_ok(client, TREND, {"window": window}))["trend"]
    return [p["result"] for p in points]


def expected_trend(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per day, from the raw records by the independent oracle."""
    ds = oracle.Dataset(responses=sent)
    out = []
    for i in range(len(DAYS)):
        start = WINDOW[0] + timedelta(days=i)
        r = oracle.metric(ds, "CSAT", (start, start + timedelta(days=1)))
        out.append({k: r[k] for k in ("n", "numerator", "denominator", "value")})
    return out


async def no_stale_day(app: Starlette) -> list[str]:
    state = await rollups.state(app.state.cx.mongo, TENANT)
    return state.stale(state.written)


async def check_command(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = await run_cli("rollups", "rebuild", "--check")
    return code, capsys.readouterr().out.strip().splitlines()[-1]


@pytest.fixture
async def warm_app(settings: Settings) -> AsyncIterator[Starlette]:
    async with running_app(warm(settings)) as application:
        yield application


# -- a burst of concurrent writes ----------------------------------------------------------------


async def test_a_burst_of_concurrent_writes_leaves_no_stale_day_and_equals_raw(
    warm_app: Starlette, cli_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    counted = Materialisations(monkeypatch)
    sent: list[dict[str, Any]] = []

    async def partner(p: int, client: httpx.AsyncClient) -> None:
        # Eight batches each, over every day: new responses, then the first ones changed
        # (another value) and moved (another day), then a resend of the same batch.
        for b in range(6):
            batch = [
                response(f"p{p}-b{b}-r{i}", submitted_at=f"{DAYS[(p + b + i) % 5]}T1{i}:00:00Z",
                         answers=[csat(1 + (3 * p + b + 2 * i) % 5)])
                for i in range(5)
            ]  # fmt: skip
            sent.extend(batch)
            await submit_responses(client, batch)
        changed = [response(f"p{p}-b0-r{i}", submitted_at=f"{DAYS[(p + i + 2) % 5]}T08:00:00Z",
                            answers=[csat(5 - i % 5)]) for i in range(5)]  # fmt: skip
        sent.extend(changed)
        await submit_responses(client, changed)
        await submit_responses(client, changed)  # UNCHANGED: nothing more to materialise

    async with http_client(warm_app) as client:
        await asyncio.gather(*(partner(p, client) for p in range(8)))
        await warm_app.state.cx.warmer.wait_idle()

        assert await no_stale_day(warm_app) == []  # not one query ran: the warmer did it all
        assert set(counted.per_day()) == set(DAYS)
        assert counted.overlaps == []
        before = len(counted.calls)
        assert await trend(client) == expected_trend(sent)
        assert len(counted.calls) == before  # the query found every day fresh
    checked = f"rollups: {len(DAYS)} days with data, 0 drifted, 0 pending materialisation"
    assert await check_command(capsys) == (0, checked)
    stats = warm_app.state.cx.warmer.stats
    assert (stats.days, stats.failures, stats.lease_busy) == (sum(counted.per_day().values()), 0, 0)


async def test_a_day_touched_a_hundred_times_while_queued_is_materialised_twice(
    warm_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Materialisations(monkeypatch)
    mongo = warm_app.state.cx.mongo
    counted.gates[id(mongo)] = gate = asyncio.Event()
    day = DAYS[0]
    sent = [response("first", submitted_at=f"{day}T09:00:00Z", answers=[csat(5)])]
    async with http_client(warm_app) as client:
        await submit_responses(client, sent)
        await counted.entered.wait()  # the first materialisation has started, and waits
        more = [response(f"r{i}", submitted_at=f"{day}T10:{i % 60:02d}:00Z",
                         answers=[csat(1 + i % 5)]) for i in range(100)]  # fmt: skip
        await asyncio.gather(*(submit_responses(client, [r]) for r in more))
        sent.extend(more)
        assert warm_app.state.cx.warmer.queued_days == 1
        gate.set()
        await warm_app.state.cx.warmer.wait_idle()
        assert counted.per_day() == {day: 2}  # the one running, then once for all 100
        assert await no_stale_day(warm_app) == []
        assert (await trend(client))[0] == expected_trend(sent)[0]
    assert counted.per_day() == {day: 2}


# -- leases: one replica per tenant-day ----------------------------------------------------------


async def test_a_lease_is_exclusive_until_released_or_lapsed(app: Starlette) -> None:
    mongo = app.state.cx.mongo
    name = lease_name(TENANT, DAYS[0])
    assert await leases.acquire(mongo, name, "A", 60)
    assert not await leases.acquire(mongo, name, "B", 60)
    assert await leases.acquire(mongo, name, "A", 60)  # its holder may renew it
    await leases.release(mongo, name, "B")  # not B's: nothing happens
    assert await leases.holder_of(mongo, name) == "A"
    # A dies holding it: the lease lapses at its expiry and B takes it.
    await mongo[leases.LEASES].update_one(
        {"_id": name}, {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert await leases.holder_of(mongo, name) is None
    assert await leases.acquire(mongo, name, "B", 60)
    await leases.release(mongo, name, "A")  # A comes back late: B keeps it
    assert await leases.holder_of(mongo, name) == "B"
    await leases.release(mongo, name, "B")
    assert await leases.holder_of(mongo, name) is None
    assert await leases.acquire(mongo, name, "A", 60)


async def test_two_replicas_never_materialise_one_day_at_once(
    settings: Settings, cli_env: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Replica A holds the days' leases (its materialisation is held open); B's writes touch
    the same days: B finds them leased, waits, and materialises them once A lets go."""
    counted = Materialisations(monkeypatch)
    shared = warm(settings)
    async with (
        running_app(shared) as one, running_app(shared) as two,
        http_client(one) as a, http_client(two) as b,
    ):  # fmt: skip
        mongo_a, mongo_b = one.state.cx.mongo, two.state.cx.mongo
        counted.gates[id(mongo_a)] = gate = asyncio.Event()
        first = [response(f"a{i}", submitted_at=f"{d}T09:00:00Z", answers=[csat(4)])
                 for i, d in enumerate(DAYS[:3])]  # fmt: skip
        await submit_responses(a, first)
        await counted.entered.wait()  # A has the three leases and waits at the gate
        held = [await leases.holder_of(mongo_a, lease_name(TENANT, d)) for d in DAYS[:3]]
        assert held == [one.state.cx.warmer.holder] * 3
        second = [response(f"b{i}", submitted_at=f"{d}T10:00:00Z", answers=[csat(2)])
                  for i, d in enumerate(DAYS[:3])]  # fmt: skip
        await submit_responses(b, second)
        await until(lambda: two.state.cx.warmer.stats.lease_busy >= 3)  # B found them held
        assert counted.per_day(mongo_b) == {}
        gate.set()
        await one.state.cx.warmer.wait_idle()
        await two.state.cx.warmer.wait_idle()

        assert counted.overlaps == []
        assert counted.per_day(mongo_a) == dict.fromkeys(DAYS[:3], 1)
        # A materialised what it read before B's write; B the days again after it.
        assert counted.per_day(mongo_b) == dict.fromkeys(DAYS[:3], 1)
        assert await no_stale_day(one) == []
        assert await trend(b) == expected_trend(first + second)
    assert (await check_command(capsys))[0] == 0


async def test_a_lease_left_by_a_dead_replica_delays_warming_never_answers(
    warm_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Correctness never depends on the background work: a day whose lease a crashed replica
    still holds is stale, and a query materialises it by itself."""
    counted = Materialisations(monkeypatch)
    mongo = warm_app.state.cx.mongo
    day = DAYS[1]
    assert await leases.acquire(mongo, lease_name(TENANT, day), "dead-replica", 60)
    sent = [response("r1", submitted_at=f"{day}T09:00:00Z", answers=[csat(5)]),
            response("r2", submitted_at=f"{day}T10:00:00Z", answers=[csat(3)])]  # fmt: skip
    async with http_client(warm_app) as client:
        await submit_responses(client, sent)
        warmer = warm_app.state.cx.warmer
        await until(lambda: warmer.stats.lease_busy >= 1)
        assert counted.calls == []
        assert await no_stale_day(warm_app) == [day]
        assert (await trend(client))[1] == expected_trend(sent)[1]  # the query materialised it
        assert counted.per_day() == {day: 1}
        # The lease lapses: the warmer looks again, finds the day fresh and does nothing.
        await mongo[leases.LEASES].update_one(
            {"_id": lease_name(TENANT, day)},
            {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}},
        )
        await warmer.wait_idle()
        assert counted.per_day() == {day: 1}
        assert warmer.stats.days == 0


async def test_metrics_expose_the_queue_and_the_durations(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Materialisations(monkeypatch)
    async with (
        running_app(warm(settings, warm_concurrency=1)) as warm_app,
        http_client(warm_app) as client,
    ):
        counted.gates[id(warm_app.state.cx.mongo)] = gate = asyncio.Event()
        await submit_responses(client, [response("r1", submitted_at=f"{DAYS[0]}T09:00:00Z",
                                                 answers=[csat(5)])])  # fmt: skip
        await counted.entered.wait()
        await submit_responses(client, [
            response(f"r{i}", submitted_at=f"{d}T09:00:00Z", answers=[csat(5)])
            for i, d in enumerate(DAYS, start=2)
        ])  # fmt: skip
        waiting = (await client.get("/metrics")).text
        gate.set()
        await warm_app.state.cx.warmer.wait_idle()
        done = (await client.get("/metrics")).text
    # DAYS[0] runs; the five written meanwhile wait (DAYS[0] among them, written again).
    assert "cx_rollup_warm_queue_days 5.0" in waiting
    assert "cx_rollup_warm_queue_days 0.0" in done
    assert "cx_rollup_warm_duration_seconds_count 2.0" in done
    assert "cx_rollup_warm_days_total 6.0" in done
    assert "cx_rollup_warm_failures_total 0.0" in done
