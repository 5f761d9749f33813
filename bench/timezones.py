"""Timezone benchmark: trends in a timezone other than the tenant's against the tenant's.

Loads the demo data set (10k responses over 180 days, tenant timezone UTC) into an embedded
database in a child process and asks, uncached, each trend of issue 16 in its timezone and
in UTC (the tenant's), and the same trend with ``source: RAW``:
- *cold*: the first ask of that question after every rollup was materialised,
- *warm*: the median of the next asks (still uncached: the cache is off),
- *stale*: the first ask after every day was marked written (rollups must be recomputed).
Every figure is a ratio of timings taken in the same run; AUTO and RAW must agree exactly.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pymongo

from devtools.demo import load_demo
from devtools.embedded import EmbeddedMongo
from service.http.app import create_app
from service.metrics import rebuild
from service.settings import Settings
from service.store import rollups, tenants

TENANT = "default"
END = date(2026, 11, 30)  # the demo's last day: fixed, so every run holds the same data
QUERY = """query($k: MetricKind!, $g: Granularity!, $from: DateTime!, $to: DateTime!,
                 $tz: String, $src: MetricSource!) {
  trend(kind: $k, granularity: $g, window: {from: $from, to: $to}, timezone: $tz,
        source: $src) { periodStart result { value n } } }"""


@dataclass(frozen=True)
class Case:
    kind: str
    granularity: str
    timezone: str
    days: int

    @property
    def name(self) -> str:
        return f"{self.kind} by {self.granularity} over {self.days} d in {self.timezone}"


CASES = (
    Case("NPS", "WEEK", "America/New_York", 180),
    Case("CSAT", "MONTH", "Asia/Tehran", 180),
    Case("CES", "WEEK", "Asia/Tehran", 180),
    Case("EMOTION", "WEEK", "Europe/Berlin", 180),
    Case("CSAT", "DAY", "Europe/Berlin", 30),
    Case("NPS", "DAY", "Asia/Kathmandu", 30),
    Case("NPS", "WEEK", "America/New_York", 28),
)
STALE_MAX_DAYS = 30


def _variables(case: Case, timezone: str, source: str) -> dict[str, Any]:
    # The window is whole days in the asked timezone, as a dashboard sends it.
    tz = ZoneInfo(timezone)
    end = datetime.combine(END + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    start = datetime.combine(END + timedelta(days=1 - case.days), datetime.min.time(), tzinfo=tz)
    return {"k": case.kind, "g": case.granularity, "from": start.isoformat(),
            "to": end.isoformat(), "tz": timezone, "src": source}  # fmt: skip


async def _timed(client: httpx.AsyncClient, variables: dict[str, Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    body = (await client.post("/graphql", json={"query": QUERY, "variables": variables})).json()
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
    return elapsed, body["data"]["trend"]


async def _mark_all_written(mongo: Any) -> None:
    tz = ZoneInfo("UTC")
    await rollups.bump_days(mongo, TENANT, await rollups.days_with_data(mongo, TENANT, tz), tz)
    await tenants.bump_data_version(mongo, TENANT)


async def _ready(mongo: Any, progress: Any) -> None:
    """Every day's rollups materialised: the state each case starts from."""
    with pymongo.timeout(900):  # the embedded server stalls now and then on a shared machine
        await rebuild.warm(mongo, TENANT, ZoneInfo("UTC"), lambda _: None)
    progress("bench tz: every rollup materialised")


async def _measure(client: httpx.AsyncClient, mongo: Any, repeat: int,
                   progress: Any) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for case in CASES:
        stale = case.days <= STALE_MAX_DAYS
        row: dict[str, Any] = {"case": case.name}
        tz, tenant = (_variables(case, case.timezone, "AUTO"), _variables(case, "UTC", "AUTO"))
        # The question in its timezone first: it meets the colder database cache.
        row["tz_cold_s"], answer = await _timed(client, tz)
        row["tenant_cold_s"], _ = await _timed(client, tenant)
        warm: dict[str, list[float]] = {"tz": [], "tenant": []}
        for _ in range(repeat):  # interleaved, so both see the same load on a shared machine
            warm["tz"].append((await _timed(client, tz))[0])
            warm["tenant"].append((await _timed(client, tenant))[0])
        row["tz_warm_s"] = statistics.median(warm["tz"])
        row["tenant_warm_s"] = statistics.median(warm["tenant"])
        row["raw_s"], raw = await _timed(client, _variables(case, case.timezone, "RAW"))
        assert raw == answer, f"AUTO and RAW disagree: {case.name}"
        # Stale rollups are recomputed at ~0.3 s a day whatever the timezone: measured on
        # the short windows only, so the run stays minutes long.
        if stale:
            for label, variables in (("tz", tz), ("tenant", tenant)):
                await _mark_all_written(mongo)
                row[f"{label}_stale_s"], _ = await _timed(client, variables)
            await _ready(mongo, progress)
        stale_text = (f", stale {row['tz_stale_s']:.2f}/{row['tenant_stale_s']:.2f} s"
                      if stale else "")  # fmt: skip
        progress(
            f"bench tz: {case.name}: cold {row['tz_cold_s']:.3f}/{row['tenant_cold_s']:.3f} s, "
            f"warm {row['tz_warm_s']:.3f}/{row['tenant_warm_s']:.3f} s{stale_text}, "
            f"RAW {row['raw_s']:.3f} s"
        )
        rows.append(row)
    return rows


async def run(
    repeat: int = 3, progress: Any = print, data_dir: str | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(data_dir or tmp)
        with EmbeddedMongo(path) as server:
            # Uncached (neither the metric cache nor the response cache answers), anonymous
            # and without limits: the benchmark measures the work, not the guards.
            settings = Settings(mongo_uri=server.uri, mongo_db="benchtz", cache_backend="none",
                                response_cache_entries=0, mongo_query_timeout_s=900,
                                auth="disabled", rate_limit_per_minute=0,
                                rate_limit_cost_per_minute=0, max_query_cost=10**9)  # fmt: skip
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                mongo = app.state.cx.mongo
                if await mongo["survey_responses"].find_one({"tenant": TENANT}) is None:
                    progress("bench tz: loading the demo data set ...")
                    await load_demo(mongo, settings, TENANT, end=END.isoformat())
                await _mark_all_written(mongo)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                             timeout=None) as client:  # fmt: skip
                    progress("bench tz: materialising rollups ...")
                    await _ready(mongo, progress)
                    rows = await _measure(client, mongo, repeat, progress)
    return {"rows": rows, **summary(rows)}


TARGETS = {"tz_over_tenant": 2.0, "auto_over_raw": 1.0}


def summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The worst ratio over the cases: what the targets are checked against."""
    return {
        "tz_over_tenant_cold": max(r["tz_cold_s"] / r["tenant_cold_s"] for r in rows),
        "tz_over_tenant_warm": max(r["tz_warm_s"] / r["tenant_warm_s"] for r in rows),
        "tz_over_tenant_stale": max(
            r["tz_stale_s"] / r["tenant_stale_s"] for r in rows if "tz_stale_s" in r
        ),
        "auto_over_raw": max(max(r["tz_cold_s"], r["tz_warm_s"]) / r["raw_s"] for r in rows),
    }


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def markdown(t: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md for this benchmark."""
    lines = [
        "## Trends in any timezone against the tenant's",
        "",
        "The demo data set (10,000 responses over 180 days, tenant timezone UTC), uncached "
        "(`CX_CACHE_BACKEND=none`, `CX_RESPONSE_CACHE_ENTRIES=0`). Each trend is asked in its "
        "timezone (*tz*) and in UTC, the tenant's (*tenant*), over whole local days of that "
        "timezone. *Cold* is the first ask "
        "of the question with every rollup materialised; *warm* the median of 5 more, the two "
        "timezones interleaved; *stale* the first ask after every day was marked written "
        "(run on the 28- and 30-day windows only: recomputing 180 days takes minutes). *RAW* "
        "is `source: RAW` in the trend's timezone; it returned the same points (checked).",
        "",
        "| trend | cold tz / tenant (ms) | ratio | warm tz / tenant (ms) | ratio "
        "| stale tz / tenant (s) | RAW (ms) | AUTO / RAW |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in t["rows"]:
        stale = (f"{r['tz_stale_s']:.1f} / {r['tenant_stale_s']:.1f}" if "tz_stale_s" in r
                 else "")  # fmt: skip
        auto = max(r["tz_cold_s"], r["tz_warm_s"])
        lines.append(
            f"| {r['case']} | {r['tz_cold_s'] * 1000:,.0f} / {r['tenant_cold_s'] * 1000:,.0f} "
            f"| {r['tz_cold_s'] / r['tenant_cold_s']:.2f}× "
            f"| {r['tz_warm_s'] * 1000:,.0f} / {r['tenant_warm_s'] * 1000:,.0f} "
            f"| {r['tz_warm_s'] / r['tenant_warm_s']:.2f}× | {stale} "
            f"| {r['raw_s'] * 1000:,.0f} | {auto / r['raw_s']:.2f}× |"
        )
    cold, warm = t["tz_over_tenant_cold"], t["tz_over_tenant_warm"]
    raw, limit = t["auto_over_raw"], TARGETS["tz_over_tenant"]
    lines += [
        "",
        f"- In another timezone a trend costs at most **{cold:.2f}×** the tenant's cold and "
        f"**{warm:.2f}×** warm (target ≤ {limit:.0f}×): {_met(cold <= limit and warm <= limit)}.",
        f"- With stale rollups at most **{t['tz_over_tenant_stale']:.2f}×** (both recompute "
        "the same days, and one more at the window's end).",
        f"- AUTO costs at most **{raw:.2f}×** `source: RAW` (target ≤ 1): "
        f"{_met(raw <= TARGETS['auto_over_raw'])}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    result = asyncio.run(run(data_dir=sys.argv[1] if len(sys.argv) > 1 else None))
    print(result)
    print(markdown(result))
