"""metric_rollups: per tenant-local day and answer metric, the day's cells, materialised on read.

Writes stay at raw-insert speed: a write only bumps ``written.<day>`` in the tenant's
``rollup_state`` document (one ``$inc`` per batch, DESIGN.md §4). A query that needs a day
whose ``materialized`` version is behind recomputes that day from raw documents in one
aggregation, stores it under the version it read *before* aggregating, and raises
``materialized.<day>`` with ``$max``. A rollup computed while a write lands carries the
older version, so it is never trusted for the newer one; the next read recomputes it.
Documents carry their version in ``_id``: two materialisations of one version store once.

Each day is kept whole and in quarter-hour slots (``slots``), so a query in another timezone
reads the parts of days it needs from rollups too (docs/adr/0015).

Days are cut in the tenant's timezone and stored in one format version: the state records
both (``params``). A read under other parameters first re-keys the state — every day with
data, in the new timezone, and every day known before, is marked written — so no rollup
built under the old parameters is trusted again, without a manual rebuild.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bson import Binary
from pymongo import ReturnDocument, UpdateMany
from pymongo.errors import BulkWriteError

from service.domain.metrics.timeframe import Window, day_start, slot_count
from service.store import rollup_chunks, rollup_format, rollup_slots, rollup_sources
from service.store.client import Doc, Mongo, aggregate, to_list
from service.store.indexes import METRIC_ROLLUPS as ROLLUPS
from service.store.indexes import SURVEY_RESPONSES
from service.store.rollup_format import PackedDay
from service.store.rollup_rows import Packed
from service.store.rollup_slots import PackedSlots

STATE = "rollup_state"
DUPLICATE_KEY = 11000
GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class RollupDay:
    """One (day, family): its cells, and its cells per slot when they were asked for."""

    cells: PackedDay
    slots: PackedSlots | None = None


@dataclass(frozen=True)
class RollupState:
    written: dict[str, int]
    materialized: dict[str, int]
    params: str | None = None  # timezone and format the days were cut and stored with

    def stale(self, days: Iterable[str]) -> list[str]:
        return [d for d in days if self.written.get(d, 0) > self.materialized.get(d, 0)]


def day_key(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).date().isoformat()


def params_of(tz: ZoneInfo) -> str:
    return f"{tz.key}|format{rollup_format.FORMAT_VERSION}"


async def bump_days(mongo: Mongo, tenant: str, days: Iterable[str], tz: ZoneInfo) -> None:
    """Mark days (cut in ``tz``) as changed; called after the raw write is done."""
    inc = {f"written.{d}": 1 for d in sorted(set(days))}
    if inc:
        await mongo[STATE].update_one(
            {"_id": tenant}, {"$inc": inc, "$setOnInsert": {"params": params_of(tz)}}, upsert=True
        )


async def state(mongo: Mongo, tenant: str) -> RollupState:
    doc = await mongo[STATE].find_one({"_id": tenant}) or {}
    return RollupState(written=dict(doc.get("written", {})),
                       materialized=dict(doc.get("materialized", {})),
                       params=doc.get("params"))  # fmt: skip


async def current_state(mongo: Mongo, tenant: str, tz: ZoneInfo) -> RollupState:
    """The state, re-keyed first if its days were cut or stored under other parameters."""
    found = await state(mongo, tenant)
    wanted = params_of(tz)
    if found.params == wanted or (found.params is None and not found.written):
        return found
    days = set(await days_with_data(mongo, tenant, tz)) | set(found.written)
    inc = {f"written.{d}": 1 for d in sorted(days)}
    update: Doc = {"$set": {"params": wanted}}
    if inc:
        update["$inc"] = inc
    # Only the first reader to notice re-keys; the others read what it wrote.
    await mongo[STATE].update_one({"_id": tenant, "params": found.params}, update)
    return await state(mongo, tenant)


async def days_with_data(mongo: Mongo, tenant: str, tz: ZoneInfo) -> list[str]:
    """The tenant-local days (in ``tz``) that hold at least one survey response."""
    rows = await aggregate(mongo[SURVEY_RESPONSES], [
        {"$match": {"tenant": tenant}},
        {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$submittedAt",
                                              "timezone": tz.key}}}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
    return sorted(r["_id"] for r in rows)


def _doc_id(tenant: str, day: str, family: str, version: int, params: str) -> str:
    raw = "\x1f".join((tenant, day, family, str(version), params)).encode()
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
    mongo: Mongo,
    tenant: str,
    tz: ZoneInfo,
    days: list[str],
    current: RollupState,
    family: str | None = None,
) -> dict[tuple[str, str], RollupDay]:
    """Recompute ``days`` — from their last clean rollup plus the chunks writes left, or from
    raw documents (docs/adr/0024) — and store them; returns them per (day, family), with
    slots.

    A query names the ``family`` it reads: when there is much to pack, it gets that family
    at once and the rest is packed and stored in the background (a query that comes before
    it is stored computes it again; nothing depends on the background store)."""
    if not days:
        return {}
    versions = {d: current.written[d] for d in days}  # read before aggregating: see module doc
    params = params_of(tz)

    async def written_now() -> dict[str, int]:
        return (await state(mongo, tenant)).written

    found = await rollup_sources.gather(
        mongo, tenant, tz, params, versions, current.materialized, written_now
    )

    def slots_of(day: str) -> int:
        return slot_count(day_window(day, tz))

    if family is not None and found.rows.size() > EAGER_ROWS:
        asked = found.rows.pack(slots_of, only={family})
        store = _store(mongo, tenant, params, versions, current, found, slots_of)
        _in_background((tenant, params, tuple(sorted(versions.items()))), store)
        return {key: RollupDay(p.day, p.day_slots) for key, p in asked.items()}
    packed = found.rows.pack(slots_of)
    await _store_packed(mongo, tenant, params, versions, current, found, packed)
    return {key: RollupDay(p.day, p.day_slots) for key, p in packed.items()}


EAGER_ROWS = 200_000  # above this many rows a query does not wait for the others to be stored
log = logging.getLogger("cxgraph.rollups")


@dataclass
class _Background:
    running: dict[tuple[object, ...], asyncio.Task[None]] = field(default_factory=dict)
    one_at_a_time: asyncio.Lock = field(default_factory=asyncio.Lock)  # packing is CPU-bound


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Background] = (
    weakref.WeakKeyDictionary()
)


def _background() -> _Background:
    loop = asyncio.get_running_loop()
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = _Background()
    return found


def _in_background(key: tuple[object, ...], job: Coroutine[Any, Any, None]) -> None:
    """Run ``job`` unless the same one is already running (several queries over the same
    stale days); one at a time per process."""
    background = _background()
    if key in background.running:
        job.close()
        return

    async def run() -> None:
        try:
            async with background.one_at_a_time:
                await job
        except Exception:
            log.exception("storing materialised rollups in the background failed")
        finally:
            background.running.pop(key, None)

    background.running[key] = asyncio.get_running_loop().create_task(run())


async def background_idle() -> None:
    """Wait for the background stores this process started (tests, benchmarks)."""
    running = _background().running
    while running:
        await asyncio.gather(*list(running.values()), return_exceptions=True)


async def _store(
    mongo: Mongo,
    tenant: str,
    params: str,
    versions: dict[str, int],
    current: RollupState,
    found: rollup_sources.Gathered,
    slots_of: Any,
) -> None:
    packed = await asyncio.to_thread(found.rows.pack, slots_of)
    await _store_packed(mongo, tenant, params, versions, current, found, packed)


async def _store_packed(
    mongo: Mongo,
    tenant: str,
    params: str,
    versions: dict[str, int],
    current: RollupState,
    found: rollup_sources.Gathered,
    packed: dict[tuple[str, str], Packed],
) -> None:
    now = datetime.now(UTC)
    docs = [
        {"_id": _doc_id(tenant, day, family, versions[day], params), "tenant": tenant,
         "day": day, "family": family, "version": versions[day], "params": params,
         "computedAt": now, "clean": day in found.clean, "cells": Binary(p.cells),
         "slots": Binary(p.slots)}
        for (day, family), p in packed.items() if day in versions
    ]  # fmt: skip
    # Older versions go only a grace period after they were superseded: a reader that chose
    # one a moment ago must still find it. One delete for the tenant, not one per day.
    await mongo[ROLLUPS].delete_many({"tenant": tenant, "supersededAt": {"$lt": now - GRACE}})
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
    by_version: dict[int, list[str]] = {}
    for d, v in versions.items():
        by_version.setdefault(v, []).append(d)
    await mongo[ROLLUPS].bulk_write(
        [UpdateMany({"tenant": tenant, "day": {"$in": sorted(ds)}, "version": {"$lt": v},
                     "supersededAt": None}, {"$set": {"supersededAt": now}})
         for v, ds in by_version.items()],
        ordered=False,
    )  # fmt: skip
    await _forget_chunks(mongo, found.chunks, current.materialized, versions)


async def _forget_chunks(
    mongo: Mongo,
    used: list[rollup_chunks.StoredChunk],
    materialized: dict[str, int],
    stored: dict[str, int],
) -> None:
    """Chunks every day of which is now materialised at or past their version: no read will
    start below them again (a composition starts at the materialised version)."""
    done = [c.id for c in used
            if all(v <= max(materialized.get(d, 0), stored.get(d, 0))
                   for d, v in c.versions.items())]  # fmt: skip
    if done:
        await rollup_chunks.delete(mongo, done)


async def bump_days_with_chunk(
    mongo: Mongo, tenant: str, days: Iterable[str], tz: ZoneInfo, chunk_id: str, blob_of: Any
) -> None:
    """``bump_days``, and the chunk of the days ``blob_of`` covers, stored under the
    versions this very bump gave them (read back from it, so no other write's)."""
    days = sorted(set(days))
    if not days:
        return
    params = params_of(tz)
    done = await mongo[STATE].find_one_and_update(
        {"_id": tenant},
        {"$inc": {f"written.{d}": 1 for d in days}, "$setOnInsert": {"params": params}},
        projection={"params": 1, **{f"written.{d}": 1 for d in days}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    chunk_days, blob = blob_of
    if done is None or done.get("params") != params or not chunk_days:
        return  # re-keyed meanwhile: the days were cut in another timezone
    written = done.get("written", {})
    versions = {d: int(written[d]) for d in sorted(chunk_days)}
    await rollup_chunks.store(mongo, tenant, chunk_id, params, versions, blob)


async def read(
    mongo: Mongo,
    tenant: str,
    family: str,
    days: list[str],
    current: RollupState,
    slots: bool = False,
) -> dict[str, list[RollupDay]]:
    """Stored cells of one family on fresh days, at the version the state names; with their
    slots when asked (they are left on the server otherwise)."""
    found = await read_all(mongo, tenant, days, current, family, slots)
    return {day: stored for (day, _), stored in found.items()}


async def read_all(
    mongo: Mongo,
    tenant: str,
    days: list[str],
    current: RollupState,
    family: str | None = None,
    slots: bool = False,
) -> dict[tuple[str, str], list[RollupDay]]:
    """Stored cells per (day, family) of fresh days, at the version the state names."""
    if not days:
        return {}
    query: Doc = {"tenant": tenant, "day": {"$in": days}}
    if family is not None:
        query["family"] = family
    fields = {"day": 1, "family": 1, "version": 1, "params": 1, "cells": 1}
    if slots:
        fields["slots"] = 1
    docs = await to_list(mongo[ROLLUPS].find(query, fields))
    out: dict[tuple[str, str], list[RollupDay]] = {}
    for doc in docs:
        trusted = doc.get("params") == current.params
        if trusted and doc["version"] == current.materialized.get(doc["day"]):
            out.setdefault((doc["day"], doc["family"]), []).append(RollupDay(
                rollup_format.unpack(doc["cells"]),
                rollup_slots.unpack(doc["slots"]) if slots else None,
            ))  # fmt: skip
    return out


async def drop_all(mongo: Mongo, tenant: str) -> None:
    await mongo[ROLLUPS].delete_many({"tenant": tenant})
    await rollup_chunks.drop_all(mongo, tenant)
    await mongo[STATE].update_one({"_id": tenant}, {"$set": {"materialized": {}}}, upsert=True)
