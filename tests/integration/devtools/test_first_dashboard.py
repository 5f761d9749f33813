"""The first dashboard a newcomer opens: a trend across many days as the very first query,
a budget that runs out (TIMEOUT, not UNAVAILABLE), and a database that is really gone."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest

from devtools.embedded import EmbeddedMongo
from service.http.app import create_app
from tests.conftest import http_client, make_settings, serving
from tests.graphql import gql
from tests.integration.builders import answer, define_journey, response, submit_responses

TEHRAN = ZoneInfo("Asia/Tehran")
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 150
DASHBOARD = """query($window: TimeWindow!) {
  journeys { key }
  trend(kind: CSAT, granularity: MONTH, window: $window, timezone: "Asia/Tehran") {
    periodStart result { n numerator } } }"""
WINDOW = {"from": START.isoformat(), "to": (START + timedelta(days=DAYS)).isoformat()}


def records() -> list[dict[str, Any]]:
    """Two CSAT answers a day over 150 days, at hours that cross Tehran's midnight."""
    out = []
    for day in range(DAYS):
        for k, hour in enumerate((6, 21)):
            at = START + timedelta(days=day, hours=hour)
            value = (day * 7 + k * 3) % 5 + 1
            out.append(response(f"d{day}-{k}", submitted_at=at.isoformat(),
                                answers=[answer("CSAT", value, 1, 5)]))  # fmt: skip
    return out


def expected_months(data: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """pandas over the raw records: n and top-2-box count per Tehran month."""
    frame = pd.DataFrame({
        "at": pd.to_datetime([r["submittedAt"] for r in data], utc=True),
        "value": [r["answers"][0]["value"] for r in data],
    })  # fmt: skip
    local = frame["at"].dt.tz_convert("Asia/Tehran")
    frame["month"] = local.dt.strftime("%Y-%m")
    frame["top2"] = frame["value"] >= 4
    grouped = frame.groupby("month").agg(n=("value", "size"), top=("top2", "sum"))
    return {m: (int(r["n"]), int(r["top"])) for m, r in grouped.iterrows()}


async def load(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    await define_journey(client)
    data = records()
    for i in range(0, len(data), 100):
        await submit_responses(client, data[i : i + 100])
    return data


async def test_a_trend_across_every_day_as_the_first_query_answers_in_full(
    client: httpx.AsyncClient,
) -> None:
    data = await load(client)
    body = await gql(client, DASHBOARD, {"window": WINDOW})
    assert "errors" not in body, body["errors"]
    assert body["data"]["journeys"] == [{"key": "onboarding"}]
    points = body["data"]["trend"]
    # periodStart is each Tehran month's first instant; label it in Tehran to compare.
    got = {
        datetime.fromisoformat(p["periodStart"]).astimezone(TEHRAN).strftime("%Y-%m"): (
            p["result"]["n"], p["result"]["numerator"])
        for p in points if p["result"]["n"]
    }  # fmt: skip
    expected = {month: (n, float(top)) for month, (n, top) in expected_months(data).items()}
    assert got == expected
    assert sum(n for n, _ in got.values()) == 2 * DAYS


async def test_an_operation_that_outlives_its_budget_is_timeout_and_the_rest_answers(
    mongo_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(mongo_uri, mongo_query_timeout_s=0.001)
    async with serving(settings) as (_, client):
        await load(client)
        with caplog.at_level(logging.WARNING, logger="cxgraph.errors"):
            body = await gql(client, DASHBOARD, {"window": WINDOW})
    assert body["data"]["journeys"] == [{"key": "onboarding"}]  # one failing field is isolated
    assert body["data"]["trend"] is None
    (error,) = body["errors"]
    assert error["path"] == ["trend"]
    extensions = error["extensions"]
    assert extensions["code"] == "TIMEOUT"
    assert extensions["setting"] == "CX_MONGO_QUERY_TIMEOUT_S"
    assert extensions["budgetSeconds"] == 0.001
    assert "CSAT per MONTH over [2026-01-01" in error["message"]
    assert "CX_MONGO_QUERY_TIMEOUT_S" in error["message"]
    assert any("CSAT per MONTH" in r.getMessage() for r in caplog.records)


async def test_a_stopped_database_is_still_unavailable(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path / "db")
    settings = make_settings(server.start(), mongo_server_selection_timeout_s=0.5)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app), http_client(app) as client:
            await submit_responses(client, records()[:4])
            server.stop()
            body = await gql(client, DASHBOARD, {"window": WINDOW})
    finally:
        server.stop()
    codes = {e["path"][0]: e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"journeys": "UNAVAILABLE", "trend": "UNAVAILABLE"}
