"""SIGTERM in the middle of a load: no acknowledged write lost, every accepted request answered.

Writers and readers keep a real server busy, each request on a connection of its own; the
server is sent SIGTERM half way. Every answer that came back is a 200 without errors; every
request that got no answer was refused at connect (the listener had closed) or closed before
the server read it, and nothing of it was stored: it was never accepted. Every batch
acknowledged is stored once; a second server on the same database then takes the resends of
the refused batches, and the rollups have no drift from the raw documents (``cxgraph rollups
rebuild --check``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest

from tests.graphql import SUBMIT_RESPONSES
from tests.integration.builders import response
from tests.integration.processes import ROOT, create_key, serve

WRITERS, READERS = 4, 2
BATCH = 20
MAX_REQUESTS = 60  # per client: the load is bounded even if SIGTERM is never honoured
LOAD_BEFORE_SIGTERM_S = 1.5
READ = """query { breakdown(kind: NPS, by: [CHANNEL], window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-08T00:00:00Z"}) { keys { value } result { n } } }"""


@dataclass
class Log:
    acknowledged: list[list[str]] = field(default_factory=list)
    refused: list[list[str]] = field(default_factory=list)
    answers: Counter[int] = field(default_factory=Counter)
    after_sigterm: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def batch(writer: int, n: int) -> list[dict[str, Any]]:
    return [response(f"w{writer}-{n}-{i}", customer_id=f"c{i % 5}",
                     submitted_at=f"2026-03-0{1 + (n + i) % 7}T10:00:00Z",
                     channel=["WEB", "EMAIL"][i % 2]) for i in range(BATCH)]  # fmt: skip


def client_loop(
    base: str, key: str, writer: int | None, log: Log, sigterm: threading.Event
) -> None:
    headers = {"authorization": f"Bearer {key}", "connection": "close"}
    for n in range(MAX_REQUESTS):
        records = batch(writer, n) if writer is not None else []
        body = ({"query": SUBMIT_RESPONSES, "variables": {"input": records}}
                if writer is not None else {"query": READ})  # fmt: skip
        ids = [r["externalId"] for r in records]
        try:
            answer = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=30)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # Refused at connect once the listener closed, reset with the accept queue it was
            # in, or closed by the server before it had read the request (idle when the drain
            # began): never accepted. That nothing of it was stored is checked below.
            if not isinstance(exc, httpx.ConnectError) and not _never_read(exc):
                with log.lock:
                    log.failures.append(repr(exc))
                return
            with log.lock:
                if ids:
                    log.refused.append(ids)
            return
        except httpx.HTTPError as exc:  # accepted, then not answered
            with log.lock:
                log.failures.append(repr(exc))
            return
        with log.lock:
            log.answers[answer.status_code] += 1
            log.after_sigterm += sigterm.is_set()
            payload = answer.json()
            if answer.status_code != 200 or "errors" in payload:
                log.failures.append(answer.text[:300])
            elif ids:
                statuses = [
                    r["status"] for r in payload["data"]["submitSurveyResponses"]["results"]
                ]
                if statuses != ["INSERTED"] * BATCH:
                    log.failures.append(f"{ids[0]}: {statuses}")
                log.acknowledged.append(ids)


def _never_read(exc: httpx.HTTPError) -> bool:
    return "without sending a response" in str(exc) or "Connection reset by peer" in str(exc)


@pytest.fixture
def database(mongo_uri: str) -> Iterator[str]:
    name = f"cxfault_{uuid.uuid4().hex[:8]}"
    yield name
    with pymongo.MongoClient(mongo_uri) as client:
        client.drop_database(name)


def test_sigterm_during_load_loses_nothing(mongo_uri: str, database: str, tmp_path: Path) -> None:
    key = create_key(mongo_uri, database)
    log, sigterm = Log(), threading.Event()
    with serve(mongo_uri, database, tmp_path, CX_SHUTDOWN_DELAY_S="0.5",
               CX_SHUTDOWN_GRACE_S="20") as server:  # fmt: skip
        threads = [threading.Thread(target=client_loop, args=(server.base, key, w, log, sigterm))
                   for w in range(WRITERS)] + [
            threading.Thread(target=client_loop, args=(server.base, key, None, log, sigterm))
            for _ in range(READERS)]  # fmt: skip
        for thread in threads:
            thread.start()
        time.sleep(LOAD_BEFORE_SIGTERM_S)
        sigterm.set()
        server.proc.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        assert server.proc.wait(timeout=30) == 0, server.log()

    assert log.failures == [], log.failures
    assert set(log.answers) == {200}
    assert log.after_sigterm > 0, "no request was in flight or served after SIGTERM"
    assert len(log.refused) == WRITERS, "every writer ends refused"
    assert len(log.acknowledged) > 0

    with pymongo.MongoClient(mongo_uri) as client:
        stored = Counter(d["externalId"] for d in client[database]["survey_responses"].find(
            {}, {"externalId": 1}))  # fmt: skip
    acknowledged = [i for ids in log.acknowledged for i in ids]
    assert all(stored[i] == 1 for i in acknowledged)
    assert max(stored.values()) == 1
    assert not any(stored[i] for ids in log.refused for i in ids), "a refused batch was written"

    # The restarted service takes the refused batches: each record lands once.
    with serve(mongo_uri, database, tmp_path) as server:
        for ids in log.refused:
            writer, n = (int(part.lstrip("w")) for part in ids[0].split("-")[:2])
            answer = httpx.post(f"{server.base}/graphql", timeout=30,
                                json={"query": SUBMIT_RESPONSES,
                                      "variables": {"input": batch(writer, n)}},
                                headers={"authorization": f"Bearer {key}"})  # fmt: skip
            results = answer.json()["data"]["submitSurveyResponses"]["results"]
            assert {r["status"] for r in results} <= {"INSERTED", "UNCHANGED"}
        httpx.post(f"{server.base}/graphql", json={"query": READ}, timeout=30,
                   headers={"authorization": f"Bearer {key}"})  # fmt: skip
    with pymongo.MongoClient(mongo_uri) as client:
        stored = Counter(d["externalId"] for d in client[database]["survey_responses"].find(
            {}, {"externalId": 1}))  # fmt: skip
    expected = acknowledged + [i for ids in log.refused for i in ids]
    assert stored == Counter(expected)

    env = {**os.environ, "CX_MONGO_URI": mongo_uri, "CX_MONGO_DB": database}
    command = [sys.executable, "-m", "service.cli.main", "rollups", "rebuild", "--check"]
    check = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert ", 0 drifted," in check.stdout
