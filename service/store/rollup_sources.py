"""Where a materialisation's rows come from: a stored rollup plus chunks, or the raw documents.

For each day to materialise at its written version ``w`` (docs/adr/0024):

- **composed**: the day's rollup stored at ``u`` (its materialised version; nothing when
  ``u`` is 0), if every document of it is *clean*, plus the chunks of every version in
  ``u+1 .. w``. No raw document is read.
- **scanned** otherwise: the day's raw documents, read one day at a time (a few at once).

A result is *clean* when it holds exactly the writes of versions up to ``w`` and none of a
chunk-writing batch still in flight. Composed results are clean by construction. A scan is
clean when no write intent of the tenant was open before it started or after it ended and
no day it read was written meanwhile: every batch opens its intent before its raw write and
closes it only after its bump, so a batch whose documents the scan could have seen either
had bumped before the version was read, or is caught by one of those checks. Only clean
rollups serve as the base of a composition: a base that held some records of a batch whose
chunk comes later would count them twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pymongo

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.timeframe import Window, day_start, slot_of
from service.store import (
    document_cells,
    rollup_chunks,
    rollup_format,
    rollup_slots,
    write_intents,
)
from service.store.client import Doc, Mongo, to_list
from service.store.indexes import METRIC_ROLLUPS, SURVEY_RESPONSES
from service.store.rollup_rows import Rows
from service.store.survey_cells import SCAN_CONCURRENCY, SCAN_PROJECTION, response_match

WrittenReader = Callable[[], Awaitable[dict[str, int]]]


@dataclass
class Gathered:
    rows: Rows = field(default_factory=Rows)
    clean: set[str] = field(default_factory=set)  # days whose rows are clean
    composed: set[str] = field(default_factory=set)
    chunks: list[rollup_chunks.StoredChunk] = field(default_factory=list)  # the ones used


def _window(day: str, tz: ZoneInfo) -> Window:
    d = date.fromisoformat(day)
    return Window(day_start(d, tz), day_start(d + timedelta(days=1), tz))


async def gather(
    mongo: Mongo,
    tenant: str,
    tz: ZoneInfo,
    params: str,
    versions: dict[str, int],
    materialized: dict[str, int],
    read_written: WrittenReader,
) -> Gathered:
    out = Gathered()
    await _compose(mongo, tenant, params, versions, materialized, out)
    scanned = sorted(d for d in versions if d not in out.composed)
    if scanned and await _scan(mongo, tenant, tz, scanned, versions, read_written, out.rows):
        out.clean.update(scanned)
    out.clean |= out.composed
    return out


async def _compose(
    mongo: Mongo,
    tenant: str,
    params: str,
    versions: dict[str, int],
    materialized: dict[str, int],
    out: Gathered,
) -> None:
    days = sorted(versions)
    found = await rollup_chunks.covering(mongo, tenant, params, days)
    by_day: dict[str, dict[int, rollup_chunks.StoredChunk]] = {}
    for chunk in found:
        for day, v in chunk.versions.items():
            if day in versions and materialized.get(day, 0) < v <= versions[day]:
                by_day.setdefault(day, {})[v] = chunk
    candidates = [d for d in days
                  if len(by_day.get(d, {})) == versions[d] - materialized.get(d, 0)]  # fmt: skip
    with_base = [d for d in candidates if materialized.get(d, 0) > 0]
    bases: dict[str, list[Doc]] = {d: [] for d in with_base}
    if with_base:
        query: Doc = {"tenant": tenant, "day": {"$in": with_base}, "params": params}
        fields = {"day": 1, "family": 1, "version": 1, "clean": 1, "cells": 1, "slots": 1}
        for doc in await to_list(mongo[METRIC_ROLLUPS].find(query, fields)):
            if doc["version"] == materialized[doc["day"]]:
                bases[doc["day"]].append(doc)
    composable = {d for d in candidates
                  if all(doc.get("clean") is True for doc in bases.get(d, []))}  # fmt: skip
    if not composable:
        return
    for day in sorted(composable):
        for doc in bases.get(day, []):
            out.rows.add_packed(day, doc["family"], rollup_format.unpack(doc["cells"]),
                                rollup_slots.unpack(doc["slots"]))  # fmt: skip
    used = {c.id: c for d in composable for c in by_day.get(d, {}).values()}
    for chunk in used.values():
        wanted = {d for d, v in chunk.versions.items()
                  if d in composable and materialized.get(d, 0) < v <= versions[d]}  # fmt: skip
        rollup_chunks.decode_into(out.rows, chunk.blob, wanted)
    out.composed = composable
    out.chunks = list(used.values())


async def _scan(
    mongo: Mongo,
    tenant: str,
    tz: ZoneInfo,
    days: list[str],
    versions: dict[str, int],
    read_written: WrittenReader,
    rows: Rows,
) -> bool:
    """Rows of the raw documents of ``days``; True when the read was clean."""
    quiet_before = not await write_intents.any_open(mongo, tenant)
    limit = asyncio.Semaphore(SCAN_CONCURRENCY)

    async def scan(day: str) -> None:
        window = _window(day, tz)
        async with limit:
            # SecantusDB builds a find's whole result before its first batch: one day per
            # read, each under the query budget rather than the socket timeout.
            with pymongo.timeout(mongo.query_timeout_s):
                docs = await to_list(mongo[SURVEY_RESPONSES].find(
                    response_match(tenant, window, CellFilter()), SCAN_PROJECTION
                ))  # fmt: skip
        tally: document_cells.Tally = {}
        for doc in docs:
            document_cells.add_document(tally, doc, (day, slot_of(doc["submittedAt"], window)))
        rows.add_tally(tally)

    await asyncio.gather(*(scan(day) for day in days))
    if not quiet_before or await write_intents.any_open(mongo, tenant):
        return False
    written = await read_written()
    return all(written.get(d, 0) == versions[d] for d in days)
