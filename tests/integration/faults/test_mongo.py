"""MongoDB goes away under a real server process: stopped and restarted, or paused (SIGSTOP).

Requests fail fast with UNAVAILABLE (503 on the NDJSON route) within 1.5 x the
server-selection timeout plus a margin, /readyz turns 503 and back, the process stays up and
answers again without a restart. A batch acknowledged before the fault is all there
afterwards; one that was refused is resent and lands once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest

from devtools.embedded import EmbeddedMongo
from tests.graphql import SUBMIT_RESPONSES
from tests.integration.builders import response
from tests.integration.processes import Server, create_key, free_port, serve

SELECTION_S = 1.0  # CX_MONGO_SERVER_SELECTION_TIMEOUT_S of the server under test
# A database that hangs is pinged after SELECTION_S, the ping's budget half that (ADR 0016).
LIMIT_S = 1.5 * SELECTION_S + 0.75
METRIC = """query { metric(kind: NPS, window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-03T00:00:00Z"}, source: RAW) { n value } }"""


class Stack:
    """An embedded database of the test's own (so it can be stopped) and a server on it."""

    def __init__(self, db_dir: Path, log_dir: Path) -> None:
        self.db_dir, self.log_dir = db_dir, log_dir
        self.database = EmbeddedMongo(db_dir, port=free_port())
        self.uri = self.database.start()
        self.name = f"cxfault_{uuid.uuid4().hex[:8]}"
        self.key = create_key(self.uri, self.name)

    def restart_database(self) -> None:
        self.database = EmbeddedMongo(self.db_dir, port=self.database.port)
        self.database.start()

    def stored(self, external_ids: list[str]) -> list[str]:
        with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=5000) as client:
            docs = client[self.name]["survey_responses"].find(
                {"externalId": {"$in": external_ids}}, {"externalId": 1}
            )
            return sorted(d["externalId"] for d in docs)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, Server, httpx.Client]]:
    stack = Stack(tmp_path / "db", tmp_path)
    try:
        with serve(stack.uri, stack.name, tmp_path,
                   CX_MONGO_SERVER_SELECTION_TIMEOUT_S=str(SELECTION_S),
                   CX_AUTH_CACHE_S="0", CX_CACHE_BACKEND="none") as server:  # fmt: skip
            headers = {"authorization": f"Bearer {stack.key}"}
            with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
                yield stack, server, client
    finally:
        stack.database.stop()


def batch(prefix: str, n: int = 5) -> list[dict[str, Any]]:
    return [response(f"{prefix}-{i}", submitted_at=f"2026-03-02T10:0{i}:00Z") for i in range(n)]


def submit(client: httpx.Client, records: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    answer = client.post("/graphql", json={"query": SUBMIT_RESPONSES,
                                           "variables": {"input": records}})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return time.monotonic() - started, body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


def statuses(body: dict[str, Any]) -> list[str]:
    return [r["status"] for r in body["data"]["submitSurveyResponses"]["results"]]


def ndjson(client: httpx.Client, records: list[dict[str, Any]]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    body = "".join(json.dumps(r) + "\n" for r in records)
    answer = client.post("/ingest/survey-responses", content=body,
                         headers={"content-type": "application/x-ndjson"})  # fmt: skip
    return time.monotonic() - started, answer


def assert_unavailable(stack: Stack, server: Server, client: httpx.Client) -> None:
    """Every kind of request fails fast with UNAVAILABLE; nothing hangs; the process lives."""
    limit = LIMIT_S
    elapsed, body = submit(client, batch("refused"))
    assert (codes(body), body["data"]) == (["UNAVAILABLE"], None), body
    assert elapsed < limit, elapsed

    started = time.monotonic()
    read = client.post("/graphql", json={"query": METRIC})
    assert codes(read.json()) == ["UNAVAILABLE"], read.text
    assert time.monotonic() - started < limit

    elapsed, answer = ndjson(client, batch("ndjson-refused"))
    assert answer.status_code == 503, answer.text
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert elapsed < limit, elapsed

    started = time.monotonic()
    ready = httpx.get(f"{server.base}/readyz", timeout=10)
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable", "mongo": "down"})
    assert time.monotonic() - started < limit
    assert httpx.get(f"{server.base}/livez", timeout=5).status_code == 200
    assert server.proc.poll() is None


def assert_recovers(stack: Stack, server: Server, client: httpx.Client) -> None:
    """Ready again without a restart; refused batches land once on resend."""
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.base}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "not ready again within 30 s"
        time.sleep(0.2)
    for prefix in ("refused", "ndjson-refused"):
        _, body = submit(client, batch(prefix))
        assert statuses(body) == ["INSERTED"] * 5, body
        _, again = submit(client, batch(prefix))
        assert statuses(again) == ["UNCHANGED"] * 5, again
    acknowledged = [f"acked-{i}" for i in range(5)]
    assert stack.stored(acknowledged) == acknowledged
    assert stack.stored([f"refused-{i}" for i in range(5)]) == [f"refused-{i}" for i in range(5)]
    read = client.post("/graphql", json={"query": METRIC}).json()
    assert read["data"] == {"metric": {"n": 15, "value": 100.0}}, read
    assert server.proc.poll() is None


def test_a_stopped_then_restarted_database(stack: tuple[Stack, Server, httpx.Client]) -> None:
    db, server, client = stack
    _, body = submit(client, batch("acked"))
    assert statuses(body) == ["INSERTED"] * 5

    db.database.stop()
    assert_unavailable(db, server, client)
    db.restart_database()
    assert_recovers(db, server, client)


def test_a_paused_database(stack: tuple[Stack, Server, httpx.Client]) -> None:
    db, server, client = stack
    _, body = submit(client, batch("acked"))
    assert statuses(body) == ["INSERTED"] * 5

    db.database.pause()
    try:
        assert_unavailable(db, server, client)
        # Still paused a while later: the driver's own view has caught up; still fast.
        time.sleep(SELECTION_S * 2)
        assert_unavailable(db, server, client)
    finally:
        db.database.resume()
    assert_recovers(db, server, client)
    assert "Traceback" not in server.log()
