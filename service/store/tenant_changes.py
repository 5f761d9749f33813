"""Changes to tenants' documents as they happen: a change stream on the tenants collection.

Every writer bumps a tenant's ``dataVersion`` in its document (store/tenants.py), whichever
process it runs in — a replica, `cxgraph rollups rebuild`, `tenants set` — so following
this one collection tells a replica of every other's writes (docs/adr/0026).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from pymongo.errors import OperationFailure

from service.store.client import Mongo
from service.store.indexes import TENANTS

# A standalone mongod has no change streams (40573); some servers answer "not supported" (115)
# or an unknown stage (40324).
UNSUPPORTED_CODES = frozenset({40573, 115, 40324})
_PIPELINE = [{"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}}]


class ChangeStreamsUnsupported(Exception):
    """The database cannot follow changes (a standalone mongod): poll instead."""


class StreamEnded(Exception):
    """The server closed the stream (an invalidating change): open another."""


@dataclass(frozen=True)
class TenantChange:
    tenant: str
    data_version: int | None  # None: the change left the version alone
    settings_changed: bool


async def follow(mongo: Mongo, max_await_ms: int) -> AsyncGenerator[TenantChange | None, None]:
    """Each change to a tenant's document from now on, in order; ``None`` each time the
    database has confirmed there is nothing more (it waits up to ``max_await_ms`` for one).
    A yield of ``None`` therefore means: every change made before the request that produced
    it was delivered."""
    try:
        opened: Any = mongo[TENANTS].watch(_PIPELINE, max_await_time_ms=max(1, max_await_ms))
        if inspect.isawaitable(opened):  # pymongo's async driver; Motor's opens lazily
            opened = await opened
    except OperationFailure as exc:
        if exc.code in UNSUPPORTED_CODES:
            raise ChangeStreamsUnsupported(str(exc)) from exc
        raise
    async with opened as stream:
        yield None  # open: from here on, nothing is missed
        while True:
            change = await stream.try_next()
            if change is None and not stream.alive:
                # A closed stream answers "nothing" at once, forever: that is no confirmation.
                raise StreamEnded("the server closed the change stream")
            yield None if change is None else decoded(change)


def decoded(change: dict[str, Any]) -> TenantChange:
    tenant = str(change["documentKey"]["_id"])
    if change["operationType"] == "update":
        fields: dict[str, Any] = (change.get("updateDescription") or {}).get("updatedFields", {})
        version = fields.get("dataVersion")
        settings = any(k == "settings" or k.startswith("settings.") for k in fields)
        return TenantChange(tenant, int(version) if version is not None else None, settings)
    document = change.get("fullDocument") or {}
    version = document.get("dataVersion")
    # A first write's upsert creates the document without settings: nothing to forget.
    settings = "settings" in document or not document
    return TenantChange(tenant, int(version) if version is not None else None, settings)
