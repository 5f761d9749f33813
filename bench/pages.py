"""Everyday paths on the demo data: cursor pages against first pages, a cold funnel, and a
trend in another timezone against the same trend in the tenant's.

Loads the demo data set (3,000 customers, 40,000 touchpoints, 10,000 responses) into an
embedded database in a child process and, through the GraphQL app, uncached:
- for each connection and filter, the first page and the page after its end cursor (median
  of ``repeat``), and the walk over every touchpoint 500 at a time;
- the first ``journeyFunnel`` call on each journey;
- ``trend(NPS, DAY)`` over 90 days in Asia/Tehran against the same in the tenant's timezone.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any

import httpx

from devtools.demo import load_demo
from devtools.embedded import EmbeddedMongo
from service.http.app import create_app
from service.settings import AuthMode, Settings
from service.store.client import aggregate

END = "2026-09-30"  # the demo's last day: a fixed date keeps every run on the same data
WINDOW = '{from: "2026-09-01T00:00:00Z", to: "2026-10-01T00:00:00Z"}'
CUSTOMER = 'customer(ref: {source: "demo-crm", externalId: "%s"})'

# name -> (connection path in the answer, the field with its arguments, page size)
CASES: dict[str, tuple[str, str, int]] = {
    "customers": ("customers", "customers(%s)", 500),
    "customers(segment)": ("customers", 'customers(segment: "vip", %s)', 500),
    "touchpoints": ("touchpoints", "touchpoints(%s)", 500),
    "touchpoints(newest first)": ("touchpoints", "touchpoints(orderBy: NEWEST_FIRST, %s)", 500),
    "touchpoints(customer)": ("touchpoints", 'touchpoints(filter: {customer: "$C"}, %s)', 5),
    "touchpoints(journey)": (
        "touchpoints",
        'touchpoints(filter: {journey: "online-purchase"}, %s)',
        500,
    ),
    "touchpoints(journey, stage)": (
        "touchpoints",
        'touchpoints(filter: {journey: "online-purchase", stage: "checkout"}, %s)',
        500,
    ),
    "touchpoints(channel)": ("touchpoints", "touchpoints(filter: {channel: EMAIL}, %s)", 500),
    "touchpoints(window)": ("touchpoints", f"touchpoints(filter: {{window: {WINDOW}}}, %s)", 500),
    "customer.touchpoints": ("customer.touchpoints", "$REF { touchpoints(%s)", 5),
    "customer.touchpoints(newest first)": (
        "customer.touchpoints",
        "$REF { touchpoints(orderBy: NEWEST_FIRST, %s)",
        5,
    ),
    "surveyResponses": ("surveyResponses", "surveyResponses(%s)", 500),
    "surveyResponses(customer)": (
        "surveyResponses",
        'surveyResponses(filter: {customer: "$C"}, %s)',
        5,
    ),
    "surveyResponses(journey)": (
        "surveyResponses",
        'surveyResponses(filter: {journey: "online-purchase"}, %s)',
        500,
    ),
    "surveyResponses(channel)": (
        "surveyResponses",
        "surveyResponses(filter: {channel: EMAIL}, %s)",
        500,
    ),
}


async def _post(client: httpx.AsyncClient, query: str) -> tuple[float, Any]:
    began = time.perf_counter()
    body = (await client.post("/graphql", json={"query": query})).json()
    elapsed = time.perf_counter() - began
    assert "errors" not in body, body
    return elapsed, body["data"]


def _query(field: str, args: str, ref: str, customer_id: str) -> str:
    field = field.replace("$REF", CUSTOMER % ref).replace("$C", customer_id) % args
    closing = " }" if field.startswith("customer(") else ""
    return "{ " + field + " { edges { node { id } } pageInfo { endCursor } }" + closing + " }"


def _connection(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


async def _case(client: httpx.AsyncClient, path: str, field: str, size: int, ref: str,
                customer_id: str, repeat: int) -> dict[str, float]:  # fmt: skip
    first_q = _query(field, f"first: {size}", ref, customer_id)
    firsts = [await _post(client, first_q) for _ in range(repeat)]
    cursor = _connection(firsts[0][1], path)["pageInfo"]["endCursor"]
    after_q = _query(field, f'first: {size}, after: "{cursor}"', ref, customer_id)
    afters = [(await _post(client, after_q))[0] for _ in range(repeat)]
    first_s = statistics.median(t for t, _ in firsts)
    after_s = statistics.median(afters)
    return {"first_s": first_s, "after_s": after_s, "ratio": after_s / first_s}


async def _walk(client: httpx.AsyncClient) -> dict[str, float]:
    after, pages, slowest, began = None, 0, 0.0, time.perf_counter()
    while True:
        args = "first: 500" + (f', after: "{after}"' if after else "")
        query = "{ touchpoints(" + args + ") { edges { node { id } } pageInfo { hasNextPage "
        elapsed, data = await _post(client, query + "endCursor } } }")
        pages, slowest = pages + 1, max(slowest, elapsed)
        info = data["touchpoints"]["pageInfo"]
        if not info["hasNextPage"]:
            return {"pages": pages, "total_s": time.perf_counter() - began, "slowest_s": slowest}
        after = info["endCursor"]


async def _trend(client: httpx.AsyncClient, timezone: str, repeat: int) -> float:
    window = '{from: "2026-07-02T00:00:00Z", to: "2026-09-30T00:00:00Z"}'
    query = ('{ trend(kind: NPS, granularity: DAY, timezone: "' + timezone + '", window: '
             + window + ") { result { n } } }")  # fmt: skip
    await _post(client, query)  # rollups materialise once, outside the measurement
    return statistics.median([(await _post(client, query))[0] for _ in range(repeat)])


async def run(
    repeat: int = 3, progress: Any = print, cases: tuple[str, ...] = tuple(CASES)
) -> dict[str, Any]:
    results: dict[str, Any] = {"cases": {}}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedMongo(tmp) as server:
        # Anonymous requests with every scope: this measures queries, not credentials.
        settings = Settings(mongo_uri=server.uri, mongo_db="bench", cache_backend="none",
                            mongo_query_timeout_s=900, auth=AuthMode.DISABLED)  # fmt: skip
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            mongo = app.state.cx.mongo
            progress("bench pages: loading the demo data ...")
            await load_demo(mongo, settings, settings.default_tenant, end=END)
            # The customer with the most touchpoints: the longest timeline.
            top = await aggregate(mongo["touchpoints"], [
                {"$group": {"_id": "$customerId", "n": {"$sum": 1}}},
                {"$sort": {"n": -1, "_id": 1}}, {"$limit": 1},
            ])  # fmt: skip
            customer_id = top[0]["_id"]
            customer = await mongo["customers"].find_one({"_id": customer_id})
            ref = customer["externalId"]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=None) as client:  # fmt: skip
                for name in cases:
                    path, field, size = CASES[name]
                    row = await _case(client, path, field, size, ref, customer_id, repeat)
                    results["cases"][name] = row
                    progress(f"bench pages: {name}: first {row['first_s'] * 1000:.0f} ms, "
                             f"after a cursor {row['after_s'] * 1000:.0f} ms "
                             f"({row['ratio']:.2f}×)")  # fmt: skip
                results["walk"] = await _walk(client)
                progress(f"bench pages: walk {results['walk']}")
                funnels = []
                for journey in ("online-purchase", "service-plan"):
                    query = '{ journeyFunnel(journey: "' + journey + '", window: ' + WINDOW
                    elapsed, _ = await _post(client, query + ") { stage customers } }")
                    funnels.append(elapsed)
                results["funnel_cold_s"] = max(funnels)
                progress(f"bench pages: cold funnel {results['funnel_cold_s'] * 1000:.0f} ms")
                tenant_tz = await _trend(client, settings.timezone, repeat)
                other_tz = await _trend(client, "Asia/Tehran", repeat)
                results["trend"] = {"tenant_tz_s": tenant_tz, "other_tz_s": other_tz,
                                    "ratio": other_tz / tenant_tz}  # fmt: skip
                progress(f"bench pages: trend {results['trend']}")
    results["max_cursor_ratio"] = max(r["ratio"] for r in results["cases"].values())
    return results


if __name__ == "__main__":
    import sys

    print(asyncio.run(run(cases=tuple(sys.argv[1:]) or tuple(CASES))))
