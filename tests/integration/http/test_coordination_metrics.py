"""/metrics of docs/adr/0023: the version feed's lag, and every family in the deploy guide.
(The warmer's and single-flight's counts are checked where they happen:
test_warm_rollups.py, test_single_flight.py.)"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from service.http.coordination_metrics import CoordinationMetrics
from tests.conftest import http_client, make_settings, running_app

QUERY = (
    '{ metric(kind: CSAT, window: {from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z"})'
    " { n } }"
)


async def test_the_version_feed_lag_is_the_age_of_the_versions_answered_at(
    mongo_uri: str,
) -> None:
    settings = make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=60_000)
    async with running_app(settings) as app, http_client(app) as client:
        await client.post("/graphql", json={"query": QUERY})  # read: 0 s; then from memory
        hit = await client.post("/graphql", json={"query": QUERY})  # from memory
        assert hit.headers["x-cx-cache"] == "hit"
        exposed = (await client.get("/metrics")).text
    # The miss read the version from MongoDB (age 0) in the response cache and took it from
    # memory when executing; the hit took it from memory: three answers, one at age 0, none
    # older than the test.
    assert app.state.cx.versions.reads == 1
    assert "cx_version_feed_lag_seconds_count 3.0" in exposed
    assert 'cx_version_feed_lag_seconds_bucket{le="0.0"} 1.0' in exposed
    assert 'cx_version_feed_lag_seconds_bucket{le="5.0"} 3.0' in exposed


def test_every_family_is_in_the_deploy_guide() -> None:
    deploy = (Path(__file__).resolve().parents[3] / "docs/deploy.md").read_text()
    registry = CollectorRegistry()
    CoordinationMetrics(registry)
    families = [m.name for m in registry.collect()]
    assert len(families) == 10
    assert [f for f in families if f"`{f}" not in deploy] == []
