"""Per-tenant settings: the tenant's document over the environment, `cxgraph tenants`."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from service.settings import get_settings
from tests.conftest import http_client, make_settings, run_cli, running_app
from tests.graphql import gql_ok
from tests.integration.builders import answer, response, submit_responses

WINDOW = '{from: "2026-03-01T00:00:00Z", to: "2026-03-05T00:00:00Z"}'
METRIC = f"{{ metric(kind: CSAT, window: {WINDOW}) {{ n lowSample }} }}"
TREND = f"""{{ trend(kind: CSAT, granularity: DAY, window: {WINDOW}, source: AUTO) {{
  periodStart result {{ n }} }} }}"""
RAW_TREND = TREND.replace("source: AUTO", "source: RAW")
INSTANTS = ["2026-03-01T21:00:00Z", "2026-03-01T19:00:00Z", "2026-03-02T22:10:00Z",
            "2026-03-03T08:00:00Z", "2026-03-03T20:45:00Z"]  # fmt: skip


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, mongo_uri: str) -> Any:
    settings = make_settings(mongo_uri, auth_cache_s=0)
    monkeypatch.setenv("CX_MONGO_URI", mongo_uri)
    monkeypatch.setenv("CX_MONGO_DB", settings.mongo_db)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def per_day(tz: str) -> dict[str, int]:
    """pandas: responses per local day in ``tz``."""
    local = pd.to_datetime(pd.Series(INSTANTS), utc=True).dt.tz_convert(tz)
    return {k: int(v) for k, v in local.dt.strftime("%Y-%m-%d").value_counts().items()}


def labelled(trend: list[dict[str, Any]]) -> dict[str, int]:
    return {p["periodStart"][:10]: p["result"]["n"] for p in trend if p["result"]["n"]}


async def test_a_tenants_own_timezone_and_minimum_sample_apply_to_it_alone(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_app(cli_env) as app:
        assert await run_cli("tenants", "create", "acme", "--timezone", "Asia/Tehran",
                         "--min-sample", "5") == 0  # fmt: skip
        shown = json.loads(capsys.readouterr().out)
        assert (shown["timezone"], shown["minSample"]) == ("Asia/Tehran", 5)
        assert shown["fromTenantDocument"] == ["minSample", "timezone"]
        records = [response(f"r{i}", submitted_at=at, answers=[answer("CSAT", 4, 1, 5)])
                   for i, at in enumerate(INSTANTS)]  # fmt: skip
        async with http_client(app, tenant="acme") as acme, http_client(app) as other:
            await submit_responses(acme, records)
            await submit_responses(other, records)
            assert (await gql_ok(acme, METRIC))["metric"] == {"n": 5, "lowSample": False}
            assert (await gql_ok(other, METRIC))["metric"] == {"n": 5, "lowSample": True}
            # trends without a timezone use the tenant's; its rollup days are its own too
            acme_days = labelled((await gql_ok(acme, TREND))["trend"])
            assert acme_days == per_day("Asia/Tehran")
            assert labelled((await gql_ok(acme, RAW_TREND))["trend"]) == acme_days
            assert labelled((await gql_ok(other, TREND))["trend"]) == per_day("UTC")

            # a change of timezone is exact at once (rollups re-key themselves)
            assert await run_cli("tenants", "set", "acme", "--timezone", "America/New_York") == 0
            capsys.readouterr()
            assert labelled((await gql_ok(acme, TREND))["trend"]) == per_day("America/New_York")


@pytest.mark.parametrize(
    "args",
    [
        ["tenants", "create", "x", "--timezone", "Mars/Olympus"],
        ["tenants", "set", "x", "--min-sample", "0"],
    ],
)
async def test_bad_tenant_settings_are_refused(cli_env: Any, args: list[str]) -> None:
    assert await run_cli(*args) == 2


async def test_creating_an_existing_tenant_changes_nothing(
    cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("tenants", "create", "acme", "--min-sample", "5") == 0
    assert await run_cli("tenants", "create", "acme", "--min-sample", "9") == 1
    capsys.readouterr()
    assert await run_cli("tenants", "show", "acme") == 0
    assert json.loads(capsys.readouterr().out)["minSample"] == 5
