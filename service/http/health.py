"""Liveness, readiness (503 from SIGTERM on) and the Prometheus endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    if request.app.state.lifecycle.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    state = request.app.state.cx
    if not state.indexes_ready:
        return JSONResponse({"status": "starting", "mongo": "indexes pending"}, status_code=503)
    if not await state.mongo.ping(state.settings.mongo_server_selection_timeout_s):
        return JSONResponse({"status": "unavailable", "mongo": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "mongo": "up"})


async def prometheus_metrics(request: Request) -> PlainTextResponse:
    """Process counters in the Prometheus text format: the cache's, then the app's registry."""
    state = request.app.state.cx
    stats, drift = state.cache.stats, state.drift.stats
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
        "# HELP cx_cache_undecodable_total Cached values that failed to decode (served as misses).",
        "# TYPE cx_cache_undecodable_total counter",
        f"cx_cache_undecodable_total {stats.undecodable}",
        "# HELP cx_cache_evictions_total Entries the bounded in-memory cache evicted.",
        "# TYPE cx_cache_evictions_total counter",
        f"cx_cache_evictions_total {stats.evictions}",
        "# HELP cx_rollup_drift_days Rollup days the latest sampled drift check found wrong.",
        "# TYPE cx_rollup_drift_days gauge",
        f"cx_rollup_drift_days {drift.drifted_days}",
        "# HELP cx_rollup_drift_checked_days_total Rollup days the drift check compared.",
        "# TYPE cx_rollup_drift_checked_days_total counter",
        f"cx_rollup_drift_checked_days_total {drift.days_checked}",
        "# HELP cx_response_cache_hits_total Whole answers served without executing (or 304).",
        "# TYPE cx_response_cache_hits_total counter",
        f"cx_response_cache_hits_total {state.response_stats.hits}",
        "# HELP cx_response_cache_misses_total Cacheable queries that were executed.",
        "# TYPE cx_response_cache_misses_total counter",
        f"cx_response_cache_misses_total {state.response_stats.misses}",
        "# HELP cx_response_cache_bytes_total Bytes of answers kept by the response cache.",
        "# TYPE cx_response_cache_bytes_total counter",
        f"cx_response_cache_bytes_total {state.response_stats.bytes}",
        "# HELP cx_version_reads_total Data-version reads from MongoDB (the rest from memory).",
        "# TYPE cx_version_reads_total counter",
        f"cx_version_reads_total {state.versions.reads}",
        "# HELP cx_version_feed_following 1 while a change stream keeps data versions current "
        "(0: they are polled).",
        "# TYPE cx_version_feed_following gauge",
        f"cx_version_feed_following {int(state.versions.following)}",
        "# HELP cx_version_feed_changes_total Tenant changes the change stream delivered.",
        "# TYPE cx_version_feed_changes_total counter",
        f"cx_version_feed_changes_total {state.versions.changes}",
        "# HELP cx_webhook_attempts_total Webhook delivery attempts sent by this process, by "
        "outcome (retry: failed, another attempt follows).",
        "# TYPE cx_webhook_attempts_total counter",
        *(
            f'cx_webhook_attempts_total{{outcome="{outcome}"}} {n}'
            for outcome, n in state.webhooks.worker.outcomes.items()
        ),
        "# HELP cx_webhook_threshold_checks_total Webhook threshold checks this process ran.",
        "# TYPE cx_webhook_threshold_checks_total counter",
        f"cx_webhook_threshold_checks_total {state.webhooks.evaluator.evaluations}",
    ]
    text = "\n".join(lines) + "\n" + request.app.state.observability.exposition().decode()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
