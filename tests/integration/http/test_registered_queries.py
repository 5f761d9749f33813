"""Registered documents (docs/adr/0023): `cxgraph queries register FILE | list | remove`,
``CX_ONLY_REGISTERED_QUERIES`` accepting only them (by the normalised document: spacing,
comments and argument order do not matter), and registered documents sent by hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema

from service.cli.queries import registrable
from service.http.app import export_sdl
from service.http.response_cache import Documents
from service.settings import Settings
from tests.conftest import http_client, run_cli, running_app
from tests.graphql import SUBMIT_RESPONSES
from tests.integration.builders import answer, response, submit_responses

FILE = """# The dashboard's documents
fragment Figures on MetricResult { n value }

query Overview($window: TimeWindow) {
  metric(kind: CSAT, window: $window) { ...Figures }
}

query Segments { segments { key customers } }
"""
# Overview alone as another client sends it: other spacing, a comment, arguments reordered.
OVERVIEW = """query Overview($window: TimeWindow) {
  # this quarter
  metric(window: $window,   kind: CSAT) { ...Figures } }
fragment Figures on MetricResult { n   value }"""
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
EMPTY = {"metric": {"n": 0, "value": None}}
OTHER = "query Other { metric(kind: NPS) { n } }"


def digest(text: str) -> str:
    found = Documents().get(text)
    assert found is not None
    return found.digest


def apq(hash_: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hash_}}


async def register(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str = FILE
                   ) -> tuple[int, list[str], str]:  # fmt: skip
    path = tmp_path / "dashboard.graphql"
    path.write_text(text)
    capsys.readouterr()
    code = await run_cli("queries", "register", str(path))
    out = capsys.readouterr()
    return code, out.out.strip().splitlines(), out.err


@pytest.fixture
async def only_registered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app on the test's database (where the CLI registers) answering only registered
    documents, with a customer's answers to ask about."""
    strict = settings.model_copy(update={"only_registered_queries": True})
    async with running_app(strict) as app, http_client(app) as client:
        app.state.cx.registered_queries.remember_s = 0  # see registrations at once
        yield client


def test_a_file_registers_as_a_whole_and_per_operation() -> None:
    entries = registrable(FILE, build_schema(export_sdl()))
    by_names = {tuple(e.operations): e for e in entries}
    assert sorted(by_names) == [("Overview",), ("Overview", "Segments"), ("Segments",)]
    assert by_names[("Overview", "Segments")].text == FILE
    assert by_names[("Overview", "Segments")].hashes == [hashlib.sha256(FILE.encode()).hexdigest()]
    overview = by_names[("Overview",)]
    assert overview.digest == digest(OVERVIEW)  # the same document, normalised
    assert "fragment Figures" in overview.text and "Segments" not in overview.text
    assert "fragment" not in by_names[("Segments",)].text  # only the fragments it uses


async def test_register_list_remove(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = await register(tmp_path, capsys)
    assert code == 0
    assert lines == [
        f"registered {digest(FILE)} Overview,Segments",
        f"registered {digest(OVERVIEW)} Overview",
        f"registered {digest('query Segments { segments { key customers } }')} Segments",
    ]
    again = await register(tmp_path, capsys)
    assert again[1] == [line.replace("registered", "already registered") for line in lines]
    assert await run_cli("queries", "list") == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert listed[0] == "hash\toperations\tsource\tregistered"
    assert [row.split("\t")[:3] for row in listed[1:]] == [
        [line.split()[1], line.split()[2], "dashboard.graphql"] for line in lines
    ]
    assert await run_cli("queries", "remove", digest(OVERVIEW)) == 0
    assert await run_cli("queries", "remove", digest(OVERVIEW)) == 1
    capsys.readouterr()
    assert await run_cli("queries", "list") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("query { metric(kind: CSAT) { n }", "Syntax Error"),
        ("query { metric(kind: CSAT) { nope } }", "Cannot query field 'nope'"),
        ("query { metric(kind: LOUDNESS) { n } }", "LOUDNESS"),
        ("fragment F on MetricResult { n }", "Fragment 'F' is never used"),
        ("", "Syntax Error"),
    ],
)
async def test_a_file_that_is_not_a_valid_document_registers_nothing(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    code, lines, err = await register(tmp_path, capsys, text)
    assert (code, lines) == (2, [])
    assert err.startswith("cxgraph queries register: ") and message in err
    assert await run_cli("queries", "list") == 0
    assert capsys.readouterr().out.strip().splitlines() == ["hash\toperations\tsource\tregistered"]


# -- CX_ONLY_REGISTERED_QUERIES -------------------------------------------------------------------


async def test_only_registered_documents_run(
    only_registered: httpx.AsyncClient, cli_env: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    client = only_registered
    mutation = (
        "mutation($i: [SurveyResponseInput!]!) { submitSurveyResponses(input: $i) {rejected} }"
    )
    write = await client.post("/graphql", json={"query": mutation, "variables": {"i": []}})
    assert write.status_code == 400
    assert write.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_REGISTERED"

    assert (await register(tmp_path, capsys))[0] == 0
    variables = {"window": WINDOW}
    whole = await client.post("/graphql", json={"query": FILE, "operationName": "Overview",
                                                "variables": variables})  # fmt: skip
    assert (whole.status_code, whole.json()["data"]) == (200, EMPTY)
    alone = await client.post("/graphql", json={"query": OVERVIEW, "variables": variables})
    assert alone.json()["data"] == EMPTY

    refused = await client.post("/graphql", json={"query": OTHER})
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "QUERY_NOT_REGISTERED", "documentHash": digest(OTHER)}
    assert "cxgraph queries register" in error["message"]
    syntax = await client.post("/graphql", json={"query": "{ metric("})
    assert (syntax.status_code, syntax.json()["errors"][0]["extensions"]["code"]) == (
        400, "QUERY_NOT_REGISTERED")  # fmt: skip
    unauthenticated = await client.post("/graphql", json={"query": OTHER},
                                        headers={"authorization": ""})  # fmt: skip
    assert unauthenticated.status_code == 401

    assert await run_cli("queries", "remove", digest(OVERVIEW)) == 0
    gone = await client.post("/graphql", json={"query": OVERVIEW, "variables": variables})
    assert gone.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_REGISTERED"

    # A partner's mutation runs once it is registered too.
    assert (await register(tmp_path, capsys, SUBMIT_RESPONSES))[0] == 0
    written = await submit_responses(client, [response("r1", answers=[answer("CSAT", 5, 1, 5)])])
    assert written["inserted"] == 1


async def test_registered_documents_can_be_sent_by_hash(
    only_registered: httpx.AsyncClient, cli_env: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    client = only_registered
    assert (await register(tmp_path, capsys))[0] == 0
    variables = {"window": WINDOW}
    overview_text = next(e.text for e in registrable(FILE, build_schema(export_sdl()))
                         if e.operations == ["Overview"])  # fmt: skip
    for hash_ in (
        digest(OVERVIEW),  # the hash `cxgraph queries list` shows
        hashlib.sha256(overview_text.encode()).hexdigest(),  # Apollo's: of the text sent
    ):
        by_post = await client.post("/graphql", json={"extensions": apq(hash_),
                                                      "variables": variables})  # fmt: skip
        assert by_post.json()["data"] == EMPTY
        params = {"extensions": json.dumps(apq(hash_)), "variables": json.dumps(variables)}
        assert (await client.get("/graphql", params=params)).json()["data"] == EMPTY
    whole = {"extensions": apq(hashlib.sha256(FILE.encode()).hexdigest()),
             "operationName": "Overview", "variables": variables}  # fmt: skip
    assert (await client.post("/graphql", json=whole)).json()["data"] == EMPTY
    unknown = await client.post("/graphql", json={"extensions": apq("0" * 64)})
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # An unregistered document offered through APQ is kept by the APQ layer, never run.
    offered = await client.post("/graphql", json={
        "query": OTHER, "extensions": apq(hashlib.sha256(OTHER.encode()).hexdigest())})  # fmt: skip
    assert offered.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_REGISTERED"


async def test_without_the_setting_every_document_runs_and_registered_ones_by_hash(
    settings: Settings, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await register(tmp_path, capsys))[0] == 0
    async with running_app(settings) as app, http_client(app) as client:
        await submit_responses(client, [
            response("r1", submitted_at="2026-03-01T10:00:00Z", answers=[answer("CSAT", 5, 1, 5)]),
            response("r2", submitted_at="2026-03-02T10:00:00Z", answers=[answer("CSAT", 2, 1, 5)]),
        ])  # fmt: skip
        other = await client.post("/graphql", json={"query": OTHER})
        assert other.json()["data"] == {"metric": {"n": 0}}
        by_hash = await client.post("/graphql", json={"extensions": apq(digest(OVERVIEW)),
                                                      "variables": {"window": WINDOW}})  # fmt: skip
        assert by_hash.json()["data"] == {"metric": {"n": 2, "value": 50.0}}  # top-2-box: 1 of 2
