"""Rollups built from the chunks writes leave (docs/adr/0024) are exact.

Every answer through ``source: AUTO`` is compared with ``source: RAW`` (the aggregation
pipeline over raw documents, an independent implementation) and the stored rollups with
``rollups rebuild --check``'s recount. A materialisation that must not read raw documents is
run with the scan made to fail; the races are staged with real writes at the points where
they interleave.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from service.metrics import rebuild
from service.store import rollup_chunks, rollup_sources, rollups, tenants, write_intents
from service.store.indexes import SURVEY_RESPONSES
from tests.graphql import gql_ok
from tests.integration.builders import (
    all_docs,
    answer,
    customer,
    nps,
    response,
    submit_responses,
    upsert_customers,
)

TENANT = "default"
UTC_ZONE = ZoneInfo("UTC")
SEGMENTS = [["consumer"], ["smb"], ["consumer", "vip"], []]
COMPONENTS = ["PRICE", "PEOPLE", "PRODUCT"]
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}
BREAKDOWN = """query($kind: MetricKind!, $by: [Dimension!]!, $window: TimeWindow,
  $source: MetricSource, $min: Int) {
  breakdown(kind: $kind, by: $by, window: $window, source: $source, minDataVersion: $min) {
    keys { value } result { n value numerator denominator } } }"""
TREND = """query($kind: MetricKind!, $source: MetricSource, $tz: String) {
  trend(kind: $kind, granularity: DAY, window: {from: "2026-03-10T00:00:00+05:45",
        to: "2026-03-20T00:00:00+05:45"}, timezone: $tz, source: $source) {
    periodStart result { n value numerator denominator } } }"""


def records(prefix: str, count: int, days: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        day = 1 + rng.randrange(days)
        month, day = (3, day) if day <= 31 else (4, day - 31)
        at = f"2026-{month:02d}-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        answers = [nps(rng.randrange(11)), answer("CSAT", rng.choice([1, 2, 3, 4, 5, 2.5]), 1, 5)]
        if rng.random() < 0.5:
            answers.append(answer("COMPONENT", rng.randrange(1, 6), 1, 5,
                                  component=rng.choice(COMPONENTS)))  # fmt: skip
        out.append(response(f"{prefix}{i}", f"c{rng.randrange(8)}", submitted_at=at,
                            channel=rng.choice(["WEB", "EMAIL"]), answers=answers))  # fmt: skip
    return out


async def known_customers(client: httpx.AsyncClient) -> None:
    await upsert_customers(
        client, [customer(f"c{i}", segments=SEGMENTS[i % len(SEGMENTS)]) for i in range(8)]
    )


async def ask(client: httpx.AsyncClient, kind: str, by: str, source: str, **more: Any) -> Any:
    variables = {"kind": kind, "by": [by], "window": WINDOW, "source": source, **more}
    return (await gql_ok(client, BREAKDOWN, variables))["breakdown"]


async def assert_auto_equals_raw(client: httpx.AsyncClient) -> None:
    for kind, by in (("NPS", "SEGMENT"), ("CSAT", "CHANNEL"), ("COMPONENT_SCORE", "COMPONENT"),
                     ("RESPONSE_COUNT", "SEGMENT")):  # fmt: skip
        auto = await ask(client, kind, by, "AUTO")
        assert auto == await ask(client, kind, by, "RAW"), (kind, by)
        assert auto, kind


async def no_drift(app: Starlette) -> None:
    report = await rebuild.check(app.state.cx.mongo, TENANT, UTC_ZONE, progress=lambda _: None)
    assert (report.drifted, report.pending) == ([], [])


def no_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("raw documents were scanned")

    monkeypatch.setattr(rollup_sources, "_scan", refuse)


def counting_scans(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    original = rollup_sources._scan

    async def count(mongo: Any, tenant: str, tz: Any, days: list[str], *rest: Any) -> bool:
        seen.append(days)
        return await original(mongo, tenant, tz, days, *rest)

    monkeypatch.setattr(rollup_sources, "_scan", count)
    return seen


async def test_an_import_is_materialised_from_its_chunks_alone(
    client: httpx.AsyncClient, app: Starlette, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_customers(client)
    for batch in range(3):
        await submit_responses(client, records(f"b{batch}-", 60, days=40, seed=batch))
    assert len(await all_docs(db.rollup_chunks)) == 3
    with monkeypatch.context() as patch:
        no_scans(patch)
        auto = await ask(client, "NPS", "SEGMENT", "AUTO")
    assert auto == await ask(client, "NPS", "SEGMENT", "RAW")
    assert sum(g["result"]["n"] for g in auto) >= 180  # a response in two segments counts twice
    await assert_auto_equals_raw(client)
    await no_drift(app)
    assert await all_docs(db.rollup_chunks) == []  # every day they cover is materialised
    assert all(d["clean"] for d in await all_docs(db.metric_rollups))


async def test_chunks_are_added_to_the_last_clean_rollup(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_customers(client)
    await submit_responses(client, records("a", 50, days=10, seed=1))
    await assert_auto_equals_raw(client)
    written = await submit_responses(client, records("b", 50, days=10, seed=2))
    await submit_responses(client, records("c", 20, days=10, seed=3))
    with monkeypatch.context() as patch:
        no_scans(patch)
        auto = await ask(client, "NPS", "SEGMENT", "AUTO", min=written["dataVersion"])
    assert auto == await ask(client, "NPS", "SEGMENT", "RAW")
    await assert_auto_equals_raw(client)
    await no_drift(app)


async def test_an_update_makes_its_days_scanned_again(
    client: httpx.AsyncClient, app: Starlette, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_customers(client)
    first = records("a", 40, days=5, seed=1)
    await submit_responses(client, first)
    await assert_auto_equals_raw(client)
    changed = dict(first[0], answers=[nps(0)])
    result = await submit_responses(client, [changed, *records("b", 10, days=5, seed=2)])
    assert result["updated"] == 1 and result["inserted"] == 10
    assert await all_docs(db.rollup_chunks) == []  # an update leaves no chunk
    scans = counting_scans(monkeypatch)
    await assert_auto_equals_raw(client)
    assert scans, "the updated days were not scanned"
    await no_drift(app)


async def test_responses_of_customers_not_yet_known_leave_no_chunk(
    client: httpx.AsyncClient, app: Starlette, db: Any
) -> None:
    await submit_responses(client, records("a", 20, days=5, seed=1))  # customers are stubs
    assert await all_docs(db.rollup_chunks) == []
    await known_customers(client)  # their segments reach the responses stored before
    await assert_auto_equals_raw(client)
    await no_drift(app)


async def test_a_scan_during_a_write_never_serves_as_a_base(
    client: httpx.AsyncClient, app: Starlette, db: Any
) -> None:
    """A scan can see a batch's documents before the batch has bumped its days. Were that
    rollup a base, the batch's chunk would add those documents a second time."""
    mongo = app.state.cx.mongo
    await known_customers(client)
    await submit_responses(client, records("a", 30, days=3, seed=1))
    await assert_auto_equals_raw(client)
    day = "2026-03-02"

    # A batch between its raw write and its bump, exactly as the Ingestor orders them...
    docs = [{"_id": f"sr-inflight-{i}", "tenant": TENANT, "source": "test",
             "externalId": f"inflight-{i}", "segments": ["smb"], "channel": "WEB",
             "submittedAt": datetime(2026, 3, 2, 12, i, tzinfo=UTC),
             "answers": [{"question": "nps", "metric": "NPS", "value": 10,
                          "scale": {"min": 0, "max": 10}, "component": None}]}
            for i in range(5)]  # fmt: skip
    intent = await write_intents.open_intent(mongo, TENANT, [day], [], [d["_id"] for d in docs])
    await db[SURVEY_RESPONSES].insert_many(docs)
    # ... while another write marks the day written and a query scans it.
    await rollups.bump_days(mongo, TENANT, [day], UTC_ZONE)
    app.state.cx.versions.observe(TENANT, await tenants.bump_data_version(mongo, TENANT))
    seen = await ask(client, "NPS", "SEGMENT", "AUTO")
    assert seen == await ask(client, "NPS", "SEGMENT", "RAW")  # includes the in-flight five
    stored = [d for d in await all_docs(db.metric_rollups) if d["day"] == day]
    current = await rollups.state(mongo, TENANT)
    assert {d["clean"] for d in stored if d["version"] == current.materialized[day]} == {False}

    # The batch now bumps with its chunk and closes: the next read must not add the chunk
    # to the scan that already held its documents.
    chunk = rollup_chunks.build(docs, UTC_ZONE, rollups.day_window)
    assert await write_intents.seal(mongo, intent)
    blob = rollup_chunks.encode(chunk, {day})
    await rollups.bump_days_with_chunk(mongo, TENANT, [day], UTC_ZONE, intent.id, ({day}, blob))
    await write_intents.close_intent(mongo, intent)
    app.state.cx.versions.observe(TENANT, await tenants.bump_data_version(mongo, TENANT))
    assert len(await all_docs(db.rollup_chunks)) == 1
    await assert_auto_equals_raw(client)
    await no_drift(app)


async def test_a_write_during_a_materialisation_is_counted_once(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_customers(client)
    await submit_responses(client, records("a", 40, days=6, seed=1))
    original = rollup_sources.gather
    landed: list[int] = []

    async def write_first(*args: Any, **kwargs: Any) -> Any:
        # The query has read the state; a batch lands (raw write, bump, chunk) before the
        # materialisation reads chunks and documents.
        if not landed:
            written = await submit_responses(client, records("b", 40, days=6, seed=2))
            landed.append(written["dataVersion"])
        return await original(*args, **kwargs)

    monkeypatch.setattr(rollup_sources, "gather", write_first)
    await ask(client, "NPS", "SEGMENT", "AUTO")
    assert landed
    monkeypatch.setattr(rollup_sources, "gather", original)
    after = await ask(client, "NPS", "SEGMENT", "AUTO", min=landed[0])
    assert after == await ask(client, "NPS", "SEGMENT", "RAW")
    counted = await ask(client, "RESPONSE_COUNT", "CHANNEL", "AUTO")
    assert sum(g["result"]["n"] for g in counted) == 80  # each response once
    await assert_auto_equals_raw(client)
    await no_drift(app)


async def test_many_days_at_once_and_their_slots_equal_a_recount(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await known_customers(client)
    for batch in range(4):
        await submit_responses(client, records(f"b{batch}-", 80, days=60, seed=10 + batch))
    with monkeypatch.context() as patch:
        no_scans(patch)
        await assert_auto_equals_raw(client)
        # A DAY trend in Kathmandu reads every day in quarter-hour slots.
        for kind in ("NPS", "CSAT"):
            variables = {"kind": kind, "tz": "Asia/Kathmandu"}
            auto = await gql_ok(client, TREND, {**variables, "source": "AUTO"})
            raw = await gql_ok(client, TREND, {**variables, "source": "RAW"})
            assert auto == raw
            assert any(p["result"]["n"] for p in auto["trend"])
    await no_drift(app)


async def test_a_large_materialisation_answers_first_and_stores_after(
    client: httpx.AsyncClient, app: Starlette, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollups, "EAGER_ROWS", 0)
    await known_customers(client)
    await submit_responses(client, records("a", 60, days=20, seed=1))
    auto = await ask(client, "NPS", "SEGMENT", "AUTO")
    await rollups.background_idle()
    assert auto == await ask(client, "NPS", "SEGMENT", "RAW")
    state = await rollups.state(app.state.cx.mongo, TENANT)
    assert state.stale(state.written) == []
    families = {d["family"] for d in await all_docs(db.metric_rollups)}
    assert {"NPS", "CSAT", "COMPONENT", "RESPONSE"} <= families
    await assert_auto_equals_raw(client)
    await no_drift(app)
