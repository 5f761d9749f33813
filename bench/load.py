"""`make load`: a bounded mixed load against a real server, written to docs/reliability.md.

Run ``python -m bench.load`` (``--help`` for the knobs: duration, warm-up, partner and
dashboard users). It starts an embedded SecantusDB in a child process and ``cxgraph serve``
in another, on 127.0.0.1 only, then runs for a fixed time and stops by itself:

- **partners** send batches of survey responses, alternating the ``submitSurveyResponses``
  mutation and ``POST /ingest/survey-responses`` (NDJSON); one send in four is a resend of an
  earlier batch (by either route), as a partner retrying after a timeout would;
- **dashboards** ask ``breakdown``, ``trend`` and ``journeyFunnel``; half of the breakdowns
  and trends pass the latest ``minDataVersion`` a partner was given.

It reports requests per second and p50/p95/p99 per operation, errors by code, the server's
RSS at start, after the warm-up and at the end; then checks that every record sent is stored
exactly once, that every first send said INSERTED and every resend UNCHANGED, and that
``cxgraph rollups rebuild --check`` finds no drift. Only the measured phase (after the
warm-up) counts towards the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pymongo

from devtools.embedded import EmbeddedMongo

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOST = "127.0.0.1"  # the only address this load ever targets
BATCH = 50
DAYS = 14
CHANNELS = ["WEB", "EMAIL", "PHONE", "CHAT"]
STAGES = ["signup", "checkout", "support"]
SUBMIT = """mutation($input: [SurveyResponseInput!]!) { submitSurveyResponses(input: $input) {
  dataVersion inserted updated unchanged rejected results { status } } }"""
TOUCHPOINTS = """mutation($input: [TouchpointInput!]!) { recordTouchpoints(input: $input) {
  inserted rejected } }"""
JOURNEY = """mutation($input: JourneyInput!) { defineJourney(input: $input) { key } }"""
WINDOW = '{from: "2026-03-01T00:00:00Z", to: "2026-03-15T00:00:00Z"}'
BREAKDOWN = f"""query($v: Int) {{ breakdown(kind: NPS, by: [CHANNEL], window: {WINDOW},
  minDataVersion: $v) {{ keys {{ value }} result {{ n value }} }} }}"""
TREND = f"""query($v: Int) {{ trend(kind: CSAT_SCORE_PERCENT, granularity: DAY, window: {WINDOW},
  minDataVersion: $v) {{ periodStart result {{ n value }} }} }}"""
FUNNEL = f"""query {{ journeyFunnel(journey: "onboarding", window: {WINDOW}) {{
  stage customers }} }}"""


@dataclass
class Sent:
    """One batch a partner sent first, and how each of its sends was answered."""

    records: list[dict[str, Any]]
    first: list[str] = field(default_factory=list)
    resends: list[list[str]] = field(default_factory=list)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    batches: list[Sent] = field(default_factory=list)
    data_version: int = 0
    measuring: bool = False


def response(external_id: str, rng: random.Random) -> dict[str, Any]:
    day = rng.randrange(DAYS)
    return {
        "source": "load",
        "externalId": external_id,
        "customer": {"source": "load", "externalId": f"c{rng.randrange(500)}"},
        "submittedAt": f"2026-03-{1 + day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
        "channel": rng.choice(CHANNELS),
        "answers": [
            {"question": "nps", "metric": "NPS", "value": rng.randrange(11),
             "scaleMin": 0, "scaleMax": 10},
            {"question": "csat", "metric": "CSAT", "value": rng.randrange(1, 6),
             "scaleMin": 1, "scaleMax": 5},
        ],
    }  # fmt: skip


def record(tally: Tally, op: str, elapsed: float, status: int, codes: list[str]) -> None:
    if not tally.measuring:
        return
    tally.latencies[op].append(elapsed)
    tally.statuses[status] += 1
    for code in codes:
        tally.errors[f"{op}: {code}"] += 1
    if status >= 500:
        tally.errors[f"{op}: HTTP {status}"] += 1


async def send_batch(
    client: httpx.AsyncClient, tally: Tally, route: str, records: list[dict[str, Any]], op: str
) -> list[str]:
    started = time.perf_counter()
    if route == "mutation":
        answer = await client.post("/graphql", json={"query": SUBMIT,
                                                     "variables": {"input": records}})  # fmt: skip
        body = answer.json()
        codes = [e["extensions"]["code"] for e in body.get("errors") or []]
        record(tally, op, time.perf_counter() - started, answer.status_code, codes)
        if codes or answer.status_code != 200:
            return []
        result = body["data"]["submitSurveyResponses"]
        tally.data_version = max(tally.data_version, result["dataVersion"])
        return [r["status"] for r in result["results"]]
    content = "".join(json.dumps(r) + "\n" for r in records)
    answer = await client.post("/ingest/survey-responses", content=content,
                               headers={"content-type": "application/x-ndjson"})  # fmt: skip
    lines = [json.loads(line) for line in answer.text.splitlines() if line]
    codes = [e["extensions"]["code"] for line in lines for e in line.get("errors", [])]
    record(tally, op, time.perf_counter() - started, answer.status_code, codes)
    if codes or answer.status_code != 200:
        return []
    tally.data_version = max(tally.data_version, lines[-1]["dataVersion"])
    return [line["status"] for line in lines[:-1]]


async def partner(
    client: httpx.AsyncClient, tally: Tally, user: int, stop_at: float, max_requests: int
) -> None:
    rng = random.Random(user)
    for n in range(max_requests):
        if time.monotonic() >= stop_at:
            return
        route = "mutation" if n % 2 == 0 else "ndjson"
        if tally.batches and rng.random() < 0.25:
            sent = rng.choice(tally.batches)
            statuses = await send_batch(client, tally, route, sent.records, f"{route} (resend)")
            if statuses:
                sent.resends.append(statuses)
            continue
        records = [response(f"p{user}-{n}-{i}", rng) for i in range(BATCH)]
        sent = Sent(records)
        sent.first = await send_batch(client, tally, route, records, route)
        tally.batches.append(sent)  # resent only once its first send has been answered


async def dashboard(
    client: httpx.AsyncClient, tally: Tally, user: int, stop_at: float, max_requests: int
) -> None:
    rng = random.Random(1000 + user)
    for n in range(max_requests):
        if time.monotonic() >= stop_at:
            return
        name, query = [("breakdown", BREAKDOWN), ("trend", TREND), ("journeyFunnel", FUNNEL)][n % 3]
        variables: dict[str, Any] = {}
        if name != "journeyFunnel":
            fresh = rng.random() < 0.5
            variables = {"v": tally.data_version if fresh else None}
            name += " (minDataVersion)" if fresh else ""
        started = time.perf_counter()
        answer = await client.post("/graphql", json={"query": query, "variables": variables})
        codes = [e["extensions"]["code"] for e in answer.json().get("errors") or []]
        record(tally, name, time.perf_counter() - started, answer.status_code, codes)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "service.cli.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr)
    return done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


async def seed(client: httpx.AsyncClient) -> None:
    journey = {"key": "onboarding", "name": "Onboarding", "stages": [
        {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
        {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
        {"key": "support", "name": "Support", "phase": "POST_PURCHASE"}]}  # fmt: skip
    await client.post("/graphql", json={"query": JOURNEY, "variables": {"input": journey}})
    rng = random.Random(7)
    touchpoints = [{"source": "load", "externalId": f"t{i}",
                    "customer": {"source": "load", "externalId": f"c{i % 500}"},
                    "channel": rng.choice(CHANNELS), "kind": "visit",
                    "occurredAt": f"2026-03-{1 + i % DAYS:02d}T09:00:00Z",
                    "journey": "onboarding", "stage": STAGES[min(i % 7, 2)]}
                   for i in range(1000)]  # fmt: skip
    for start in range(0, len(touchpoints), 500):
        chunk = touchpoints[start : start + 500]
        answer = await client.post("/graphql", json={"query": TOUCHPOINTS,
                                                     "variables": {"input": chunk}})  # fmt: skip
        assert answer.json()["data"]["recordTouchpoints"]["inserted"] == len(chunk)


async def drive(args: argparse.Namespace, base: str, key: str, pid: int) -> dict[str, Any]:
    tally = Tally()
    limits = httpx.Limits(max_connections=args.partners + args.dashboards + 4)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits,
                                 headers={"authorization": f"Bearer {key}"}) as client:  # fmt: skip
        await seed(client)
        rss_start = rss_mb(pid)
        loop_start = time.monotonic()
        stop_at = loop_start + args.warmup + args.duration
        cap = args.max_requests

        async def warmup_then_measure() -> float:
            await asyncio.sleep(args.warmup)
            tally.measuring = True
            return rss_mb(pid)

        users = [partner(client, tally, u, stop_at, cap) for u in range(args.partners)]
        users += [dashboard(client, tally, u, stop_at, cap) for u in range(args.dashboards)]
        rss_warm, *_ = await asyncio.gather(warmup_then_measure(), *users)
        measured_s = time.monotonic() - loop_start - args.warmup
        rss_end = rss_mb(pid)
        for query in (TREND, BREAKDOWN):  # materialise every day, so --check compares them all
            await client.post("/graphql", json={"query": query, "variables": {}})
    return {"tally": tally, "rss": (rss_start, rss_warm, rss_end), "measured_s": measured_s}


def verify(uri: str, db: str, tally: Tally, env: dict[str, str]) -> dict[str, Any]:
    # Acknowledged at least once: must be stored. Every stored record must have been sent.
    sent_ids = [r["externalId"] for b in tally.batches for r in b.records
                if b.first or b.resends]  # fmt: skip
    with pymongo.MongoClient(uri) as client:
        stored = Counter(d["externalId"] for d in client[db]["survey_responses"].find(
            {"source": "load"}, {"externalId": 1}))  # fmt: skip
    answered = [b for b in tally.batches if b.first]
    unacknowledged = [b for b in tally.batches if not b.first]
    return {
        "sent": len(set(sent_ids)),
        "stored": sum(stored.values()),
        "stored_once": all(stored[i] == 1 for i in sent_ids) and max(stored.values()) == 1,
        "unexpected_stored": len(
            set(stored) - {r["externalId"] for b in tally.batches for r in b.records}
        ),
        "first_all_inserted": all(set(b.first) == {"INSERTED"} for b in answered),
        "resends": sum(len(b.resends) for b in tally.batches),
        "first_failed": len(unacknowledged),
        "resends_all_unchanged": all(
            set(s) == {"UNCHANGED"} for b in tally.batches for s in b.resends
        ),
        "drift": cli(env, "rollups", "rebuild", "--check").strip().splitlines()[-1],
    }


MONGO_TEST = "`tests/integration/faults/test_mongo.py`"
FAULTS = [
    ("MongoDB stopped, then restarted on the same port and files", MONGO_TEST,
     "mutation, query and NDJSON fail with UNAVAILABLE (NDJSON: HTTP 503) within "
     "1.5 × `CX_MONGO_SERVER_SELECTION_TIMEOUT_S` + 0.75 s; `/readyz` 503 then 200; the "
     "process stays up; the batch acknowledged before is all there; the refused ones land "
     "once on resend"),
    ("MongoDB paused (SIGSTOP), then resumed", MONGO_TEST,
     "the same, also once the driver has noticed; a request waiting on it is cut off by the "
     "liveness ping (docs/adr/0016), not by the 10 s socket timeout or a 120 s query budget"),
    ("Redis on a closed port, then a real Redis there", "`tests/integration/faults/test_redis.py`",
     "exact answers, no 5xx, the fault logged once (cache and rate limiter) and counted; "
     "hits resume"),
    ("Redis that accepts and never answers, then a real Redis", "same",
     "the same; the worst request pays the two 0.5 s timeouts, most none (a failed Redis is "
     "left alone for 1 s)"),
    ("a client times out and resends (mutation, NDJSON)",
     "`tests/integration/faults/test_retries.py`",
     "stored once, UNCHANGED on the next send, rollups equal a raw recount"),
    ("two replicas receive the same batch at once", "same",
     "each record INSERTED by exactly one replica, UNCHANGED by the other"),
    ("an NDJSON answer cut off after its first chunk", "same",
     "what is stored is a prefix of the file holding every record reported; the resend "
     "completes it"),
    ("a body sent too slowly; a client that stops reading NDJSON",
     "`tests/integration/faults/test_slow_clients.py`",
     "408 after `CX_BODY_TIMEOUT_S`, nothing stored; dropped after `CX_SEND_TIMEOUT_S`; "
     "other requests answered meanwhile"),
    ("SIGTERM during a write and read load", "`tests/integration/faults/test_restart.py`",
     "every answer a 200; requests left unanswered were never read and stored nothing; "
     "acknowledged writes all stored once; resends land once; no drift"),
]  # fmt: skip
FAULT_TABLE = "| fault | test | what holds |\n|---|---|---|\n" + "\n".join(
    f"| {fault} | {test} | {holds} |" for fault, test, holds in FAULTS
)


def render(args: argparse.Namespace, run: dict[str, Any], check: dict[str, Any]) -> str:
    tally: Tally = run["tally"]
    measured = run["measured_s"]
    rss_start, rss_warm, rss_end = run["rss"]
    growth = (rss_end - rss_warm) / rss_warm * 100
    total = sum(len(v) for v in tally.latencies.values())
    fivexx = sum(n for status, n in tally.statuses.items() if status >= 500)
    rows = []
    for op in sorted(tally.latencies):
        values = tally.latencies[op]
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99))
        rows.append(f"| {op} | {len(values)} | {len(values) / measured:.1f} | "
                    f"{p50:.0f} | {p95:.0f} | {p99:.0f} |")  # fmt: skip
    errors = "\n".join(f"| {k} | {n} |" for k, n in sorted(tally.errors.items())) or "| none | 0 |"
    no_drift = ", 0 drifted," in check["drift"]
    verdicts = [
        ("zero 5xx", fivexx == 0),
        (f"RSS at the end within 20% of RSS after warm-up ({growth:+.1f}%)", abs(growth) <= 20),
        ("every record sent stored exactly once", check["stored_once"]
         and check["stored"] == check["sent"] and check["unexpected_stored"] == 0),
        ("every first send INSERTED, every resend UNCHANGED",
         check["first_all_inserted"] and check["resends_all_unchanged"]),
        ("`cxgraph rollups rebuild --check`: no drift", no_drift),
    ]  # fmt: skip
    verdict_lines = "\n".join(
        f"- {'met' if ok else '**not met**'}: {text}" for text, ok in verdicts
    )
    return f"""# Reliability: mixed load and faults

## Mixed load (`make load`)

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} CPUs
shared with other work, Python {platform.python_version()}; one `cxgraph serve` process
against the embedded SecantusDB in a child process (slower than MongoDB: the absolute figures
are this machine's and this database's, not a capacity claim). Default settings (metric and
response caches in memory) except the request and query-cost limits, which are off: one key
sends everything.

Reproduce: `make load` (`LOAD_ARGS="--duration 60 --warmup 10 --partners 4 --dashboards 8"`
are the defaults; `.venv/bin/python -m bench.load --help`). It targets 127.0.0.1 only, runs
for the warm-up plus the duration and stops by itself (each user also stops after
`--max-requests` requests).

This run: {args.partners} partner users (batches of {BATCH} survey responses, alternating the
mutation and NDJSON, one send in four a resend of an earlier batch) and {args.dashboards}
dashboard users (`breakdown`, `trend`, `journeyFunnel` in turn; half the breakdowns and trends
with the latest `minDataVersion`), {args.warmup:g} s warm-up then {measured:.0f} s measured:
{total} requests, {total / measured:.1f} per second.

| operation | requests | per second | p50 ms | p95 ms | p99 ms |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Percentiles are nearest-rank over the measured requests: with fewer than 100 requests of an
operation, p99 is its slowest. Reading them: every partner batch spreads its responses over
all {DAYS} days of the window, so every write marks each day written again and the next
`breakdown` or `trend` recomputes those days from raw documents (docs/adr/0004) on a database
that is busy with the writes; `journeyFunnel` reads touchpoints, which this load does not
write. Partners whose data is mostly today's invalidate one day, not {DAYS}.

Errors by code (measured phase):

| operation: code | count |
|---|---|
{errors}

Server RSS: {rss_start:.0f} MB at start, {rss_warm:.0f} MB after warm-up, {rss_end:.0f} MB at
the end ({growth:+.1f}%).

At the end: {check["sent"]} distinct records acknowledged, {check["stored"]} stored;
{check["resends"]} resends answered; {check["first_failed"]} first sends not acknowledged.
`cxgraph rollups rebuild --check` (after one last query materialised every day):
{check["drift"]}

{verdict_lines}

## Faults (automated tests, in `make test`)

Each runs `cxgraph serve` as a real process, bounded in time:

{FAULT_TABLE}

An NDJSON body cut off *while it is being sent* stores nothing: the route reads the whole body
before writing (so an oversized body is refused whole, docs/ingestion.md); the resend stores it.
"""


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the server did not start")
        time.sleep(0.1)


def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="cxgraph-load-") as tmp:
        database = EmbeddedMongo(Path(tmp) / "db")
        uri = database.start()
        db = f"cxload_{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "CX_MONGO_URI": uri, "CX_MONGO_DB": db}
        port = free_port()
        server_env = {**env, "CX_HOST": HOST, "CX_PORT": str(port), "CX_LOG_LEVEL": "warning",
                      "CX_RATE_LIMIT_PER_MINUTE": "0", "CX_RATE_LIMIT_COST_PER_MINUTE": "0",
                      "CX_CACHE_BACKEND": "memory"}  # fmt: skip
        scopes = ["--scope", "data:write", "--scope", "metrics:read"]
        try:
            out = cli(env, "keys", "create", "--tenant", "default", *scopes, "--name", "load")
            key = out.strip().splitlines()[-1]
            with (Path(tmp) / "server.log").open("wb") as log:
                command = [sys.executable, "-m", "service.cli.main", "serve"]
                server = subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=log,
                                          stderr=subprocess.STDOUT)  # fmt: skip
                try:
                    base = f"http://{HOST}:{port}"
                    wait_ready(base, server)
                    result = asyncio.run(drive(args, base, key, server.pid))
                finally:
                    server.terminate()
                    server.wait(timeout=60)
            check = verify(uri, db, result["tally"], env)
        finally:
            database.stop()
    return render(args, result, check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--partners", type=int, default=4, help="users sending batches")
    parser.add_argument("--dashboards", type=int, default=8, help="users asking metrics")
    parser.add_argument("--max-requests", type=int, default=5000, help="per user, at most")
    parser.add_argument("--out", default=str(DOCS / "reliability.md"))
    args = parser.parse_args()
    text = run(args)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
