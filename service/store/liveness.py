"""Does the database still answer? Asked for requests that run long, once for all of them.

A database that stops answering without closing its connections (a paused process, a
network partition, a failover in progress) leaves the driver waiting on an open socket for
the socket timeout (``CX_MONGO_SOCKET_TIMEOUT_S``) or, for an aggregation, for its whole
budget (``CX_MONGO_QUERY_TIMEOUT_S``). :meth:`DatabaseWatch.guard` bounds that wait instead:
once a guarded block has run for the server-selection timeout (by when a database that
refuses connections has failed it already), the database is pinged, with half that timeout
as the ping's budget; if it does not answer, the block is cancelled and
:class:`DatabaseUnavailable` raised. A database that answers the ping is merely slow: the
block goes on, asked about again every selection timeout. So an unanswering database is
reported within 1.5 x ``CX_MONGO_SERVER_SELECTION_TIMEOUT_S`` plus scheduling, and a slow
query is never cut short by it. Concurrent requests share one ping, sent on a client of its own
(two connections at most), so it never waits for a connection behind the requests' own
(docs/adr/0016).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from pymongo.errors import ConnectionFailure

from service.store.client import Mongo


class DatabaseUnavailable(ConnectionFailure):
    """The database did not answer a ping while a request was waiting on it."""


class DatabaseWatch:
    def __init__(self, mongo: Mongo, server_selection_timeout_s: float) -> None:
        self.mongo = mongo
        # The driver's own errors come first: a stopped database fails each operation after the
        # selection timeout, field by field (docs/adr/0007). Only then does the watch ask.
        self.check_after_s = server_selection_timeout_s
        self.ping_timeout_s = server_selection_timeout_s / 2
        self.fired = 0  # blocks cancelled because the database stopped answering
        self._ping: asyncio.Task[bool] | None = None
        self._last: tuple[float, bool] | None = None

    async def answers(self) -> bool:
        """One ping shared by every caller; a result younger than a quarter of the check
        interval is reused."""
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.check_after_s / 4:
            return self._last[1]
        if self._ping is None or self._ping.done():
            self._ping = asyncio.create_task(self._ask())
        return await asyncio.shield(self._ping)

    async def _ask(self) -> bool:
        answered = await self.mongo.ping(self.ping_timeout_s)
        self._last = (time.monotonic(), answered)
        return answered

    @contextlib.asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the block; DatabaseUnavailable if the database stops answering meanwhile."""
        task = asyncio.current_task()
        assert task is not None
        state = {"done": False, "fired": False}

        async def watch() -> None:
            while True:
                await asyncio.sleep(self.check_after_s)
                answered = await self.answers()
                if state["done"]:
                    return
                if not answered:
                    state["fired"] = True
                    self.fired += 1
                    task.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            yield
        except BaseException as exc:
            if not state["fired"]:
                raise
            task.uncancel()  # our cancellation, whatever the block turned it into
            raise DatabaseUnavailable(
                f"the database did not answer a ping within {self.ping_timeout_s:.1f}s "
                "(half of CX_MONGO_SERVER_SELECTION_TIMEOUT_S)"
            ) from exc
        else:
            if state["fired"]:  # the block swallowed the cancellation
                task.uncancel()
        finally:
            state["done"] = True
            watcher.cancel()


def answers(uri: str, timeout_ms: int = 2000) -> bool:
    """Whether a server at ``uri`` answers a ping (a blocking check, for the admin commands)."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True
