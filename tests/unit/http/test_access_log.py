"""The access log's fast path writes what the logging path would have written."""

from __future__ import annotations

import io
import json
import logging

from service.http import access_log


def test_json_object_equals_json_dumps() -> None:
    fields = (("requestId", "a\"b\u2603"), ("status", 200), ("cost", None), ("ms", 1.5),
              ("path", "/graphql?x=\n"), ("big", 10**20), ("flag", True), ("n", 0.1))  # fmt: skip
    text = access_log.json_object(fields)
    assert text == json.dumps(dict(fields), separators=(",", ":"))
    assert json.loads(text) == dict(fields)


def test_lines_are_batched_and_formatted_as_the_root_handler_would() -> None:
    stream = io.StringIO()
    handler = access_log.BatchingStreamHandler(stream)
    formatter = access_log.SecondCachingFormatter(access_log.DEFAULT_FORMAT)
    handler.setFormatter(formatter)
    record = logging.LogRecord("cxgraph.access", logging.INFO, __file__, 1, "hello", None, None)
    handler.emit(record)  # no event loop: written at once
    assert stream.getvalue() == logging.Formatter(access_log.DEFAULT_FORMAT).format(record) + "\n"
    assert formatter.asctime(record.created) == logging.Formatter().formatTime(record)
