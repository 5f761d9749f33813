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
NAME = "cxgraph.access"


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
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
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._text = time.strftime(self.default_time_format, self.converter(record.created))
        return f"{self._text},{int(record.msecs):03d}"


def install(fmt: str) -> None:
    """Send the access log to a batching handler on stderr, with the root's format."""
    handler = BatchingStreamHandler(sys.stderr)
    handler.setFormatter(SecondCachingFormatter(fmt))
    logger = logging.getLogger(NAME)
    logger.addHandler(handler)
    logger.propagate = False
