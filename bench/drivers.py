"""Key-driver benchmark: `drivers(outcome: NPS)` against `metric(NPS, source: RAW)`.

Loads synthetic responses (an NPS answer, the six components, EMOTION and VALUE_FOR_EFFORT
on 1–5, ~10% of driver answers missing) into an embedded database through the ingestion
service, then asks, uncached, for each window size: the key-driver analysis through GraphQL,
the raw NPS metric over the same window (also a read of raw documents), and the analysis'
two halves apart — the read (service/store/driver_rows.py) and the fit (numpy, one BLAS
thread). Every figure is a ratio of timings taken in the same run; the time per 10,000
responses is what the README's sizing sentence quotes.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from devtools.embedded import EmbeddedMongo
from service.domain.metrics import driver_results
from service.domain.metrics.cells import CellFilter
from service.domain.metrics.timeframe import Window
from service.domain.model import MetricKind
from service.http.app import create_app
from service.metrics import driver_analysis
from service.settings import Settings
from service.store import driver_rows

TENANT = "default"
START = datetime(2026, 1, 1, tzinfo=UTC)
SIZES = (5_000, 10_000, 20_000)
NAMES = [d.value for d in driver_results.CxDriver]
DRIVERS = """query($w: TimeWindow) { drivers(outcome: NPS, window: $w) {
  respondents n rSquared ranking { driver importance importanceInterval { low high } } } }"""
RAW = """query($w: TimeWindow) { metric(kind: NPS, window: $w, source: RAW) { n value } }"""


def records(count: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    beta = np.linspace(0.5, 0.05, len(NAMES))
    out = []
    for i in range(count):
        x = rng.integers(1, 6, size=len(NAMES))
        y = int(np.clip(np.round(5 + (x - 3) @ beta + rng.normal()), 0, 10))
        answers = [{"question": "nps", "metric": "NPS", "value": y, "scaleMin": 0,
                    "scaleMax": 10}]  # fmt: skip
        for name, value in zip(NAMES, x, strict=True):
            if rng.random() < 0.1:
                continue
            metric = name if name in ("EMOTION", "VALUE_FOR_EFFORT") else "COMPONENT"
            answers.append({"question": name.lower(), "metric": metric, "value": int(value),
                            "scaleMin": 1, "scaleMax": 5,
                            **({"component": name} if metric == "COMPONENT" else {})})  # fmt: skip
        when = START + timedelta(seconds=60 * i)  # 20,000 responses span ~14 days
        out.append({"source": "bench", "externalId": f"r{i}", "customer":
                    {"source": "bench", "externalId": f"c{i % 500}"},
                    "submittedAt": when.isoformat(), "answers": answers})  # fmt: skip
    return out


async def _timed(client: httpx.AsyncClient, query: str, window: dict[str, str]) -> float:
    began = time.perf_counter()
    body = (await client.post("/graphql", json={"query": query,
                                                "variables": {"w": window}})).json()  # fmt: skip
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
    return elapsed


async def run(repeat: int = 3, progress: Any = print) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(Path(tmp)) as server:
        settings = Settings(mongo_uri=server.uri, mongo_db="benchdrivers", cache_backend="none",
                            response_cache_entries=0, mongo_query_timeout_s=900,
                            auth="disabled", rate_limit_per_minute=0,
                            rate_limit_cost_per_minute=0, max_query_cost=10**9,
                            drivers_max_responses=max(SIZES),
                            # a loaded embedded server may miss the 1 s ping of the database
                            # watch (ADR 16) while it reads; the benchmark measures the work
                            mongo_server_selection_timeout_s=60)  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state = app.state.cx
            data = records(max(SIZES))
            progress(f"bench drivers: loading {len(data):,} responses ...")
            for i in range(0, len(data), 1000):
                await state.ingestor.submit_survey_responses(TENANT, data[i : i + 1000])
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=None) as client:  # fmt: skip
                for size in SIZES:
                    end = START + timedelta(seconds=60 * size)
                    window = {"from": START.isoformat(), "to": end.isoformat()}
                    row: dict[str, Any] = {"responses": size}
                    times: dict[str, list[float]] = {"drivers": [], "raw": [], "read": [],
                                                     "fit": []}  # fmt: skip
                    for _ in range(repeat):  # interleaved: both see the same load
                        times["drivers"].append(await _timed(client, DRIVERS, window))
                        times["raw"].append(await _timed(client, RAW, window))
                        began = time.perf_counter()
                        async with state.mongo.budget("bench read"):  # as the service does
                            docs = await driver_rows.responses(state.mongo, TENANT,
                                                               Window(START, end), CellFilter(),
                                                               "NPS", size)  # fmt: skip
                        times["read"].append(time.perf_counter() - began)
                        names = driver_results.drivers_of("NPS")
                        began = time.perf_counter()
                        await asyncio.to_thread(driver_analysis._fit, docs, MetricKind.NPS,
                                                "NPS", names, float("inf"))  # fmt: skip
                        times["fit"].append(time.perf_counter() - began)
                    for name, values in times.items():
                        row[f"{name}_s"] = statistics.median(values)
                    progress(f"bench drivers: {size:,}: drivers {row['drivers_s']:.2f} s, raw "
                             f"NPS {row['raw_s']:.2f} s, read {row['read_s']:.2f} s, fit "
                             f"{row['fit_s']:.2f} s")  # fmt: skip
                    rows.append(row)
    return {"rows": rows, "repeat": repeat}


def markdown(d: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md for this benchmark."""
    lines = [
        "## Key drivers against a raw metric",
        "",
        "Synthetic responses (an NPS answer, the six components, EMOTION and "
        "VALUE_FOR_EFFORT, ~10% of driver answers missing), uncached, median of "
        f"{d['repeat']}. *drivers* is `drivers(outcome: NPS)` through GraphQL (read, table, "
        "fit with 1,000 bootstrap resamples); *raw NPS* is `metric(NPS, source: RAW)` over the "
        "same window; *read* and *fit* are the analysis' halves, timed apart.",
        "",
        "| responses | drivers (s) | raw NPS (s) | drivers / raw NPS | read (s) | fit (s) "
        "| fit per 10,000 (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in d["rows"]:
        lines.append(
            f"| {r['responses']:,} | {r['drivers_s']:.2f} | {r['raw_s']:.2f} "
            f"| {r['drivers_s'] / r['raw_s']:.1f}× | {r['read_s']:.2f} | {r['fit_s']:.2f} "
            f"| {r['fit_s'] * 10_000 / r['responses']:.2f} |"
        )
    first, last = d["rows"][0], d["rows"][-1]
    growth = (last["drivers_s"] / first["drivers_s"]) / (last["responses"] / first["responses"])
    lines += [
        "",
        f"- From {first['responses']:,} to {last['responses']:,} responses the analysis "
        f"takes **{last['drivers_s'] / first['drivers_s']:.1f}×** as long "
        f"({growth:.2f}× of linear).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    result = asyncio.run(run())
    print(result)
    print(markdown(result))
