"""Fuzzing the whole schema through a real server with a valid key: every generated query
and mutation (hypothesis-graphql, the engine of schemathesis's GraphQL support) gets an
answer below 500 and never an unmasked internal error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import strategies as gql_st

from service.http.app import export_sdl
from tests.integration.http.test_shutdown import free_port, wait_ready

ROOT = Path(__file__).resolve().parents[3]
SDL = export_sdl()
EXAMPLES = 60  # bounded: a few seconds against the embedded database
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Our scalars: well-formed and malformed values alike (strings that look like operators too).
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(['{"$gt": ""}', "$where", "a.b"]))
SCALARS = {
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), TEXT
    ).map(lambda s: graphql.StringValueNode(value=s)),
    "JSON": st.sampled_from(
        ['{city: "x"}', "{a: {b: 1}}", '"text"', "[1, 2]", '{op: "$gt"}', "{}"]
    ).map(graphql.parse_value),
}


@pytest.fixture(scope="module")
def served(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    port, db = free_port(), f"cxtest_{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "CX_MONGO_URI": mongo_uri, "CX_MONGO_DB": db, "CX_PORT": str(port),
           "CX_RATE_LIMIT_PER_MINUTE": "0", "CX_LOG_LEVEL": "warning"}  # fmt: skip
    created = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "keys", "create", "--tenant", "fuzz",
         "--scope", "admin"], cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        timeout=60,
    )  # fmt: skip
    key = created.stdout.strip().splitlines()[-1]
    log = (tmp_path_factory.mktemp("fuzz") / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}", key
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def check(base: str, key: str, document: str) -> None:
    answer = httpx.post(f"{base}/graphql", json={"query": document}, timeout=60,
                        headers={"authorization": f"Bearer {key}"})  # fmt: skip
    assert answer.status_code < 500, (document, answer.text)
    assert "INTERNAL_SERVER_ERROR" not in answer.text, (document, answer.text)
    assert "Traceback" not in answer.text


@FUZZ
@given(data=st.data())
def test_generated_queries_never_fail_the_server(served: tuple[str, str], data: st.DataObject
                                                 ) -> None:  # fmt: skip
    check(*served, data.draw(gql_st.queries(SDL, custom_scalars=SCALARS)))


@FUZZ
@given(data=st.data())
def test_generated_mutations_never_fail_the_server(served: tuple[str, str], data: st.DataObject
                                                   ) -> None:  # fmt: skip
    check(*served, data.draw(gql_st.mutations(SDL, custom_scalars=SCALARS)))
