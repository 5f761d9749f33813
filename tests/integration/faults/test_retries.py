"""Resends are exactly-once, on two real server processes sharing one database.

A client that times out and resends, and two replicas that receive the same batch at the same
moment, store each record once, report it INSERTED once across every answer and UNCHANGED
afterwards, and leave the rollups equal to a recount of the raw documents. An NDJSON answer
cut off in the middle leaves the records reported before the cut stored, the records of
chunks never started untouched, and the resent file completes it.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pymongo
import pytest

from tests.graphql import SUBMIT_RESPONSES
from tests.integration.builders import response
from tests.integration.processes import Server, create_key, serve

CHUNK = 50  # CX_MAX_BATCH of the servers: NDJSON bodies of several chunks
# The request is sent whole; the answer is given up on after 10 ms, long before it comes.
READ_TIMEOUT = httpx.Timeout(5, read=0.01)
METRIC = """query($source: MetricSource!) { metric(kind: NPS, source: $source, window:
  {from: "2026-03-01T00:00:00Z", to: "2026-03-05T00:00:00Z"}) { n numerator } }"""


class Replicas:
    def __init__(self, mongo_uri: str, db: str, servers: list[Server], key: str) -> None:
        self.mongo_uri, self.db, self.servers, self.key = mongo_uri, db, servers, key

    def client(self, index: int = 0, timeout: float | httpx.Timeout = 30) -> httpx.Client:
        return httpx.Client(base_url=self.servers[index].base, timeout=timeout,
                            headers={"authorization": f"Bearer {self.key}"})  # fmt: skip

    def stored(self, prefix: str) -> Counter[str]:
        with pymongo.MongoClient(self.mongo_uri) as client:
            docs = client[self.db]["survey_responses"].find(
                {"externalId": {"$regex": f"^{prefix}-"}}, {"externalId": 1}
            )
            return Counter(d["externalId"] for d in docs)


@pytest.fixture(scope="module")
def replicas(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    db = f"cxfault_{uuid.uuid4().hex[:8]}"
    logs = tmp_path_factory.mktemp("replicas")
    key = create_key(mongo_uri, db)
    with (
        serve(mongo_uri, db, logs, CX_MAX_BATCH=str(CHUNK), CX_CACHE_BACKEND="none") as one,
        serve(mongo_uri, db, logs, CX_MAX_BATCH=str(CHUNK), CX_CACHE_BACKEND="none") as two,
    ):
        yield Replicas(mongo_uri, db, [one, two], key)
    with pymongo.MongoClient(mongo_uri) as client:
        client.drop_database(db)


def records(prefix: str, n: int) -> list[dict[str, Any]]:
    return [response(f"{prefix}-{i:04d}", customer_id=f"c{i % 7}",
                     submitted_at=f"2026-03-0{1 + i % 3}T10:{i % 60:02d}:00Z",
                     answers=[{"question": "nps", "metric": "NPS", "value": i % 11,
                               "scaleMin": 0, "scaleMax": 10}])
            for i in range(n)]  # fmt: skip


def mutation(client: httpx.Client, batch: list[dict[str, Any]]) -> list[str]:
    answer = client.post("/graphql", json={"query": SUBMIT_RESPONSES,
                                           "variables": {"input": batch}})  # fmt: skip
    body = answer.json()
    assert answer.status_code == 200 and "errors" not in body, body
    return [r["status"] for r in body["data"]["submitSurveyResponses"]["results"]]


def ndjson_body(batch: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in batch).encode()


def upload(client: httpx.Client, batch: list[dict[str, Any]]) -> list[str]:
    answer = client.post("/ingest/survey-responses", content=ndjson_body(batch),
                         headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert "dataVersion" in lines[-1], lines[-1]
    return [line["status"] for line in lines[:-1]]


def send(kind: str, client: httpx.Client, batch: list[dict[str, Any]]) -> list[str]:
    return mutation(client, batch) if kind == "mutation" else upload(client, batch)


def assert_rollups_match_raw(replicas: Replicas) -> None:
    with replicas.client() as client:
        got = {source: client.post("/graphql", json={"query": METRIC,
                                                     "variables": {"source": source}}).json()
               for source in ("AUTO", "RAW")}  # fmt: skip
    assert got["AUTO"] == got["RAW"], got


@pytest.mark.parametrize("kind", ["mutation", "ndjson"])
def test_a_client_that_times_out_and_resends(replicas: Replicas, kind: str) -> None:
    prefix = f"timeout-{kind}"
    n = CHUNK if kind == "mutation" else 4 * CHUNK
    batch = records(prefix, n)
    with replicas.client(timeout=READ_TIMEOUT) as impatient, pytest.raises(httpx.TimeoutException):
        send(kind, impatient, batch)
    with replicas.client() as client:
        resent = send(kind, client, batch)  # may race the first attempt, still running
        assert set(resent) <= {"INSERTED", "UNCHANGED"}, Counter(resent)
        again = send(kind, client, batch)
    assert again == ["UNCHANGED"] * n
    assert replicas.stored(prefix) == Counter({r["externalId"]: 1 for r in batch})
    assert_rollups_match_raw(replicas)


@pytest.mark.parametrize("kind", ["mutation", "ndjson"])
def test_two_replicas_receive_the_same_batch_at_once(replicas: Replicas, kind: str) -> None:
    prefix = f"replicas-{kind}"
    n = CHUNK if kind == "mutation" else 3 * CHUNK
    batch = records(prefix, n)
    start = threading.Barrier(2)
    reports: list[list[str]] = [[], []]

    def deliver(index: int) -> None:
        with replicas.client(index) as client:
            start.wait(timeout=10)
            reports[index] = send(kind, client, batch)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Each record: INSERTED by exactly one replica, UNCHANGED by the other.
    assert [sorted(pair) for pair in zip(*reports, strict=True)] == [["INSERTED", "UNCHANGED"]] * n
    with replicas.client(1) as client:
        assert send(kind, client, batch) == ["UNCHANGED"] * n
    assert replicas.stored(prefix) == Counter({r["externalId"]: 1 for r in batch})
    assert_rollups_match_raw(replicas)


def test_an_ndjson_answer_cut_off_in_the_middle(replicas: Replicas) -> None:
    prefix = "cut"
    batch = records(prefix, 30 * CHUNK)
    body = ndjson_body(batch)
    server = replicas.servers[0]
    head = (f"POST /ingest/survey-responses HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {replicas.key}\r\nContent-Type: application/x-ndjson\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(head + body)
        received = b""
        while received.count(b'"status"') < CHUNK:  # the first chunk's results, then the cut
            piece = conn.recv(65536)
            assert piece, received
            received += piece
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    reported = [json.loads(line) for line in received.partition(b"\r\n\r\n")[2].splitlines()
                if line.startswith(b"{")]  # fmt: skip
    reported_ids = [r["externalId"] for r in reported if r.get("status") == "INSERTED"]
    assert len(reported_ids) >= CHUNK

    stored = replicas.stored(prefix)
    order = [r["externalId"] for r in batch]
    # What is stored is a prefix of the file, holding every record reported...
    assert set(stored) == set(order[: len(stored)])
    assert set(reported_ids) <= set(stored)
    # ... and the chunks after the cut were never started.
    assert len(stored) < len(order), "the upload finished before the cut"

    with replicas.client() as client:
        resent = upload(client, batch)
    assert resent[: len(reported_ids)] == ["UNCHANGED"] * len(reported_ids)
    assert resent[len(stored) :] == ["INSERTED"] * (len(order) - len(stored))
    assert replicas.stored(prefix) == Counter(dict.fromkeys(order, 1))
    assert_rollups_match_raw(replicas)
