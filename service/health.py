"""Liveness and readiness for Kubernetes probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state = request.app.state.cx
    if not state.indexes_ready:
        return JSONResponse({"status": "starting", "mongo": "indexes pending"}, status_code=503)
    if not await state.mongo.ping():
        return JSONResponse({"status": "unavailable", "mongo": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "mongo": "up"})


async def prometheus_metrics(request: Request) -> PlainTextResponse:
    """Process counters in the Prometheus text format."""
    stats = request.app.state.cx.cache.stats
    lines = [
        "# HELP cx_cache_hits_total Metric results served from the cache.",
        "# TYPE cx_cache_hits_total counter",
        f"cx_cache_hits_total {stats.hits}",
        "# HELP cx_cache_misses_total Metric results computed.",
        "# TYPE cx_cache_misses_total counter",
        f"cx_cache_misses_total {stats.misses}",
        "# HELP cx_cache_errors_total Cache operations that failed (e.g. Redis down).",
        "# TYPE cx_cache_errors_total counter",
        f"cx_cache_errors_total {stats.errors}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
