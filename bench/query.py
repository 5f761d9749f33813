"""Query benchmark: breakdown(NPS, by: [SEGMENT]) from rollups vs the raw pipeline.

Loads 100k, then 200k, then 400k survey responses (4 answers each) over a 90-day window
(4 segments, 2 journeys of 3-4 stages, 5 channels) into an embedded database in a child
process, and at each size measures, uncached:
- the first query after the import (materialising every day's rollups),
- the same query again (served from materialised rollups),
- the same answer from the raw aggregation pipeline.
Documents are inserted in their stored shape with insert_many (this measures queries; the
ingestion benchmark measures the write path), and every day is marked written so rollups
materialise exactly as after a real import.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pymongo
from pymongo.errors import BulkWriteError

from devtools.embedded import EmbeddedMongo
from service.domain.ids import record_id
from service.http.app import create_app
from service.settings import Settings
from service.store import rollups, tenants

TENANT = "default"
SEGMENTS = [["consumer"], ["smb"], ["enterprise"], ["consumer", "vip"]]
JOURNEYS = {"buy": ["discover", "compare", "checkout", "review"], "care": ["ask", "fix", "rate"]}
CHANNELS = ["WEB", "MOBILE_APP", "EMAIL", "PHONE", "CHAT"]
COMPONENTS = ["COMMUNICATIONS", "PRODUCT", "PROCESSES", "CHANNELS", "PEOPLE", "PRICE"]
END = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 90
QUERY = """query($src: MetricSource!, $from: DateTime!, $to: DateTime!) {
  breakdown(kind: NPS, by: [SEGMENT], window: {from: $from, to: $to}, source: $src) {
    keys { value } result { value n } } }"""


def responses(start: int, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(start, start + count):
        journey = rng.choice(list(JOURNEYS))
        ext = f"r{i:07d}"
        docs.append({
            "_id": record_id("survey_responses", TENANT, "bench", ext),
            "tenant": TENANT, "source": "bench", "externalId": ext, "contentHash": ext,
            "customerRef": {"source": "bench", "externalId": f"c{i % 5000}"},
            "customerId": record_id("customers", TENANT, "bench", f"c{i % 5000}"),
            "journey": journey, "stage": rng.choice(JOURNEYS[journey]),
            "channel": rng.choice(CHANNELS),
            "submittedAt": END - timedelta(seconds=rng.randrange(DAYS * 86400)),
            "segments": rng.choice(SEGMENTS),
            "answers": [
                {"question": "nps", "metric": "NPS", "value": rng.randint(0, 10),
                 "scale": {"min": 0, "max": 10}, "component": None},
                {"question": "csat", "metric": "CSAT", "value": rng.randint(1, 5),
                 "scale": {"min": 1, "max": 5}, "component": None},
                {"question": "ces", "metric": "CES", "value": rng.randint(1, 7),
                 "scale": {"min": 1, "max": 7}, "component": None},
                {"question": "part", "metric": "COMPONENT", "value": rng.randint(1, 5),
                 "scale": {"min": 1, "max": 5}, "component": rng.choice(COMPONENTS)},
            ],
        })  # fmt: skip
    return docs


async def _load(mongo: Any, start: int, count: int) -> float:
    began = time.perf_counter()
    # Small chunks: a long insert_many outlives the socket timeout and the driver's retry
    # then meets its own documents.
    for offset in range(0, count, 2_000):
        n = min(2_000, count - offset)
        try:
            with pymongo.timeout(600):  # the embedded server pauses now and then under load
                await mongo["survey_responses"].insert_many(
                    responses(start + offset, n, seed=start + offset), ordered=False
                )
        except BulkWriteError as exc:  # a retried insert meeting its own documents
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
    tz = ZoneInfo("UTC")
    days = {(END - timedelta(days=d + 1)).astimezone(tz).date().isoformat()
            for d in range(DAYS + 1)}  # fmt: skip
    await rollups.bump_days(mongo, TENANT, days, tz)
    await tenants.bump_data_version(mongo, TENANT)
    return time.perf_counter() - began


async def _timed(client: httpx.AsyncClient, source: str) -> tuple[float, Any]:
    variables = {"src": source, "from": (END - timedelta(days=DAYS)).isoformat(),
                 "to": END.isoformat()}  # fmt: skip
    began = time.perf_counter()
    body = (await client.post("/graphql", json={"query": QUERY, "variables": variables})).json()
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
    return elapsed, body["data"]["breakdown"]


async def run(sizes: tuple[int, ...] = (100_000, 200_000, 400_000), repeat: int = 3,
              progress: Any = print, raw_cap_s: float = 240.0) -> dict[str, Any]:  # fmt: skip
    results: dict[str, Any] = {"sizes": list(sizes), "rows": []}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(tmp) as server:
        settings = Settings(
            mongo_uri=server.uri,
            mongo_db="bench",
            cache_backend="none",
            mongo_query_timeout_s=900,
            # The raw pipeline keeps the embedded server too busy to answer the liveness ping
            # within 2 s on a loaded machine (docs/adr/0016): give it a minute, as hot_path does.
            mongo_server_selection_timeout_s=60,
            auth="disabled",
            rate_limit_per_minute=0,
            rate_limit_cost_per_minute=0,
            response_cache_entries=0,
            max_query_cost=10**9,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            mongo = app.state.cx.mongo
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=None) as client:  # fmt: skip
                loaded = 0
                for size in sizes:
                    progress(f"bench query: loading {size - loaded:,} responses ...")
                    load_s = await _load(mongo, loaded, size - loaded)
                    loaded = size
                    progress(f"bench query: {size:,} loaded in {load_s:.0f} s; first query ...")
                    first_s, first = await _timed(client, "AUTO")
                    rollup_s = statistics.median(
                        [(await _timed(client, "AUTO"))[0] for _ in range(repeat)]
                    )
                    row: dict[str, Any] = {"responses": size, "load_s": load_s,
                                           "first_query_s": first_s, "rollup_s": rollup_s,
                                           "raw_s": None}  # fmt: skip
                    # The raw pipeline grows faster than linearly on SecantusDB: it runs at
                    # the smallest and the largest size, the largest last and capped.
                    if size in (sizes[0], sizes[-1]):
                        progress(f"bench query: rollups {rollup_s * 1000:.0f} ms; raw ...")
                        cap = None if size == sizes[0] else raw_cap_s
                        try:
                            raw_s, raw = await asyncio.wait_for(_timed(client, "RAW"), cap)
                        except TimeoutError:
                            row["raw_at_least_s"] = raw_cap_s
                        else:
                            assert raw == first, "rollups and raw pipeline disagree"
                            row["raw_s"] = raw_s
                    results["rows"].append(row)
                    raw_text = (f"{row['raw_s'] * 1000:.0f} ms" if row["raw_s"] is not None
                                else f"> {row.get('raw_at_least_s', 0):.0f} s" if
                                "raw_at_least_s" in row else "not run")  # fmt: skip
                    progress(f"bench query: {size:>7} responses: rollups {rollup_s * 1000:.0f} ms, "
                             f"raw {raw_text}, first query {first_s:.1f} s")  # fmt: skip
    rows = results["rows"]
    results["scaling_400k_vs_100k"] = rows[-1]["rollup_s"] / rows[0]["rollup_s"]
    last = rows[-1]
    raw_last = last["raw_s"] if last["raw_s"] is not None else last["raw_at_least_s"]
    results["raw_over_rollup_at_max"] = raw_last / last["rollup_s"]
    results["raw_ratio_is_lower_bound"] = last["raw_s"] is None
    return results


if __name__ == "__main__":
    import sys

    sizes = tuple(int(s) for s in sys.argv[1:]) or (100_000, 200_000, 400_000)
    print(asyncio.run(run(sizes)))
