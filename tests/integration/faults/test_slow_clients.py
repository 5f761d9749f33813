"""Slow clients on a real server process hold neither a request nor its buffers for long.

A body sent too slowly is answered 408 after CX_BODY_TIMEOUT_S (GraphQL and NDJSON, nothing
stored); a client that stops reading an NDJSON answer is dropped after CX_SEND_TIMEOUT_S.
Meanwhile other requests are answered at once.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pymongo
import pytest

from tests.conftest import make_settings
from tests.integration.builders import response
from tests.integration.processes import Server, create_key, serve

TIMEOUT_S = 1.0  # CX_BODY_TIMEOUT_S and CX_SEND_TIMEOUT_S of the server under test
MARGIN_S = 1.5


@pytest.fixture(scope="module")
def server(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str, str]]:
    db = make_settings(mongo_uri).mongo_db
    key = create_key(mongo_uri, db)
    with serve(mongo_uri, db, tmp_path_factory.mktemp("slow"), CX_BODY_TIMEOUT_S=str(TIMEOUT_S),
               CX_SEND_TIMEOUT_S=str(TIMEOUT_S)) as srv:  # fmt: skip
        yield srv, key, db
    with pymongo.MongoClient(mongo_uri) as client:
        client.drop_database(db)


def request_head(path: str, key: str, length: int, media_type: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: {media_type}\r\nContent-Length: {length}\r\n\r\n").encode()  # fmt: skip


def read_answer(conn: socket.socket) -> bytes:
    answer = b""
    while True:
        piece = conn.recv(65536)
        if not piece:
            return answer
        answer += piece
        head, _, body = answer.partition(b"\r\n\r\n")
        length = [int(h.split(b":")[1]) for h in head.split(b"\r\n")
                  if h.lower().startswith(b"content-length:")]  # fmt: skip
        if length and len(body) >= length[0]:
            return answer


def assert_others_are_served(srv: Server, key: str) -> None:
    started = time.monotonic()
    answer = httpx.post(f"{srv.base}/graphql", json={"query": "{ __typename }"}, timeout=5,
                        headers={"authorization": f"Bearer {key}"})  # fmt: skip
    assert answer.json()["data"] == {"__typename": "Query"}
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/graphql", "application/json"), ("/ingest/survey-responses", "application/x-ndjson")],
)
def test_a_body_sent_too_slowly_is_408(
    server: tuple[Server, str, str], mongo_uri: str, path: str, media_type: str
) -> None:
    srv, key, db = server
    record = response("slow-1")
    body = (json.dumps({"query": "{ __typename }"}) if path == "/graphql"
            else json.dumps(record) + "\n").encode()  # fmt: skip
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
        started = time.monotonic()
        conn.sendall(request_head(path, key, len(body), media_type) + body[:10])
        assert_others_are_served(srv, key)
        answer = read_answer(conn)
        elapsed = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer
    error = json.loads(rest.partition(b"\r\n\r\n")[2])["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + MARGIN_S, elapsed
    with pymongo.MongoClient(mongo_uri) as client:
        assert client[db]["survey_responses"].count_documents({}) == 0


def test_a_client_that_stops_reading_the_ndjson_answer_is_dropped(
    server: tuple[Server, str, str],
) -> None:
    srv, key, _ = server
    # 50,000 lines that are not JSON: rejected without touching the database, ~7 MB of answer.
    body = b"x\n" * 50_000
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.settimeout(10)
    with conn:
        conn.connect(("127.0.0.1", srv.port))
        conn.sendall(request_head("/ingest/survey-responses", key, len(body),
                                  "application/x-ndjson") + body)  # fmt: skip
        deadline = time.monotonic() + TIMEOUT_S + MARGIN_S + 3
        while "dropping the connection" not in srv.log():
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.1)
        assert_others_are_served(srv, key)
        answer = b""
        while piece := conn.recv(1 << 20):
            answer += piece
    # The server stopped producing: the answer ends without its final summary line.
    lines = answer.partition(b"\r\n\r\n")[2].split(b"\n")
    assert b'"dataVersion"' not in answer
    assert len(lines) < 50_000
    assert srv.proc.poll() is None
