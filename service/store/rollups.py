"""metric_rollups: per tenant-local day and answer metric, the day's cells, materialised on read.

Writes stay at raw-insert speed: a write only bumps ``written.<day>`` in the tenant's
``rollup_state`` document (one ``$inc`` per batch, DESIGN.md §4). A query that needs a day
whose ``materialized`` version is behind recomputes that day from raw documents in one
aggregation, stores it under the version it read *before* aggregating, and raises
``materialized.<day>`` with ``$max``. A rollup computed while a write lands carries the
older version, so it is never trusted for the newer one; the next read recomputes it.
Documents carry their version in ``_id``: two materialisations of one version store once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bson import Binary
from pymongo import DeleteMany, UpdateMany
from pymongo.errors import BulkWriteError

from service.metrics.cells import Cell
from service.metrics.timeframe import Window, day_start
from service.store import rollup_format, survey_cells
from service.store.client import Doc, Mongo, to_list
from service.store.indexes import METRIC_ROLLUPS as ROLLUPS
from service.store.rollup_format import PackedDay

STATE = "rollup_state"
DUPLICATE_KEY = 11000
GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class RollupState:
    written: dict[str, int]
    materialized: dict[str, int]

    def stale(self, days: Iterable[str]) -> list[str]:
        return [d for d in days if self.written.get(d, 0) > self.materialized.get(d, 0)]


def day_key(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).date().isoformat()


async def bump_days(mongo: Mongo, tenant: str, days: Iterable[str]) -> None:
    """Mark days as changed; called after the raw write is done."""
    inc = {f"written.{d}": 1 for d in sorted(set(days))}
    if inc:
        await mongo[STATE].update_one({"_id": tenant}, {"$inc": inc}, upsert=True)


async def state(mongo: Mongo, tenant: str) -> RollupState:
    doc = await mongo[STATE].find_one({"_id": tenant}) or {}
    return RollupState(written=dict(doc.get("written", {})),
                       materialized=dict(doc.get("materialized", {})))  # fmt: skip


def _doc_id(tenant: str, day: str, family: str, version: int) -> str:
    raw = "\x1f".join((tenant, day, family, str(version))).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def day_window(day: str, tz: ZoneInfo) -> Window:
    d = date.fromisoformat(day)
    return Window(day_start(d, tz), day_start(d + timedelta(days=1), tz))


def day_ranges(days: list[str], tz: ZoneInfo) -> list[Window]:
    """Consecutive days merged into as few UTC ranges as possible."""
    out: list[Window] = []
    for d in sorted(date.fromisoformat(x) for x in days):
        start, end = day_start(d, tz), day_start(d + timedelta(days=1), tz)
        if out and out[-1].end == start:
            out[-1] = Window(out[-1].start, end)
        else:
            out.append(Window(start, end))
    return out


async def materialize(
    mongo: Mongo, tenant: str, tz: ZoneInfo, days: list[str], current: RollupState
) -> dict[tuple[str, str], list[Cell]]:
    """Recompute ``days`` from raw documents; returns cells per (day, family)."""
    if not days:
        return {}
    versions = {d: current.written[d] for d in days}  # read before aggregating: see module doc
    day_windows = [day_window(d, tz) for d in days]
    computed = await survey_cells.scan_by_day(mongo, tenant, day_windows, tz)
    now = datetime.now(UTC)
    docs = [
        {"_id": _doc_id(tenant, day, family, versions[day]), "tenant": tenant, "day": day,
         "family": family, "version": versions[day], "computedAt": now,
         "cells": Binary(rollup_format.pack(cells.values()))}
        for (day, family), cells in computed.items() if day in versions
    ]  # fmt: skip
    # Older versions go only a grace period after they were superseded: a reader that chose
    # one a moment ago must still find it.
    await mongo[ROLLUPS].bulk_write(
        [DeleteMany({"tenant": tenant, "day": d, "version": {"$lt": v},
                     "supersededAt": {"$lt": now - GRACE}}) for d, v in versions.items()],
        ordered=False,
    )  # fmt: skip
    if docs:
        try:
            await mongo[ROLLUPS].insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # the same version stored by a concurrent reader
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
    await mongo[STATE].update_one(
        {"_id": tenant}, {"$max": {f"materialized.{d}": v for d, v in versions.items()}},
        upsert=True,
    )  # fmt: skip
    await mongo[ROLLUPS].bulk_write(
        [UpdateMany({"tenant": tenant, "day": d, "version": {"$lt": v},
                     "supersededAt": None}, {"$set": {"supersededAt": now}})
         for d, v in versions.items()],
        ordered=False,
    )  # fmt: skip
    return {key: list(cells.values()) for key, cells in computed.items()}


async def read(
    mongo: Mongo, tenant: str, family: str, days: list[str], current: RollupState
) -> dict[str, list[PackedDay]]:
    """Stored cells of one family on fresh days, at the version the state names."""
    found = await read_all(mongo, tenant, days, current, family)
    return {day: packed for (day, _), packed in found.items()}


async def read_all(
    mongo: Mongo, tenant: str, days: list[str], current: RollupState, family: str | None = None
) -> dict[tuple[str, str], list[PackedDay]]:
    """Stored cells per (day, family) of fresh days, at the version the state names."""
    if not days:
        return {}
    query: Doc = {"tenant": tenant, "day": {"$in": days}}
    if family is not None:
        query["family"] = family
    docs = await to_list(
        mongo[ROLLUPS].find(query, {"day": 1, "family": 1, "version": 1, "cells": 1})
    )
    out: dict[tuple[str, str], list[PackedDay]] = {}
    for doc in docs:
        if doc["version"] == current.materialized.get(doc["day"]):
            out.setdefault((doc["day"], doc["family"]), []).append(
                rollup_format.unpack(doc["cells"])
            )
    return out


async def drop_all(mongo: Mongo, tenant: str) -> None:
    await mongo[ROLLUPS].delete_many({"tenant": tenant})
    await mongo[STATE].update_one({"_id": tenant}, {"$set": {"materialized": {}}}, upsert=True)
