"""The access log's output, written in batches (docs/adr/0024).

Every request writes one line (service/edge.py). Through the root handler each line was a
write and a flush of its own: under load that system call was a third of a cached answer's
cost. Served processes send the access log to this handler instead: lines are formatted as
before and written together, at most ``FLUSH_S`` after the first of them (at once where no
event loop runs); ``logging.shutdown`` at exit writes what is left.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

FLUSH_S = 0.05
DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
NAME = "cxgraph.access"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record))
        except Exception:
            self.handleError(record)

    def write_line(self, line: str) -> None:
        self._pending.append(line)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        self.acquire()
        try:
            self._scheduled = False
            if self._pending:
                lines, self._pending = self._pending, []
                self.stream.write("\n".join(lines) + self.terminator)
            super().flush()
        finally:
            self.release()


class SecondCachingFormatter(logging.Formatter):
    """``asctime`` as the standard formatter writes it, its date and time worked out once a
    second rather than once a line."""

    _second: int = -1
    _text: str = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.asctime(record.created, record.msecs)

    def asctime(self, created: float, msecs: float | None = None) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._text = time.strftime(self.default_time_format, self.converter(created))
        if msecs is None:
            msecs = (created - second) * 1000
        return f"{self._text},{int(msecs):03d}"


_installed: BatchingStreamHandler | None = None


def emit(logger: logging.Logger, text: str) -> None:
    """One access-log line: straight to the batching handler where it is installed (the
    line it would have formatted, without a LogRecord), through ``logger`` otherwise."""
    handler = _installed
    if handler is None or not logger.isEnabledFor(logging.INFO):
        logger.info(text)
        return
    now = time.time()
    formatter = handler.formatter
    assert isinstance(formatter, SecondCachingFormatter)
    handler.write_line(f"{formatter.asctime(now)} INFO {logger.name} {text}")


def install(fmt: str) -> None:
    """Send the access log to a batching handler on stderr, with the root's format."""
    global _installed
    handler = BatchingStreamHandler(sys.stderr)
    handler.setFormatter(SecondCachingFormatter(fmt))
    logger = logging.getLogger(NAME)
    logger.addHandler(handler)
    logger.propagate = False
    if fmt == DEFAULT_FORMAT:  # lines it can write without a LogRecord
        _installed = handler
