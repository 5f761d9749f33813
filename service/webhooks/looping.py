"""Helpers of the webhook background loops: quiet failure logs, cancellation seen through."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("cxgraph.webhooks")


def cancelled() -> bool:
    """This task was cancelled, even if the awaitable that got the cancellation swallowed it
    (PyMongo's async client sometimes finishes an operation instead of raising): a loop that
    checks this stops at shutdown instead of going on with closed clients."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class FailureStreak:
    """Logs a background step's first failure with its traceback, then stays quiet until it
    works again (a database that is down must not fill the log once per poll)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failing = False

    def failed(self) -> None:
        if not self.failing:
            log.warning("%s failed; retrying quietly until it works", self.what, exc_info=True)
        self.failing = True

    def ok(self) -> None:
        if self.failing:
            log.info("%s works again", self.what)
        self.failing = False
