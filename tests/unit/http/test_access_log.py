"""The access log's fast path writes what the logging path would have written."""

from __future__ import annotations

import io
import json
import logging

import pytest

from service.domain.principal import CredentialKind, Principal
from service.domain.request import RequestScope
from service.http import access_log, edge


@pytest.mark.parametrize(
    ("request_id", "status", "cost", "seconds", "outcome"),
    [("a\"b\u2603", [200], None, 0.0015, None), ("x", [], 12, 1.25, "BAD_USER_INPUT,TIMEOUT"),
     (None, [429], 10**20, 0.0, "ok")],
)  # fmt: skip
def test_an_access_line_is_what_json_dumps_writes(
    caplog: pytest.LogCaptureFixture, request_id: str | None, status: list[int],
    cost: int | None, seconds: float, outcome: str | None,
) -> None:  # fmt: skip
    principal = Principal("key:1f", "acme\n", frozenset(), CredentialKind.API_KEY)
    state = {"request_id": request_id, "request": RequestScope("r", principal, 0.0),
             "operation": "Csat", "cost": cost, "outcome": outcome}  # fmt: skip
    scope = {"method": "POST", "path": "/graphql?x=\n"}
    with caplog.at_level(logging.INFO, logger="cxgraph.access"):
        edge.log_access(scope, state, status, seconds)
    fields = {"requestId": request_id, "method": "POST", "path": "/graphql?x=\n",
              "status": status[0] if status else None, "credential": "key:1f",
              "tenant": "acme\n", "operation": "Csat", "cost": cost, "outcome": outcome,
              "ms": round(seconds * 1000, 1)}  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == [json.dumps(fields, separators=(",", ":"))]


def test_no_line_is_built_when_the_access_log_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cxgraph.access"):
        edge.log_access({"method": "GET", "path": "/"}, {}, [200], 0.1)
    assert caplog.records == []


def test_lines_are_batched_and_formatted_as_the_root_handler_would() -> None:
    stream = io.StringIO()
    handler = access_log.BatchingStreamHandler(stream)
    formatter = access_log.SecondCachingFormatter(access_log.DEFAULT_FORMAT)
    handler.setFormatter(formatter)
    record = logging.LogRecord("cxgraph.access", logging.INFO, __file__, 1, "hello", None, None)
    handler.emit(record)  # no event loop: written at once
    assert stream.getvalue() == logging.Formatter(access_log.DEFAULT_FORMAT).format(record) + "\n"
    assert formatter.asctime(record.created) == logging.Formatter().formatTime(record)
