"""Periodic maintenance a replica runs while it serves: each job alone, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("cxgraph.background")


async def every(interval_s: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``interval_s`` until cancelled; a failure is logged, then retried."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            if cancelled():
                raise asyncio.CancelledError() from None
            log.warning("background job %s failed; will run again", name, exc_info=True)
        if cancelled():
            raise asyncio.CancelledError()


def cancelled() -> bool:
    """This task was cancelled even if the awaitable that got the cancellation swallowed it
    (PyMongo's async client sometimes finishes an operation instead of raising)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
