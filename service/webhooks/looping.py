"""Helpers of the webhook background loops: quiet failure logs, cancellation seen through."""

from __future__ import annotations

import asyncio
import logging
import sys

from service.store.client import UNAVAILABLE_ERRORS, is_timeout

log = logging.getLogger("cxgraph.webhooks")


def cancelled() -> bool:
    """This task was cancelled, even if the awaitable that got the cancellation swallowed it
    (PyMongo's async client sometimes finishes an operation instead of raising): a loop that
    checks this stops at shutdown instead of going on with closed clients."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def log_failure(message: str) -> None:
    """Log the exception being handled: with its traceback, unless the database simply does
    not answer (an outage the operator sees on /readyz, not a bug to read a traceback of)."""
    error = sys.exc_info()[1]
    if error is not None and (isinstance(error, UNAVAILABLE_ERRORS) or is_timeout(error)):
        log.warning("%s (the database does not answer: %s)", message, type(error).__name__)
    else:
        log.warning("%s", message, exc_info=True)


class FailureStreak:
    """Logs a background step's first failure, then stays quiet until it works again (a
    database that is down must not fill the log once per poll). A database that does not
    answer is an outage, not a bug: one line without a traceback; anything else has one."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failing = False

    def failed(self) -> None:
        if not self.failing:
            log_failure(f"{self.what} failed; retrying quietly until it works")
        self.failing = True

    def ok(self) -> None:
        if self.failing:
            log.info("%s works again", self.what)
        self.failing = False
