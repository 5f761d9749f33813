"""What a responses.ingested webhook costs ingestion: ``python -m bench.webhooks``.

On one embedded SecantusDB, the same generated survey responses are sent through
``submitSurveyResponses`` in batches (as ``bench.ingest``'s ``graphql`` path) by three apps
in turn, each on a fresh database:

- ``none``: the tenant has no webhook (a write looks its subscriptions up in memory);
- ``fast``: a ``responses.ingested`` webhook whose receiver (127.0.0.1) answers at once;
- ``slow``: the same, with a receiver that takes ``--receiver-delay`` seconds per answer.

Each arm's best of ``--repeat`` runs; the ratios are of one run on one machine (the workers
send while the writes go on, in the same process). Deliveries still pending when the clock
stops are not waited for: the point is what the writer sees.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.ingest import SUBMIT, Data, _batches, _load, _post_graphql, generate
from devtools.embedded import EmbeddedMongo
from service.http.app import create_app
from service.settings import Settings

ARMS = ("none", "fast", "slow")
DEFINE = """mutation($url: String!) { defineWebhook(url: $url, events: ["responses.ingested"],
  secret: "bench-secret-0123456789") { id } }"""


def _receiver(delay_s: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            time.sleep(delay_s)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _arm(uri: str, data: Data, batch_size: int, url: str | None) -> tuple[float, int]:
    settings = Settings(
        mongo_uri=uri, mongo_db=f"cxbench_{uuid.uuid4().hex[:10]}", mongo_driver="pymongo",
        max_batch=batch_size, auth="disabled", rate_limit_per_minute=0,
        rate_limit_cost_per_minute=0, webhook_allow_private=True,
    )  # fmt: skip
    bodies = [json.dumps({"query": SUBMIT, "variables": {"input": b}}).encode()
              for b in _batches(data.responses, batch_size)]  # fmt: skip
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await _load(client, data, batch_size)
                if url is not None:
                    body = await _post_graphql(client, DEFINE, {"url": url})
                    assert "errors" not in body, body
                headers = {"content-type": "application/json"}
                start = time.perf_counter()
                for body_bytes in bodies:
                    reply = await client.post("/graphql", content=body_bytes, headers=headers)
                    assert reply.json()["data"]["submitSurveyResponses"]["rejected"] == 0
                elapsed = time.perf_counter() - start
                recorded: int = await app.state.cx.mongo.db.webhook_deliveries.count_documents({})
            return elapsed, recorded
    finally:  # after the app stopped: its worker no longer writes there
        mongo: AsyncMongoClient[Any] = AsyncMongoClient(uri)
        await mongo.drop_database(settings.mongo_db)
        await mongo.close()


async def _run(uri: str, data: Data, batch_size: int, repeat: int, delay_s: float
               ) -> dict[str, Any]:  # fmt: skip
    fast, slow = _receiver(0.0), _receiver(delay_s)
    urls = {"none": None, "fast": f"http://127.0.0.1:{fast.server_port}/",
            "slow": f"http://127.0.0.1:{slow.server_port}/"}  # fmt: skip
    best: dict[str, float] = {}
    deliveries: dict[str, int] = {}
    try:
        for _ in range(repeat):
            for arm in ARMS:
                elapsed, recorded = await _arm(uri, data, batch_size, urls[arm])
                best[arm] = min(elapsed, best.get(arm, elapsed))
                deliveries[arm] = recorded
    finally:
        fast.shutdown()
        slow.shutdown()
    base = best["none"]
    return {arm: {"seconds": round(best[arm], 3), "ratio_to_none": round(best[arm] / base, 3),
                  "deliveries_recorded": deliveries[arm]} for arm in ARMS}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--receiver-delay", type=float, default=2.0)
    args = parser.parse_args(argv)
    data = generate(args.records)
    with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp, EmbeddedMongo(tmp) as server:
        assert server.uri is not None
        report = asyncio.run(_run(server.uri, data, args.batch_size, args.repeat,
                                  args.receiver_delay))  # fmt: skip
    print(f"{args.records} responses in batches of {args.batch_size}, best of {args.repeat}")
    print("| webhook | seconds | × no webhook | deliveries recorded |")
    print("| --- | ---: | ---: | ---: |")
    for arm, row in report.items():
        print(f"| {arm} | {row['seconds']} | {row['ratio_to_none']} | "
              f"{row['deliveries_recorded']} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
