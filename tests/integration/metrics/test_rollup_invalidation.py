"""No answer outlives the rollups it came from: a rebuild and a timezone change both reach
cached and stored answers at once, without a manual step."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pandas as pd
import pytest

from service.settings import Settings
from tests.conftest import make_settings, run_cli, serving
from tests.graphql import gql_ok
from tests.integration.builders import answer, response, submit_responses

DAY1, DAY2 = "2026-03-01", "2026-03-02"
METRIC = """query($source: MetricSource!, $window: TimeWindow!, $tz: String) {
  trend(kind: CSAT_SCORE_PERCENT, granularity: DAY, window: $window, timezone: $tz,
        source: $source) { periodStart result { n numerator } } }"""
SUM = """query($source: MetricSource!, $window: TimeWindow) {
  metric(kind: CSAT_SCORE_PERCENT, window: $window, source: $source) {
    n numerator dataVersion } }"""


def csat_at(external_id: str, when: str, value: int) -> dict[str, Any]:
    return response(external_id, submitted_at=when, answers=[answer("CSAT", value, 1, 5)])


# -- rollups rebuild invalidates cached answers ------------------------------------------------


async def test_a_rebuild_bumps_the_data_version_so_no_cached_drift_survives(
    client: httpx.AsyncClient,
    db: Any,
    settings: Settings,
    cli_env: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await submit_responses(client, [
        csat_at("r1", f"{DAY1}T10:00:00Z", 5),
        csat_at("r2", f"{DAY2}T10:00:00Z", 3),
        csat_at("r3", f"{DAY2}T11:00:00Z", 1),
    ])  # fmt: skip
    window = {"from": f"{DAY1}T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    assert (await gql_ok(client, SUM, {"source": "AUTO", "window": window}))["metric"]["n"] == 3
    # Drift: DAY2's stored CSAT cells replaced by DAY1's (one 5 instead of a 3 and a 1).
    day1 = await db.metric_rollups.find_one({"day": DAY1, "family": "CSAT"})
    day2 = await db.metric_rollups.find_one({"day": DAY2, "family": "CSAT"})
    await db.metric_rollups.update_one({"_id": day2["_id"]}, {"$set": {"cells": day1["cells"]}})
    day2_window = {"from": f"{DAY2}T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
    drifted = (await gql_ok(client, SUM, {"source": "AUTO", "window": day2_window}))["metric"]
    assert (drifted["n"], drifted["numerator"]) == (1, 5.0)  # the drifted answer, now cached

    assert await run_cli("rollups", "rebuild") == 0
    out = capsys.readouterr().out
    # The rebuild ran in another process: this replica sees its version within the bound.
    await asyncio.sleep(settings.version_staleness_ms / 1000 + 0.1)
    assert "1 differed from their raw documents" in out
    assert f"changed: {DAY2}" in out and f"changed: {DAY1}" not in out

    after = (await gql_ok(client, SUM, {"source": "AUTO", "window": day2_window}))["metric"]
    raw = (await gql_ok(client, SUM, {"source": "RAW", "window": day2_window}))["metric"]
    assert (after["n"], after["numerator"]) == (raw["n"], raw["numerator"]) == (2, 4.0)
    assert after["dataVersion"] == drifted["dataVersion"] + 1
    assert f"data version now {after['dataVersion']}" in out


async def test_rebuild_check_changes_nothing(
    client: httpx.AsyncClient, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    written = await submit_responses(client, [csat_at("r1", f"{DAY1}T10:00:00Z", 5)])
    assert await run_cli("rollups", "rebuild", "--check") == 0
    version = (await gql_ok(client, SUM, {"source": "AUTO"}))["metric"]["dataVersion"]
    assert version == written["dataVersion"]


# -- a timezone change --------------------------------------------------------------------------

# Instants chosen to sit on different days in UTC and in Tehran (UTC+03:30).
INSTANTS = [
    ("t1", "2026-03-01T21:00:00Z", 5),  # Tehran 03-02 00:30
    ("t2", "2026-03-01T19:00:00Z", 4),  # Tehran 03-01 22:30
    ("t3", "2026-03-02T22:00:00Z", 2),  # Tehran 03-03 01:30
    ("t4", "2026-03-02T08:00:00Z", 1),  # Tehran 03-02 11:30
    ("t5", "2026-03-03T20:40:00Z", 3),  # Tehran 03-04 00:10
]


def expected_by_day(tz: str) -> dict[str, tuple[int, float]]:
    """An independent count: pandas over the raw records, cut in ``tz``."""
    frame = pd.DataFrame(INSTANTS, columns=["id", "at", "value"])
    frame["day"] = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m-%d")
    grouped = frame.groupby("day")["value"].agg(["count", "sum"])
    return {day: (int(row["count"]), float(row["sum"])) for day, row in grouped.iterrows()}


async def trend_by_day(client: httpx.AsyncClient, tz: str, source: str) -> dict[str, Any]:
    window = {"from": "2026-02-28T00:00:00Z", "to": "2026-03-06T00:00:00Z"}
    points = await gql_ok(client, METRIC, {"source": source, "window": window, "tz": tz})
    return {
        p["periodStart"][:10]: (p["result"]["n"], p["result"]["numerator"])
        for p in points["trend"]
        if p["result"]["n"]
    }


async def test_changing_the_timezone_gives_correct_answers_at_once(mongo_uri: str) -> None:
    utc = make_settings(mongo_uri, timezone="UTC")
    async with serving(utc) as (_, client):
        await submit_responses(client, [csat_at(i, at, v) for i, at, v in INSTANTS])
        assert await trend_by_day(client, "UTC", "AUTO") == expected_by_day("UTC")

        # The same database served with the tenant's timezone changed: no rebuild in between.
        tehran = make_settings(mongo_uri, timezone="Asia/Tehran", mongo_db=utc.mongo_db)
        async with serving(tehran) as (_, moved):
            assert await trend_by_day(moved, "Asia/Tehran", "AUTO") == expected_by_day(
                "Asia/Tehran"
            )
            assert await trend_by_day(moved, "Asia/Tehran", "RAW") == expected_by_day("Asia/Tehran")
            # and a write after the change lands on the new timezone's day
            await submit_responses(moved, [csat_at("t6", "2026-03-04T21:00:00Z", 5)])
            got = await trend_by_day(moved, "Asia/Tehran", "AUTO")
            assert got["2026-03-05"] == (1, 5.0)
