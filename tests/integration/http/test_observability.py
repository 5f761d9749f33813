"""/metrics beyond the cache counters: operations, MongoDB commands, ingestion, refusals."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.http.observability import MAX_OPERATION_NAMES, Observability, RefusalCounter
from tests.graphql import gql, gql_ok
from tests.integration.builders import customer, upsert_customers

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def samples(client: httpx.AsyncClient) -> Samples:
    """Every sample of /metrics by (name, sorted labels); the text must parse as Prometheus."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def test_operations_are_counted_by_name_and_outcome(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await gql_ok(client, "query Journeys { journeys { key } }")
    await gql(client, "query Broken { journeys { key ")
    await gql(client, "{ journeys { nope } }")

    found = await samples(client)
    ops = "cx_graphql_operations_total"
    assert found[(ops, (("operation", "Journeys"), ("outcome", "ok")))] == 2.0
    assert found[(ops, (("operation", "anonymous"), ("outcome", "GRAPHQL_PARSE_FAILED")))] == 1.0
    assert found[(ops, (("operation", "anonymous"), ("outcome", "BAD_USER_INPUT")))] == 1.0
    latency = "cx_graphql_operation_duration_seconds_count"
    assert found[(latency, (("operation", "Journeys"),))] == 2.0
    assert found[(latency, (("operation", "anonymous"),))] == 2.0
    # The cache's own lines are still there, unchanged.
    assert found[("cx_cache_hits_total", ())] == 0.0


async def test_ingested_records_are_counted_by_status(client: httpx.AsyncClient) -> None:
    batch = [customer("c1"), customer("bad", signedUpAt="2026-03-01T10:00:00"), customer("c2")]
    await upsert_customers(client, batch)
    await upsert_customers(client, [customer("c1"), customer("c2", name="Bo")])

    found = await samples(client)
    ingested = "cx_ingested_records_total"

    def count(status: str) -> float:
        return found.get((ingested, (("collection", "customers"), ("status", status))), 0.0)

    assert (count("INSERTED"), count("UPDATED"), count("UNCHANGED"), count("REJECTED")) == (
        2.0, 1.0, 1.0, 1.0,
    )  # fmt: skip


async def test_mongodb_command_latency_is_observed(client: httpx.AsyncClient) -> None:
    key = ("cx_mongo_command_duration_seconds_count", (("command", "ping"), ("outcome", "ok")))
    before = (await samples(client)).get(key, 0.0)
    for _ in range(3):
        assert (await client.get("/readyz")).status_code == 200
    after = await samples(client)
    assert after[key] - before == 3.0
    bucket = ("cx_mongo_command_duration_seconds_bucket",
              (("command", "ping"), ("le", "+Inf"), ("outcome", "ok")))  # fmt: skip
    assert after[bucket] == after[key]


async def test_http_429_answers_count_as_rate_limit_refusals() -> None:
    obs = Observability()

    async def limited(request: Request) -> PlainTextResponse:
        return PlainTextResponse("slow down", status_code=429, headers={"retry-after": "1"})

    async def fine(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/limited", limited), Route("/fine", fine)],
                    middleware=[Middleware(RefusalCounter, obs=obs)])  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/limited")).status_code == 429
        assert (await c.get("/fine")).status_code == 200
        assert (await c.get("/limited")).status_code == 429
    assert obs.registry.get_sample_value("cx_rate_limit_refusals_total") == 2.0


def test_operation_names_are_bounded() -> None:
    obs = Observability()
    assert obs.operation_label(None) == "anonymous"
    assert obs.operation_label("") == "anonymous"
    assert obs.operation_label('x"} 1\nevil') == "invalid"
    assert obs.operation_label("a" * 65) == "invalid"
    names = [f"Op{i}" for i in range(MAX_OPERATION_NAMES)]
    assert [obs.operation_label(n) for n in names] == names
    assert obs.operation_label("OneTooMany") == "other"
    assert obs.operation_label("Op7") == "Op7"  # one already seen keeps its label
