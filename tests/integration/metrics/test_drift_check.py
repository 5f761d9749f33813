"""The periodic, sampled drift check reports a rollup that disagrees with its raw documents."""

from __future__ import annotations

import asyncio
from typing import Any

from service.metrics.drift import DriftMonitor
from tests.conftest import make_settings, serving
from tests.graphql import gql_ok
from tests.integration.builders import answer, response, submit_responses

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
METRIC = """{ metric(kind: CSAT, window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-04T00:00:00Z"}, source: AUTO) { n } }"""


async def seed(client: Any) -> None:
    await submit_responses(client, [
        response(f"r{i}", submitted_at=f"{day}T10:00:00Z", answers=[answer("CSAT", i + 2, 1, 5)])
        for i, day in enumerate(DAYS)
    ])  # fmt: skip
    assert (await gql_ok(client, METRIC))["metric"]["n"] == 3  # materialises the three days


async def corrupt(db: Any, day: str, like: str) -> None:
    """Give ``day``'s stored CSAT cells the content of ``like``'s: drift, straight in the DB."""
    source = await db.metric_rollups.find_one({"day": like, "family": "CSAT"})
    target = await db.metric_rollups.find_one({"day": day, "family": "CSAT"})
    await db.metric_rollups.update_one({"_id": target["_id"]}, {"$set": {"cells": source["cells"]}})


async def test_a_check_finds_injected_drift_and_reports_it_on_metrics(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, drift_check_sample_days=3)) as (app, client):
        await seed(client)
        monitor: DriftMonitor = app.state.cx.drift
        clean = await monitor.run_once()
        assert (clean.drifted_days, clean.days_checked) == (0, 3)

        await corrupt(app.state.cx.mongo.db, DAYS[1], like=DAYS[0])
        found = await monitor.run_once()
        assert found.drifted == {"default": [DAYS[1]]}
        assert "cx_rollup_drift_days 1" in (await client.get("/metrics")).text


async def test_the_check_runs_by_itself_when_an_interval_is_set(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, drift_check_interval_s=0.2, drift_check_sample_days=3)
    async with serving(settings) as (app, client):
        await seed(client)
        await corrupt(app.state.cx.mongo.db, DAYS[2], like=DAYS[0])
        for _ in range(100):  # bounded wait for the background loop
            if app.state.cx.drift.stats.drifted_days:
                break
            await asyncio.sleep(0.1)
        assert app.state.cx.drift.stats.drifted == {"default": [DAYS[2]]}
        assert app.state.cx.drift.stats.runs >= 1


async def test_a_sample_never_exceeds_the_setting(mongo_uri: str) -> None:
    async with serving(make_settings(mongo_uri, drift_check_sample_days=2)) as (app, client):
        await seed(client)
        stats = await app.state.cx.drift.run_once()
        assert stats.days_checked == 2
