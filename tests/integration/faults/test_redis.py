"""Redis goes away under a real server process: a closed port, then a Redis that accepts
connections and never answers. Answers stay exact, nothing is 5xx, a request pays at most
the Redis timeouts, the fault is logged once and counted; once a real Redis listens on that
port again, cache hits resume without a restart.

Both the metric cache and the rate limiter use Redis here (the limit is set high enough
never to refuse), so both fall back and both recover.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest

from service.settings import Settings
from tests.conftest import make_settings
from tests.graphql import SUBMIT_RESPONSES
from tests.integration.builders import response
from tests.integration.processes import Server, create_key, free_port, serve

REDIS_TIMEOUT_S = 0.5  # the cache's and the limiter's per-operation timeout
MARGIN_S = 1.0
QUERY = """query($kind: MetricKind!) { metric(kind: $kind, window: {from: "2026-03-01T00:00:00Z",
  to: "2026-03-03T00:00:00Z"}) { n value } }"""


@contextmanager
def redis_server(port: int) -> Iterator[None]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: run scripts/ensure-redis.sh"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def silent_listener(port: int) -> Iterator[None]:
    """Accepts connections, reads what is sent, never answers."""
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.1)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


@pytest.fixture
def redis_port() -> int:
    return free_port()


@pytest.fixture
def server(
    mongo_uri: str, tmp_path: Path, redis_port: int
) -> Iterator[tuple[Server, httpx.Client]]:
    settings: Settings = make_settings(mongo_uri)
    key = create_key(mongo_uri, settings.mongo_db)
    env = {"CX_CACHE_BACKEND": "redis", "CX_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "CX_RATE_LIMIT_STORAGE": "redis", "CX_RATE_LIMIT_PER_MINUTE": "100000"}  # fmt: skip
    headers = {"authorization": f"Bearer {key}"}
    with (
        serve(mongo_uri, settings.mongo_db, tmp_path, **env) as srv,
        httpx.Client(base_url=srv.base, timeout=30, headers=headers) as client,
    ):
        records = [response(f"r{i}", submitted_at=f"2026-03-02T10:0{i}:00Z",
                            answers=[{"question": "nps", "metric": "NPS", "value": v,
                                      "scaleMin": 0, "scaleMax": 10}])
                   for i, v in enumerate([10, 9, 10, 3])]  # fmt: skip
        written = client.post("/graphql", json={"query": SUBMIT_RESPONSES,
                                                "variables": {"input": records}})  # fmt: skip
        assert written.json()["data"]["submitSurveyResponses"]["inserted"] == 4
        yield srv, client
    with pymongo.MongoClient(mongo_uri) as mongo:
        mongo.drop_database(settings.mongo_db)


def ask(client: httpx.Client, kind: str = "NPS") -> tuple[float, Any]:
    started = time.monotonic()
    answer = client.post("/graphql", json={"query": QUERY, "variables": {"kind": kind}})
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started, answer.json()


def counter(client: httpx.Client, name: str) -> int:
    text = client.get("/metrics").text
    found = re.search(rf"^{name} (\d+)$", text, re.MULTILINE)
    assert found is not None, text
    return int(found.group(1))


def assert_answers_through_the_fault(server: Server, client: httpx.Client) -> None:
    latencies = []
    for _ in range(12):
        elapsed, body = ask(client)
        assert body["data"] == {"metric": {"n": 4, "value": 50.0}}, body
        latencies.append(elapsed)
        time.sleep(0.1)
    # The worst request paid both timeouts (limiter and cache) at most; most paid none.
    assert max(latencies) < 2 * REDIS_TIMEOUT_S + MARGIN_S, latencies
    assert sorted(latencies)[len(latencies) // 2] < REDIS_TIMEOUT_S, latencies
    assert counter(client, "cx_cache_errors_total") >= 1
    assert counter(client, "cx_cache_hits_total") == 0
    log = server.log()
    assert log.count("metric cache unavailable") == 1, log
    assert log.count("rate-limit storage unavailable") == 1, log
    assert " 500 " not in log and "Traceback" not in log, log


def assert_hits_resume(server: Server, client: httpx.Client) -> None:
    time.sleep(1.2)  # RETRY_AFTER_S: the next request asks Redis again
    deadline = time.monotonic() + 10
    while counter(client, "cx_cache_hits_total") == 0:
        assert time.monotonic() < deadline, server.log()
        _, body = ask(client)
        assert body["data"] == {"metric": {"n": 4, "value": 50.0}}, body
        time.sleep(0.2)
    assert "metric cache available again" in server.log()
    assert server.proc.poll() is None


def test_redis_on_a_closed_port_then_back(
    server: tuple[Server, httpx.Client], redis_port: int
) -> None:
    srv, client = server
    assert_answers_through_the_fault(srv, client)
    with redis_server(redis_port):
        assert_hits_resume(srv, client)


def test_redis_that_never_answers_then_back(
    server: tuple[Server, httpx.Client], redis_port: int
) -> None:
    srv, client = server
    with silent_listener(redis_port):
        assert_answers_through_the_fault(srv, client)
    with redis_server(redis_port):
        assert_hits_resume(srv, client)
