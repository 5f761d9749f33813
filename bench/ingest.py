"""The ingestion benchmark: how close the write paths come to a plain ``insert_many``.

Run ``python -m bench.ingest`` (``--help`` for the knobs). In one run, on one embedded
SecantusDB started in a child process, on the same generated survey responses (customers and
the journey loaded first, untimed), it measures:

a. ``insert_many``: the stored documents, built in advance, inserted in batches straight into
   a fresh collection with PyMongo's async client: the floor of what any write path costs;
   ``insert_many_indexed`` does the same into a collection with the indexes the service keeps
   on ``survey_responses`` (the storage cost every write path pays; shown for reference);
b. ``graphql``: ``submitSurveyResponses`` through the ASGI app in batches (httpx
   ``ASGITransport``, as the tests do): parsing, variable coercion, validation, idempotent
   write, result;
c. ``ndjson``: the whole set in one ``POST /ingest/survey-responses`` body.

Each path writes into a database of its own, so each stores every record (all INSERTED).
:func:`run` returns the numbers (for ``docs/benchmarks.md``); ``main`` prints a markdown table.
Request bodies are encoded before the clock starts: the client's JSON encoding is not the
service's cost. ``--repeat N`` keeps each path's best of N runs (the database and the
service share the machine's CPUs with whatever else runs). ``--profile graphql|ndjson``
prints a cProfile of that phase.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from devtools.embedded import EmbeddedMongo
from service.domain.ids import record_id
from service.http.app import create_app
from service.settings import Settings
from service.store.indexes import INDEXES, SURVEY_RESPONSES

SOURCE = "bench-crm"
TENANT = "default"
BASE_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
JOURNEY: dict[str, Any] = {
    "key": "purchase",
    "name": "Purchase",
    "stages": [
        {"key": "browse", "name": "Browse", "phase": "PRE_PURCHASE"},
        {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
        {"key": "support", "name": "Support", "phase": "POST_PURCHASE"},
    ],
}
STAGES = ("browse", "checkout", "support")
CHANNELS = ("WEB", "MOBILE_APP", "EMAIL", "PHONE", "CHAT")
COMPONENTS = ("COMMUNICATIONS", "PRODUCT", "PROCESSES", "CHANNELS", "PEOPLE", "PRICE")
# metric, scale min, scale max: the answers a response carries, in turn
ANSWER_KINDS = (("NPS", 0, 10), ("CSAT", 1, 5), ("CES", 1, 7), ("COMPONENT", 1, 5))

BULK_FIELDS = "dataVersion inserted updated unchanged rejected results { index status id }"
SUBMIT = (
    "mutation($input: [SurveyResponseInput!]!) "
    f"{{ submitSurveyResponses(input: $input) {{ {BULK_FIELDS} }} }}"
)
UPSERT_CUSTOMERS = (
    "mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { rejected } }"
)
DEFINE_JOURNEY = "mutation($input: JourneyInput!) { defineJourney(input: $input) { key } }"

PATHS = ("insert_many", "insert_many_indexed", "graphql", "ndjson")
TARGETS = {"graphql": 0.25, "ndjson": 0.60}


@dataclass
class Data:
    customers: list[dict[str, Any]]
    responses: list[dict[str, Any]]  # as partners send them: GraphQL input / NDJSON lines
    documents: list[dict[str, Any]]  # as the service stores them, for the baseline


def generate(records: int, answers: int = 4, customers: int = 1000) -> Data:
    """Deterministic data: ``records`` responses of ``answers`` answers over ``customers``."""
    people: list[dict[str, Any]] = [
        {"source": SOURCE, "externalId": f"c{i}", "name": f"Customer {i}",
         "segments": ["vip", "smb"] if i % 10 == 0 else ["smb" if i % 3 else "consumer"]}
        for i in range(customers)
    ]  # fmt: skip
    responses: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for i in range(records):
        who = people[i % customers]
        when = BASE_TIME + timedelta(minutes=7 * i)
        answer_list = []
        for j in range(answers):
            metric, low, high = ANSWER_KINDS[j % len(ANSWER_KINDS)]
            answer: dict[str, Any] = {
                "question": f"{metric.lower()}-{j}",
                "metric": metric,
                "value": low + (i * 7 + j * 3) % (high - low + 1),
                "scaleMin": low,
                "scaleMax": high,
            }
            if metric == "COMPONENT":
                answer["component"] = COMPONENTS[i % len(COMPONENTS)]
            answer_list.append(answer)
        record: dict[str, Any] = {
            "source": SOURCE,
            "externalId": f"r{i}",
            "customer": {"source": SOURCE, "externalId": who["externalId"]},
            "journey": JOURNEY["key"],
            "stage": STAGES[i % len(STAGES)],
            "channel": CHANNELS[i % len(CHANNELS)],
            "submittedAt": when.isoformat(),
            "answers": answer_list,
            "comment": f"response {i}" if i % 4 == 0 else None,
        }
        responses.append(record)
        documents.append({
            "_id": record_id("survey_responses", TENANT, SOURCE, record["externalId"]),
            "tenant": TENANT,
            "source": SOURCE,
            "externalId": record["externalId"],
            "contentHash": uuid.uuid4().hex,
            "customerRef": dict(record["customer"]),
            "touchpointRef": None,
            "journey": record["journey"],
            "stage": record["stage"],
            "channel": record["channel"],
            "submittedAt": when,
            "answers": [
                {"question": a["question"], "metric": a["metric"], "value": a["value"],
                 "scale": {"min": a["scaleMin"], "max": a["scaleMax"]},
                 "component": a.get("component")}
                for a in answer_list
            ],
            "comment": record["comment"],
            "customerId": record_id("customers", TENANT, SOURCE, who["externalId"]),
            "segments": sorted(who["segments"]),
            "writeId": uuid.uuid4().hex,
            "createdAt": now,
            "updatedAt": now,
        })  # fmt: skip
    return Data(customers=people, responses=responses, documents=documents)


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _insert_many(
    uri: str, documents: list[dict[str, Any]], size: int, *, indexed: bool
) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    db_name = f"cxbench_{uuid.uuid4().hex[:10]}"
    try:
        collection = client[db_name][SURVEY_RESPONSES]
        if indexed:
            await collection.create_indexes(INDEXES[SURVEY_RESPONSES])
        batches = _batches([dict(d) for d in documents], size)
        await client.admin.command("ping")
        start = time.perf_counter()
        for batch in batches:
            await collection.insert_many(batch, ordered=False)
        elapsed = time.perf_counter() - start
        assert await collection.count_documents({}) == len(documents)
        return elapsed
    finally:
        await client.drop_database(db_name)
        await client.close()


async def _with_app(
    uri: str,
    batch_size: int,
    data: Data,
    measure: Callable[[httpx.AsyncClient], Coroutine[Any, Any, float]],
) -> float:
    """A fresh app on a fresh database with the customers and the journey loaded."""
    settings = Settings(
        mongo_uri=uri, mongo_db=f"cxbench_{uuid.uuid4().hex[:10]}", mongo_driver="pymongo",
        max_batch=batch_size, auth="disabled", rate_limit_per_minute=0,
        rate_limit_cost_per_minute=0,  # the benchmark measures the work, not the guards
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await _load(client, data, batch_size)
                return await measure(client)
        finally:
            await app.state.cx.mongo.client.drop_database(settings.mongo_db)


async def _load(client: httpx.AsyncClient, data: Data, batch_size: int) -> None:
    body = await _post_graphql(client, DEFINE_JOURNEY, {"input": JOURNEY})
    assert "errors" not in body, body
    for batch in _batches(data.customers, batch_size):
        body = await _post_graphql(client, UPSERT_CUSTOMERS, {"input": batch})
        assert body["data"]["upsertCustomers"]["rejected"] == 0, body


async def _post_graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    result: dict[str, Any] = response.json()
    return result


def _graphql(
    data: Data, batch_size: int
) -> Callable[[httpx.AsyncClient], Coroutine[Any, Any, float]]:
    bodies = [
        json.dumps({"query": SUBMIT, "variables": {"input": batch}}).encode()
        for batch in _batches(data.responses, batch_size)
    ]

    async def measure(client: httpx.AsyncClient) -> float:
        headers = {"content-type": "application/json"}
        replies = []
        start = time.perf_counter()
        for body in bodies:
            replies.append(await client.post("/graphql", content=body, headers=headers))
        elapsed = time.perf_counter() - start
        inserted = sum(r.json()["data"]["submitSurveyResponses"]["inserted"] for r in replies)
        assert inserted == len(data.responses), [r.text[:500] for r in replies]
        return elapsed

    return measure


def _ndjson(data: Data) -> Callable[[httpx.AsyncClient], Coroutine[Any, Any, float]]:
    body = "".join(json.dumps(r) + "\n" for r in data.responses).encode()
    piece = 64 * 1024

    async def upload() -> AsyncIterator[bytes]:
        for i in range(0, len(body), piece):
            yield body[i : i + piece]

    async def measure(client: httpx.AsyncClient) -> float:
        headers = {"content-type": "application/x-ndjson"}
        start = time.perf_counter()
        response = await client.post("/ingest/survey-responses", content=upload(), headers=headers)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, response.text[:500]
        summary = json.loads(response.text.rstrip("\n").rsplit("\n", 1)[-1])
        assert summary.get("inserted") == len(data.responses), summary
        return elapsed

    return measure


def _profiled(
    name: str,
    profile: str | None,
    measure: Callable[[httpx.AsyncClient], Coroutine[Any, Any, float]],
) -> Callable[[httpx.AsyncClient], Coroutine[Any, Any, float]]:
    if profile != name:
        return measure

    async def profiled(client: httpx.AsyncClient) -> float:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            return await measure(client)
        finally:
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
            print(out.getvalue(), file=sys.stderr)

    return profiled


async def _run(
    uri: str, data: Data, batch_size: int, paths: tuple[str, ...], repeat: int, profile: str | None
) -> dict[str, float]:
    """Each path's best time of ``repeat`` runs, the paths taking turns."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        for path in paths:
            if path in ("insert_many", "insert_many_indexed"):
                indexed = path == "insert_many_indexed"
                elapsed = await _insert_many(uri, data.documents, batch_size, indexed=indexed)
            else:
                measure = _graphql(data, batch_size) if path == "graphql" else _ndjson(data)
                elapsed = await _with_app(uri, batch_size, data, _profiled(path, profile, measure))
            best[path] = min(elapsed, best.get(path, elapsed))
    return best


def run(
    batches: int = 10,
    batch_size: int = 1000,
    answers: int = 4,
    *,
    uri: str | None = None,
    paths: tuple[str, ...] = PATHS,
    repeat: int = 1,
    profile: str | None = None,
) -> dict[str, Any]:
    """Measure each path on the same data; ``uri`` reuses a running server instead of
    starting the embedded one. Returns records/second per path and its ratio to insert_many
    (the plain one)."""
    data = generate(batches * batch_size, answers)
    if uri is None:
        with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp, EmbeddedMongo(tmp) as server:
            assert server.uri is not None
            seconds = asyncio.run(_run(server.uri, data, batch_size, paths, repeat, profile))
    else:
        seconds = asyncio.run(_run(uri, data, batch_size, paths, repeat, profile))
    n = len(data.responses)
    base = seconds.get("insert_many")
    results: dict[str, dict[str, float | None]] = {}
    for path, elapsed in seconds.items():
        results[path] = {
            "seconds": round(elapsed, 4),
            "records_per_s": round(n / elapsed, 1),
            "ratio": round(base / elapsed, 3) if base else None,
            "target": TARGETS.get(path),
        }
    return {
        "records": n,
        "batch_size": batch_size,
        "answers_per_record": answers,
        "repeat": repeat,
        "results": results,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['records']} survey responses, {report['answers_per_record']} answers each, "
        f"batches of {report['batch_size']}, best of {report['repeat']}",
        "",
        "| path | seconds | records/s | ratio to insert_many | target |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for path, r in report["results"].items():
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        target = "" if r["target"] is None else f"≥ {r['target']:.2f}"
        lines.append(
            f"| {path} | {r['seconds']:.3f} | {r['records_per_s']:,.0f} | {ratio} | {target} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--answers", type=int, default=4)
    parser.add_argument(
        "--uri", help="a running MongoDB-compatible server instead of the embedded one"
    )
    parser.add_argument(
        "--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)}"
    )
    parser.add_argument(
        "--profile", choices=("graphql", "ndjson"), help="cProfile that path (stderr)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="keep each path's best of N")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON too")
    args = parser.parse_args(argv)
    paths = tuple(p for p in args.paths.split(",") if p)
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    report = run(
        args.batches, args.batch_size, args.answers, uri=args.uri, paths=paths,
        repeat=args.repeat, profile=args.profile,
    )  # fmt: skip
    print(markdown(report))
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
