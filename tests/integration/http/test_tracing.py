"""OpenTelemetry: off (and never imported) by default; spans nest operation > resolver > I/O."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from service.http.app import create_app
from service.http.tracing import Tracing
from service.settings import Settings
from tests.conftest import http_client, make_settings
from tests.deploy.test_k8s import CLOSE_ALLOWANCE_S
from tests.graphql import gql_ok
from tests.integration.builders import answer, response, submit_responses

METRIC = """query Csat { metric(kind: CSAT, window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-03T00:00:00Z"}) { n } }"""


@pytest.fixture
async def traced(settings: Settings) -> AsyncIterator[tuple[InMemorySpanExporter, Tracing,
                                                            httpx.AsyncClient]]:  # fmt: skip
    exporter = InMemorySpanExporter()
    tracing = Tracing.to_exporter(exporter)
    app = create_app(settings, tracing=tracing)
    async with app.router.lifespan_context(app), http_client(app) as client:
        try:
            yield exporter, tracing, client
        finally:
            await app.state.cx.mongo.client.drop_database(settings.mongo_db)


def finished(exporter: InMemorySpanExporter, tracing: Tracing) -> list[ReadableSpan]:
    tracing.provider.force_flush()
    return list(exporter.get_finished_spans())


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[str]:
    assert parent.context is not None
    parent_id = parent.context.span_id
    return sorted(s.name for s in spans if s.parent is not None and s.parent.span_id == parent_id)


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


async def test_an_operation_span_holds_resolver_spans_that_hold_mongodb_and_cache_spans(
    traced: tuple[InMemorySpanExporter, Tracing, httpx.AsyncClient],
) -> None:
    exporter, tracing, client = traced
    await submit_responses(client, [response("r1", submitted_at="2026-03-01T10:00:00Z",
                                             answers=[answer("CSAT", 5)])])  # fmt: skip
    finished(exporter, tracing)
    exporter.clear()

    data = await gql_ok(client, METRIC)
    assert data == {"metric": {"n": 1}}
    spans = finished(exporter, tracing)

    operation = one(spans, "graphql.query Csat")
    assert operation.parent is None
    assert operation.attributes == {"graphql.operation.type": "query",
                                    "graphql.operation.name": "Csat"}  # fmt: skip
    assert children(spans, operation) == ["graphql.resolve Query.metric"]
    resolver = one(spans, "graphql.resolve Query.metric")
    below = children(spans, resolver)
    assert "cache.get" in below
    assert "cache.set" in below
    assert any(name.startswith("mongodb.") for name in below), below
    # n is a plain attribute: no span of its own.
    assert [s.name for s in spans if "MetricResult" in s.name] == []
    # Every MongoDB span of this request sits under the resolver, none is an orphan.
    mongo = [s for s in spans if s.name.startswith("mongodb.")]
    assert all(s.parent is not None for s in mongo)


def test_without_the_endpoint_tracing_is_neither_imported_nor_needed(mongo_uri: str) -> None:
    """Run the app where opentelemetry cannot be imported, as if the extra were absent.

    (redis-py tries to import it by itself when it is installed, so "not in sys.modules" is
    no test; "cannot be imported and nothing breaks" is.)"""
    script = textwrap.dedent(f"""
        import asyncio, json, sys
        import importlib.abc

        class NoOtel(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "opentelemetry":
                    raise ImportError("opentelemetry is not installed")
                return None

        sys.meta_path.insert(0, NoOtel())
        import httpx
        from service.http.app import create_app
        from service.settings import Settings

        async def main():
            app = create_app(Settings(mongo_uri={mongo_uri!r}, mongo_db="cxtest_notrace",
                                      cache_backend="redis", redis_url="redis://127.0.0.1:1/0",
                                      auth="disabled"))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    r = await c.post("/graphql", json={{"query": "{{ journeys {{ key }} }}"}})
                    assert r.json()["data"] == {{"journeys": []}}, r.text
                await app.state.cx.mongo.client.drop_database("cxtest_notrace")
        asyncio.run(main())
        tracing = "service.http.tracing"
        print(json.dumps(sorted(m for m in sys.modules
                                if m.split(".")[0] == "opentelemetry" or m == tracing)))
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


async def test_a_collector_that_is_down_neither_fails_requests_nor_holds_up_shutdown(
    mongo_uri: str,
) -> None:
    settings = make_settings(mongo_uri, otel_endpoint="http://127.0.0.1:1")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with http_client(app) as client:
            assert await gql_ok(client, "query Journeys { journeys { key } }") == {"journeys": []}
        await app.state.cx.mongo.client.drop_database(settings.mongo_db)
        started = time.monotonic()
    assert time.monotonic() - started < CLOSE_ALLOWANCE_S
