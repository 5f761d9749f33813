"""The MongoDB client: PyMongo's async API by default, Motor as an optional driver.

Both expose the same collection methods we use; the two differences (``aggregate`` is a
coroutine in PyMongo and a plain call in Motor; Motor needs an explicit ``to_list`` length)
are hidden behind :func:`aggregate` and :func:`to_list`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError, ServerSelectionTimeoutError

from service.domain.errors import OperationTimeout
from service.settings import MongoDriver, Settings

Doc = dict[str, Any]
PING_TIMEOUT_S = 1.0  # after a timeout: does the database answer at all?
# Driver errors that mean "no database now" (clients retry), as opposed to a bug of ours.
UNAVAILABLE_ERRORS = (ConnectionFailure, ServerSelectionTimeoutError)


def is_timeout(exc: BaseException) -> bool:
    """A timeout of an operation, as opposed to no server being reachable at all."""
    return (
        isinstance(exc, PyMongoError)
        and exc.timeout
        and not isinstance(exc, ServerSelectionTimeoutError)
    )


@dataclass(frozen=True)
class Mongo:
    client: Any
    db: Any
    driver: MongoDriver
    query_timeout_s: float = 120.0  # the budget of one aggregation (CX_MONGO_QUERY_TIMEOUT_S)

    def __getitem__(self, collection: str) -> Any:
        return self.db[collection]

    async def ping(self, timeout_s: float | None = None) -> bool:
        try:
            with pymongo.timeout(timeout_s) if timeout_s else contextlib.nullcontext():
                await self.client.admin.command("ping")
        except Exception:
            return False
        return True

    @contextlib.asynccontextmanager
    async def budget(self, operation: str) -> AsyncIterator[None]:
        """Give ``operation`` (all its round trips) the query budget instead of the socket
        timeout meant for single reads; outliving it is TIMEOUT, not UNAVAILABLE, unless the
        database has in fact stopped answering."""
        try:
            with pymongo.timeout(self.query_timeout_s):
                yield
        except PyMongoError as exc:
            if not is_timeout(exc) or not await self.ping(PING_TIMEOUT_S):
                raise
            raise OperationTimeout(
                operation, self.query_timeout_s, "CX_MONGO_QUERY_TIMEOUT_S"
            ) from exc

    async def close(self) -> None:
        result = self.client.close()
        if inspect.isawaitable(result):
            await result


def connect(
    settings: Settings,
    uri: str | None = None,
    db_name: str | None = None,
    event_listeners: Sequence[Any] = (),
    max_pool_size: int | None = None,
    appname: str = "cxgraph",
) -> Mongo:
    uri = uri or settings.mongo_uri
    if not uri:
        raise RuntimeError("CX_MONGO_URI is not set (make run starts an embedded database)")
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": int(settings.mongo_server_selection_timeout_s * 1000),
        "socketTimeoutMS": int(settings.mongo_socket_timeout_s * 1000),
        "connectTimeoutMS": int(settings.mongo_server_selection_timeout_s * 1000),
        "tz_aware": True,
        "appname": appname,
    }
    if max_pool_size is not None:
        options["maxPoolSize"] = max_pool_size
    if event_listeners:  # command timings for /metrics and tracing
        options["event_listeners"] = list(event_listeners)
    client: Any
    if settings.mongo_driver is MongoDriver.MOTOR:
        try:
            from motor.motor_asyncio import AsyncIOMotorClient
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise RuntimeError(
                "CX_MONGO_DRIVER=motor needs the extra: pip install .[motor]"
            ) from exc
        client = AsyncIOMotorClient(uri, **options)
    else:
        client = AsyncMongoClient(uri, **options)
    name = db_name or settings.mongo_db
    return Mongo(client=client, db=client[name], driver=settings.mongo_driver,
                 query_timeout_s=settings.mongo_query_timeout_s)  # fmt: skip


async def aggregate(
    collection: Any, pipeline: list[Doc], timeout_s: float | None = None, **kwargs: Any
) -> list[Doc]:
    """Run a pipeline to the end. ``timeout_s`` gives it a budget of its own: one large
    aggregation may rightly outlast the socket timeout meant for single reads."""
    with pymongo.timeout(timeout_s) if timeout_s else contextlib.nullcontext():
        cursor = collection.aggregate(pipeline, **kwargs)
        if inspect.isawaitable(cursor):
            cursor = await cursor
        return await to_list(cursor)


async def to_list(cursor: Any) -> list[Doc]:
    docs: list[Doc] = await cursor.to_list(None)
    return docs


ID_CHUNK = 50


async def find_by_ids(
    collection: Any, ids: list[str], projection: Doc | None = None, **match: Any
) -> list[Doc]:
    """Documents by ``_id``, looked up in parallel chunks of ``ID_CHUNK`` ids.

    SecantusDB checks each candidate against the whole ``$in`` list, so one lookup of n ids
    costs O(n²); chunks keep it linear (and cost nothing on MongoDB).
    """
    chunks = [ids[i : i + ID_CHUNK] for i in range(0, len(ids), ID_CHUNK)]
    found = await asyncio.gather(
        *(to_list(collection.find({"_id": {"$in": c}, **match}, projection)) for c in chunks)
    )
    return [doc for docs in found for doc in docs]
