"""Every metric result states the window it answered for: from, to and the timezone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import make_settings, serving
from tests.graphql import gql_ok

WINDOW = "window { from to timezone }"


async def test_the_default_window_is_the_tenants_last_30_days(mongo_uri: str) -> None:
    zone = ZoneInfo("Asia/Tehran")
    today = datetime.now(zone).date()
    async with serving(make_settings(mongo_uri, timezone="Asia/Tehran")) as (_, client):
        data = await gql_ok(client, "{ metric(kind: NPS) { n " + WINDOW + " } }")
    if datetime.now(zone).date() != today:
        pytest.skip("the tenant's day changed during the test; the default window moved")

    start = datetime.combine(today - timedelta(days=29), time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    assert data["metric"]["window"] == {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": "Asia/Tehran",
    }


async def test_a_window_asked_for_is_stated_in_the_tenants_timezone(
    client: httpx.AsyncClient,
) -> None:
    query = (
        '{ metric(kind: CSAT, window: {from: "2026-03-01T00:00:00+03:30", '
        'to: "2026-03-02T00:00:00Z"}) { ' + WINDOW + " } }"
    )

    data = await gql_ok(client, query)

    assert data["metric"]["window"] == {
        "from": "2026-02-28T20:30:00+00:00",
        "to": "2026-03-02T00:00:00+00:00",
        "timezone": "UTC",
    }


async def test_each_trend_point_states_its_period(client: httpx.AsyncClient) -> None:
    query = (
        '{ trend(kind: CES, granularity: DAY, timezone: "Asia/Tehran", window: '
        '{from: "2026-03-01T00:00:00+03:30", to: "2026-03-03T00:00:00+03:30"}) '
        "{ periodStart result { " + WINDOW + " } } }"
    )

    data = await gql_ok(client, query)

    assert data["trend"] == [
        {
            "periodStart": "2026-03-01T00:00:00+03:30",
            "result": {"window": {"from": "2026-03-01T00:00:00+03:30",
                                  "to": "2026-03-02T00:00:00+03:30",
                                  "timezone": "Asia/Tehran"}},
        },
        {
            "periodStart": "2026-03-02T00:00:00+03:30",
            "result": {"window": {"from": "2026-03-02T00:00:00+03:30",
                                  "to": "2026-03-03T00:00:00+03:30",
                                  "timezone": "Asia/Tehran"}},
        },
    ]  # fmt: skip


async def test_each_side_of_a_comparison_states_its_own_window(client: httpx.AsyncClient) -> None:
    query = (
        '{ compare(kind: NPS, a: {window: {from: "2026-01-01T00:00:00Z", '
        'to: "2026-02-01T00:00:00Z"}}, b: {window: {from: "2026-02-01T00:00:00Z", '
        'to: "2026-03-01T00:00:00Z"}}) { a { ' + WINDOW + " } b { " + WINDOW + " } } }"
    )

    data = await gql_ok(client, query)

    assert data["compare"] == {
        "a": {"window": {"from": "2026-01-01T00:00:00+00:00", "to": "2026-02-01T00:00:00+00:00",
                         "timezone": "UTC"}},
        "b": {"window": {"from": "2026-02-01T00:00:00+00:00", "to": "2026-03-01T00:00:00+00:00",
                         "timezone": "UTC"}},
    }  # fmt: skip
