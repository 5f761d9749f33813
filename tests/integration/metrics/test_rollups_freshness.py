"""Rollups are never stale: writes, resends, updates, late customers, races, rebuild --check.

Through GraphQL with ``source: AUTO`` (rollups for whole days plus raw edges) and, for the
race and the command, straight at ``service.store.rollups`` and ``service.cli.main``. The tenant's
timezone is UTC, so rollup days are UTC dates.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.query import MetricQuery, Source
from service.domain.metrics.timeframe import Window
from service.domain.model import MetricKind
from service.store import rollups
from tests.conftest import run_cli
from tests.graphql import gql_ok
from tests.integration.builders import (
    all_docs,
    answer,
    counts,
    customer,
    nps,
    response,
    statuses,
    submit_responses,
    upsert_customers,
)

TENANT = "default"
UTC_ZONE = ZoneInfo("UTC")
# Whole UTC days 2026-03-01 .. 2026-03-04, plus 12 raw hours on each side.
WINDOW = {"from": "2026-02-28T12:00:00Z", "to": "2026-03-05T12:00:00Z"}
DAY1, DAY2, DAY3 = "2026-03-01", "2026-03-02", "2026-03-03"

RESULT = "n value numerator denominator dataVersion computedAt"
METRIC = f"""query($kind: MetricKind!, $window: TimeWindow, $min: Int, $filter: MetricFilter) {{
  metric(kind: $kind, window: $window, minDataVersion: $min, filter: $filter, source: AUTO)
  {{ {RESULT} }} }}"""
BREAKDOWN = f"""query($kind: MetricKind!, $window: TimeWindow, $min: Int) {{
  breakdown(kind: $kind, by: [SEGMENT], window: $window, minDataVersion: $min, source: AUTO)
  {{ keys {{ value }} result {{ {RESULT} }} }} }}"""


def csat(value: float) -> dict[str, Any]:
    return answer("CSAT", value, 1, 5)


def at_day(day: str, time: str = "10:00:00") -> str:
    return f"{day}T{time}Z"


async def metric(
    client: httpx.AsyncClient,
    kind: str,
    window: dict[str, str] | None = None,
    min_version: int | None = None,
    flt: dict[str, Any] | None = None,
) -> dict[str, Any]:
    variables = {"kind": kind, "window": window or WINDOW, "min": min_version, "filter": flt}
    result: dict[str, Any] = (await gql_ok(client, METRIC, variables))["metric"]
    return result


def day_window(day: str) -> dict[str, str]:
    return {"from": f"{day}T00:00:00Z", "to": rollups_next(day)}


def day_window_utc(day: str) -> Window:
    w = day_window(day)
    return Window(datetime.fromisoformat(w["from"]), datetime.fromisoformat(w["to"]))


def rollups_next(day: str) -> str:
    d = int(day[-2:]) + 1
    return f"{day[:-2]}{d:02d}T00:00:00Z"


async def rollup_docs(db: Any, day: str | None = None) -> list[dict[str, Any]]:
    docs = await all_docs(db.metric_rollups)
    return [d for d in docs if day is None or d["day"] == day]


async def state_of(app: Starlette) -> rollups.RollupState:
    return await rollups.state(app.state.cx.mongo, TENANT)


# -- never stale after a write -----------------------------------------------------------------


async def test_a_write_is_seen_by_the_next_query(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5)]),
        response("r2", submitted_at=at_day(DAY2), answers=[csat(2)]),
        response("r3", submitted_at="2026-02-28T13:00:00Z", answers=[csat(4)]),  # raw edge
    ])  # fmt: skip
    first = await metric(client, "CSAT")
    assert (first["n"], first["numerator"], first["denominator"]) == (3, 2, 3)

    written = await submit_responses(client, [
        response("r4", submitted_at=at_day(DAY1, "23:59:59"), answers=[csat(1)]),
        response("r5", submitted_at=at_day(DAY3, "00:00:00"), answers=[csat(4), csat(5)]),
    ])  # fmt: skip
    after = await metric(client, "CSAT", min_version=written["dataVersion"])
    assert after["dataVersion"] == written["dataVersion"]
    # five respondents: 5, 2, 4, 1 and r5's mean 4.5; in the top two (≥ 4): r1, r3, r5
    assert (after["n"], after["numerator"], after["denominator"], after["value"]) == (
        5, 3, 5, 60.0,
    )  # fmt: skip
    count = await metric(client, "RESPONSE_COUNT", min_version=written["dataVersion"])
    assert (count["n"], count["value"]) == (5, 5.0)


async def test_each_query_after_each_write_is_exact(client: httpx.AsyncClient) -> None:
    for i in range(4):
        written = await submit_responses(
            client, [response(f"r{i}", submitted_at=at_day(DAY2, f"0{i}:00:00"), answers=[nps(9)])]
        )
        result = await metric(client, "NPS", min_version=written["dataVersion"])
        assert (result["n"], result["value"]) == (i + 1, 100.0)


# -- resends and updates -----------------------------------------------------------------------


async def test_a_resent_batch_is_not_counted_twice(
    client: httpx.AsyncClient, db: Any, app: Starlette
) -> None:
    batch = [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5), nps(3)]),
        response("r2", submitted_at=at_day(DAY1, "18:00:00"), answers=[csat(3)]),
    ]
    first_write = await submit_responses(client, batch)
    before = await metric(client, "CSAT", min_version=first_write["dataVersion"])
    assert before["n"] == 2
    docs_before = await rollup_docs(db, DAY1)
    assert sorted(d["family"] for d in docs_before) == [
        "CSAT", "CSAT/COMPONENT", "NPS", "NPS/COMPONENT", "RESPONSE"
    ]  # fmt: skip
    state_before = await state_of(app)

    again = await submit_responses(client, batch)
    assert statuses(again) == ["UNCHANGED", "UNCHANGED"]
    assert again["dataVersion"] == first_write["dataVersion"]
    after = await metric(client, "CSAT", min_version=again["dataVersion"])
    assert (after["n"], after["numerator"]) == (2, 1)
    count = await metric(client, "RESPONSE_COUNT")
    assert count["n"] == 2
    assert await state_of(app) == state_before
    assert await rollup_docs(db, DAY1) == docs_before


async def test_an_updated_answer_value_is_corrected(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5)]),
        response("r2", submitted_at=at_day(DAY1, "11:00:00"), answers=[csat(4)]),
    ])  # fmt: skip
    assert (await metric(client, "CSAT_SCORE_PERCENT"))["value"] == 90.0

    updated = await submit_responses(
        client, [response("r1", submitted_at=at_day(DAY1), answers=[csat(1)])]
    )
    assert counts(updated) == (0, 1, 0, 0)
    result = await metric(client, "CSAT_SCORE_PERCENT", min_version=updated["dataVersion"])
    assert (result["n"], result["numerator"], result["denominator"], result["value"]) == (
        2, 5.0, 10.0, 50.0,
    )  # fmt: skip
    top_two = await metric(client, "CSAT", min_version=updated["dataVersion"])
    assert (top_two["numerator"], top_two["value"]) == (1, 50.0)


async def test_a_response_moved_to_another_day_leaves_the_old_day(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5)]),
        response("r2", submitted_at=at_day(DAY1, "12:00:00"), answers=[csat(2)]),
        response("r3", submitted_at=at_day(DAY3), answers=[csat(3)]),
    ])  # fmt: skip
    # materialise every day first
    assert (await metric(client, "CSAT", day_window(DAY1)))["n"] == 2
    assert (await metric(client, "CSAT", day_window(DAY3)))["n"] == 1
    assert (await metric(client, "CSAT"))["n"] == 3

    moved = await submit_responses(
        client, [response("r1", submitted_at=at_day(DAY3, "20:00:00"), answers=[csat(5)])]
    )
    assert statuses(moved) == ["UPDATED"]
    version = moved["dataVersion"]
    old_day = await metric(client, "CSAT", day_window(DAY1), min_version=version)
    assert (old_day["n"], old_day["numerator"], old_day["value"]) == (1, 0, 0.0)
    new_day = await metric(client, "CSAT", day_window(DAY3), min_version=version)
    assert (new_day["n"], new_day["numerator"], new_day["value"]) == (2, 1, 50.0)
    whole = await metric(client, "CSAT", min_version=version)
    assert (whole["n"], whole["numerator"]) == (3, 1)
    assert (await state_of(app)).stale([DAY1, DAY2, DAY3]) == []


async def test_moving_and_changing_a_response_at_once(client: httpx.AsyncClient) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[answer("CES", 7, 1, 7)]),
        response("r2", submitted_at=at_day(DAY2), answers=[answer("CES", 3, 1, 7)]),
    ])  # fmt: skip
    assert (await metric(client, "CES", day_window(DAY1)))["value"] == 7.0
    assert (await metric(client, "CES", day_window(DAY2)))["value"] == 3.0
    moved = await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY2, "23:00:00"), answers=[answer("CES", 1, 1, 7)]),
    ])  # fmt: skip
    version = moved["dataVersion"]
    assert (await metric(client, "CES", day_window(DAY1), min_version=version))["n"] == 0
    day2 = await metric(client, "CES", day_window(DAY2), min_version=version)
    assert (day2["n"], day2["value"], day2["numerator"]) == (2, 2.0, 4.0)


# -- a late customer record ----------------------------------------------------------------------


async def groups(client: httpx.AsyncClient, kind: str, min_version: int | None = None
                 ) -> dict[str | None, int]:  # fmt: skip
    data = await gql_ok(client, BREAKDOWN, {"kind": kind, "window": WINDOW, "min": min_version})
    return {g["keys"][0]["value"]: g["result"]["n"] for g in data["breakdown"]}


async def test_segments_of_a_late_customer_reach_the_rollups(client: httpx.AsyncClient) -> None:
    await upsert_customers(client, [customer("known", segments=["vip"])])
    await submit_responses(client, [
        response("r1", "known", submitted_at=at_day(DAY1), answers=[csat(5)]),
        response("r2", "late", submitted_at=at_day(DAY1, "13:00:00"), answers=[csat(4)]),
        response("r3", "late", submitted_at=at_day(DAY2), answers=[csat(1), csat(2)]),
    ])  # fmt: skip
    assert await groups(client, "CSAT") == {"vip": 1, None: 2}  # r3's two answers: one mean
    assert await groups(client, "RESPONSE_COUNT") == {"vip": 1, None: 2}

    arrived = await upsert_customers(client, [customer("late", segments=["vip", "new"])])
    version = arrived["dataVersion"]
    assert await groups(client, "CSAT", version) == {"new": 2, "vip": 3}
    assert await groups(client, "RESPONSE_COUNT", version) == {"new": 2, "vip": 3}
    only_new = await metric(client, "CSAT", min_version=version, flt={"segments": ["new"]})
    assert (only_new["n"], only_new["numerator"]) == (2, 1)  # r2's 4; r3's mean 1.5 is not


# -- the race of a write with a materialisation --------------------------------------------------


async def test_a_rollup_computed_during_a_write_is_not_trusted(
    client: httpx.AsyncClient, app: Starlette, db: Any
) -> None:
    mongo = app.state.cx.mongo
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5)]),
        response("r2", submitted_at=at_day(DAY1, "11:00:00"), answers=[csat(4)]),
    ])  # fmt: skip
    read_before = await rollups.state(mongo, TENANT)
    assert read_before.written == {DAY1: 1}

    written = await submit_responses(
        client, [response("r3", submitted_at=at_day(DAY1, "12:00:00"), answers=[csat(1)])]
    )
    # A materialisation that read the state before that write lands only now.
    await rollups.materialize(mongo, TENANT, UTC_ZONE, [DAY1], read_before)

    stored = await rollup_docs(db, DAY1)
    assert {d["version"] for d in stored} == {1}
    after = await rollups.state(mongo, TENANT)
    assert after.written[DAY1] == 2
    assert after.materialized[DAY1] == 1
    assert after.stale([DAY1]) == [DAY1]

    result = await metric(client, "CSAT", day_window(DAY1), min_version=written["dataVersion"])
    assert (result["n"], result["numerator"]) == (3, 2)
    final = await rollups.state(mongo, TENANT)
    assert final.materialized[DAY1] == final.written[DAY1] == 2
    # the older version stays until its grace period is over: a reader may still use it
    csat_versions = [d["version"] for d in await rollup_docs(db, DAY1) if d["family"] == "CSAT"]
    assert sorted(csat_versions) == [1, 2]


async def test_an_older_materialisation_never_lowers_the_state(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    mongo = app.state.cx.mongo
    await submit_responses(client, [response("r1", submitted_at=at_day(DAY1), answers=[csat(5)])])
    old = await rollups.state(mongo, TENANT)
    await submit_responses(client, [response("r2", submitted_at=at_day(DAY1), answers=[csat(5)])])
    assert (await metric(client, "CSAT", day_window(DAY1)))["n"] == 2  # materialises version 2
    await rollups.materialize(mongo, TENANT, UTC_ZONE, [DAY1], old)  # a slow reader, late
    assert (await rollups.state(mongo, TENANT)).materialized[DAY1] == 2
    q = MetricQuery(kind=MetricKind.CSAT, window=day_window_utc(DAY1), filter=CellFilter(),
                    source=Source.ROLLUPS)  # fmt: skip
    computed = await app.state.cx.metrics.compute(TENANT, q)
    assert computed[(None, ())].n == 2


async def test_a_reader_still_finds_the_version_it_chose_when_a_newer_one_is_stored(
    client: httpx.AsyncClient, app: Starlette, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rollups.py: "Older versions go only after a grace period: a reader that chose them a
    moment ago must still find them." The grace must run from when a version was replaced,
    not from when it was computed: a rollup computed an hour ago is still the current one
    until the next write, and a reader may have chosen it a moment ago."""
    mongo = app.state.cx.mongo
    await submit_responses(client, [response("r1", submitted_at=at_day(DAY1), answers=[csat(5)])])
    assert (await metric(client, "CSAT", day_window(DAY1)))["n"] == 1  # version 1 stored
    # Let an hour pass: version 1 was computed long ago, and is still the current one.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await db.metric_rollups.update_many({}, {"$set": {"computedAt": hour_ago}})

    original_read = rollups.read
    interleaved: list[int] = []

    async def read_after_a_concurrent_write(*args: Any, **kwargs: Any) -> Any:
        # The reader has read the state (version 1 current) and chose its rollups; before
        # it reads them, a write lands and another reader stores version 2.
        if not interleaved:
            written = await submit_responses(
                client, [response("r2", submitted_at=at_day(DAY1, "11:00:00"), answers=[csat(5)])]
            )
            interleaved.append(written["dataVersion"])
            await rollups.materialize(
                mongo, TENANT, UTC_ZONE, [DAY1], await rollups.state(mongo, TENANT)
            )
        return await original_read(*args, **kwargs)

    monkeypatch.setattr(rollups, "read", read_after_a_concurrent_write)
    q = MetricQuery(kind=MetricKind.CSAT, window=day_window_utc(DAY1), filter=CellFilter(),
                    source=Source.ROLLUPS)  # fmt: skip
    computed = await app.state.cx.metrics.compute(TENANT, q)
    assert interleaved
    # The reader started before the write: it may answer without r2, never without r1.
    assert (None, ()) in computed, "the day's rollup vanished under the reader"
    assert computed[(None, ())].n == 1


# -- concurrent first queries --------------------------------------------------------------------


def duplicates(docs: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    seen = Counter((d["day"], d["family"], d["version"]) for d in docs)
    return [k for k, c in seen.items() if c > 1]


async def test_concurrent_first_queries_store_each_version_once(
    client: httpx.AsyncClient, db: Any
) -> None:
    await submit_responses(client, [
        response(f"r{i}", submitted_at=at_day(day, f"{10 + i}:00:00"),
                 answers=[csat(1 + i % 5), nps(i % 11)])
        for i, day in enumerate([DAY1, DAY1, DAY2, DAY3, DAY3, DAY3])
    ])  # fmt: skip
    results = await asyncio.gather(
        metric(client, "CSAT"),
        metric(client, "NPS"),
        metric(client, "RESPONSE_COUNT"),
        metric(client, "CSAT_SCORE_PERCENT"),
    )
    assert [r["n"] for r in results] == [6, 6, 6, 6]
    docs = await rollup_docs(db)
    assert duplicates(docs) == []
    families = ("CSAT", "CSAT/COMPONENT", "NPS", "NPS/COMPONENT", "RESPONSE")
    assert sorted((d["day"], d["family"]) for d in docs) == sorted(
        (day, family) for day in (DAY1, DAY2, DAY3) for family in families
    )


async def test_concurrent_materialisations_of_one_version_store_once(
    client: httpx.AsyncClient, app: Starlette, db: Any
) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(4)]),
        response("r2", submitted_at=at_day(DAY2), answers=[csat(2)]),
    ])  # fmt: skip
    metrics = app.state.cx.metrics
    q = MetricQuery(
        kind=MetricKind.CSAT,
        window=Window(datetime.fromisoformat(WINDOW["from"]), datetime.fromisoformat(WINDOW["to"])),
        filter=CellFilter(),
        source=Source.ROLLUPS,
    )  # fmt: skip
    outcomes = await asyncio.gather(*(metrics.compute(TENANT, q) for _ in range(5)))
    assert all(o == outcomes[0] for o in outcomes)
    assert outcomes[0][(None, ())].n == 2
    docs = await rollup_docs(db)
    assert duplicates(docs) == []
    assert len(docs) == 6  # two days × (CSAT, CSAT/COMPONENT, RESPONSE)


# -- cxgraph rollups rebuild [--check] -----------------------------------------------------------


async def test_rebuild_check_finds_and_rebuild_repairs_drift(
    client: httpx.AsyncClient, db: Any, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await submit_responses(client, [
        response("r1", submitted_at=at_day(DAY1), answers=[csat(5), nps(10)]),
        response("r2", submitted_at=at_day(DAY2), answers=[csat(3)]),
        response("r3", submitted_at=at_day(DAY2, "23:30:00"), answers=[csat(1)]),
    ])  # fmt: skip
    assert await run_cli("rollups", "rebuild", "--check") == 0  # all pending: nothing to compare
    assert "2 days with data, 0 drifted, 2 pending" in capsys.readouterr().out

    assert (await metric(client, "CSAT"))["n"] == 3  # materialises both days
    assert await run_cli("rollups", "rebuild", "--check") == 0
    out = capsys.readouterr().out
    assert "2 days with data, 0 drifted, 0 pending" in out

    # Corrupt DAY2's stored CSAT cells, whatever their format: give it DAY1's (one answer 5
    # instead of a 3 and a 1).
    day1 = await db.metric_rollups.find_one({"day": DAY1, "family": "CSAT"})
    day2 = await db.metric_rollups.find_one({"day": DAY2, "family": "CSAT"})
    assert day1 is not None and day2 is not None
    await db.metric_rollups.update_one({"_id": day2["_id"]}, {"$set": {"cells": day1["cells"]}})

    assert await run_cli("rollups", "rebuild", "--check") == 1
    out = capsys.readouterr().out
    assert "1 drifted" in out
    assert f"drift: {DAY2}" in out
    assert f"drift: {DAY1}" not in out
    # the corruption is real: a query that reads the stored rollup sees it
    corrupted = await metric(client, "CSAT_SCORE_PERCENT", day_window(DAY2))
    assert (corrupted["n"], corrupted["numerator"]) == (1, 5.0)

    assert await run_cli("rollups", "rebuild") == 0
    assert "rebuilt 2 days" in capsys.readouterr().out
    assert await run_cli("rollups", "rebuild", "--check") == 0
    assert "0 drifted" in capsys.readouterr().out
    # a query not asked before (not cached) reads the rebuilt rollups
    after = await metric(client, "CSAT_SCORE_PERCENT")
    assert (after["n"], after["numerator"], after["denominator"]) == (3, 9.0, 15)
    assert duplicates(await rollup_docs(db)) == []
