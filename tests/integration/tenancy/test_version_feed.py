"""Data versions pushed through a change stream on the tenants collection (ADR 0026): two
replicas on one database; another's write known without a read, a followed version current
past the staleness bound, settings changes forgotten at once, and polling as the fallback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.applications import Starlette

from service.store import tenants
from tests.conftest import http_client, make_settings, running_app
from tests.integration.builders import answer, response, submit_responses

WINDOW = '{from: "2026-02-01T00:00:00Z", to: "2026-04-01T00:00:00Z"}'
QUERY = f"{{ metric(kind: CSAT, window: {WINDOW}) {{ n }} }}"


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> float:
    """Seconds until ``condition`` held (fails after ``within_s``)."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within_s, "not within the time allowed"
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def following(app: Starlette) -> None:
    await until(lambda: app.state.cx.versions.following)


async def test_another_replicas_write_is_pushed_without_a_read(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=2000)
    async with (
        running_app(settings) as one,
        running_app(settings) as two,
        http_client(one) as a,
        http_client(two) as b,
    ):
        await following(two)
        feed = two.state.cx.versions
        assert (await b.post("/graphql", json={"query": QUERY})).json()["data"]["metric"] == {
            "n": 0
        }
        reads, changes = feed.reads, feed.changes
        written = await submit_responses(a, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
        # Pushed well within the bound (the stream waits a quarter of it), not read.
        await until(lambda: feed.known("default") == written["dataVersion"], within_s=1.0)
        assert feed.reads == reads and feed.changes > changes
        answered = await b.post("/graphql", json={"query": QUERY})
        assert answered.json()["data"]["metric"] == {"n": 1}
        assert feed.reads == reads
        exposed = (await b.get("/metrics")).text
        assert "cx_version_feed_following 1" in exposed
        assert f"cx_version_reads_total {reads}" in exposed


async def test_a_followed_version_stays_current_past_the_bound(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=200)
    async with running_app(settings) as app, http_client(app) as client:
        await following(app)
        feed = app.state.cx.versions
        first = await client.post("/graphql", json={"query": QUERY})
        reads = feed.reads
        await asyncio.sleep(0.6)  # three times the bound
        assert feed.known("default") is not None
        again = await client.post("/graphql", json={"query": QUERY})
        assert again.headers["x-cx-cache"] == "hit" and again.content == first.content
        assert feed.reads == reads


async def test_polling_reads_a_version_again_after_the_bound(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, response_cache_entries=100, version_staleness_ms=200,
                             version_feed="poll")  # fmt: skip
    async with running_app(settings) as app, http_client(app) as client:
        feed = app.state.cx.versions
        await client.post("/graphql", json={"query": QUERY})
        reads = feed.reads
        await asyncio.sleep(0.3)
        assert not feed.following and feed.known("default") is None
        await client.post("/graphql", json={"query": QUERY})
        assert feed.reads == reads + 1
        assert "cx_version_feed_following 0" in (await client.get("/metrics")).text


async def test_a_settings_change_by_another_process_is_seen_at_once(mongo_uri: str) -> None:
    # Settings are remembered for CX_AUTH_CACHE_S (an hour here); the stream makes the
    # replica forget them when the tenant's document changes.
    settings = make_settings(mongo_uri, auth_cache_s=3600)
    async with running_app(settings) as app:
        await following(app)
        directory = app.state.cx.tenants
        assert (await directory.get("default")).timezone == "UTC"
        await tenants.set_settings(app.state.cx.mongo, "default", {"timezone": "Asia/Tehran"})
        await until(lambda: directory.known("default") is None, within_s=1.0)
        assert (await directory.get("default")).timezone == "Asia/Tehran"
