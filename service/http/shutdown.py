"""Graceful shutdown: readiness first, then in-flight requests, then the clients.

On SIGTERM /readyz turns 503 at once while new requests are still served for
``CX_SHUTDOWN_DELAY_S`` (load balancers need a moment to notice). Then uvicorn stops
accepting, gives in-flight requests up to ``CX_SHUTDOWN_GRACE_S`` and runs the lifespan
shutdown, which closes the MongoDB and Redis clients. A second signal skips the delay; a
third stops at once. SIGINT (Ctrl-C) is a person at a terminal: no delay.

uvicorn's own handler re-raises the signal once it is done, so the process would end "killed
by SIGTERM"; a shutdown that went to plan exits 0 instead.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn

log = logging.getLogger("cxgraph.shutdown")


@dataclass
class Lifecycle:
    """What the app and the server share: whether this process is on its way out."""

    draining: bool = False


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, delay_s: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.delay_s = delay_s
        self._drain_since: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: only set flags (logging here could deadlock on its lock).
        self.lifecycle.draining = True
        if self._drain_since is None and sig == signal.SIGTERM and self.delay_s > 0:
            self._drain_since = time.monotonic()
        elif not self.should_exit:
            self.should_exit = True
        else:
            self.force_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_since is not None and not self.should_exit:
            if not self._announced:
                log.info("SIGTERM: not ready; still serving for %.1fs", self.delay_s)
                self._announced = True
            if time.monotonic() - self._drain_since >= self.delay_s:
                self.should_exit = True
        return await super().on_tick(counter)
