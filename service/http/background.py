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
            log.warning("background job %s failed; will run again", name, exc_info=True)
