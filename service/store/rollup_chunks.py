"""rollup_chunks: what a write added to each rollup day, kept so a read need not rescan it.

A batch of survey responses that only inserted records with known segments leaves one
chunk: its records as rollup rows (``rollup_rows``), and for each day it covers the day
version its own bump produced (read back from the bump, atomically). A day at written
version ``w`` whose rollup was last stored, clean, at ``u`` is then the stored rollup plus
the chunks of versions ``u+1 .. w`` — if every one of those versions has a chunk. Any other
write (an update, a record whose customer was a stub, a recovery, a rebuild, a re-key)
bumps without a chunk, and the next read scans that day's raw documents as before.
Why this is exact is in docs/adr/0024.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from bson import Binary

from service.domain.metrics.cells import CellKey
from service.domain.metrics.timeframe import Window, slot_of
from service.store import document_cells
from service.store.client import Mongo, to_list
from service.store.indexes import ROLLUP_CHUNKS
from service.store.rollup_rows import Rows

_HEADER = struct.Struct("<III")  # bytes of the tables, days in them, rows


@dataclass
class Chunk:
    """A batch's inserted responses as rows, and the days they fall on."""

    rows: Rows
    tz: ZoneInfo  # the days were cut in this timezone

    @property
    def days(self) -> set[str]:
        return set(self.rows.days)


def build(docs: Iterable[dict[str, Any]], tz: ZoneInfo, day_window: Any) -> Chunk:
    """Rows of the documents a batch inserted (as stored), cut in the tenant's days."""
    tally: document_cells.Tally = {}
    windows: dict[str, Window] = {}
    for doc in docs:
        at = doc["submittedAt"]
        day = at.astimezone(tz).date().isoformat()
        window = windows.get(day)
        if window is None:
            window = windows[day] = day_window(day, tz)
        document_cells.add_document(tally, doc, (day, slot_of(at, window)))
    rows = Rows()
    rows.add_tally(tally)
    return Chunk(rows, tz)


def encode(chunk: Chunk, days: set[str]) -> bytes:
    """The chunk's rows on ``days``, summed, in one compressed blob."""
    day, key, slot, value, count = chunk.rows.arrays()
    names = chunk.rows.days
    wanted = np.array([n in days for n in names], dtype=bool)
    keep = wanted[day] if len(day) else np.zeros(0, dtype=bool)
    day, key, slot, value, count = day[keep], key[keep], slot[keep], value[keep], count[keep]
    # Lines of JSON, not one JSON document: a read splits them and looks each up whole.
    tables = "\n".join([*names, *(key_text(f, k) for f, k in chunk.rows.keys)]).encode()
    body = b"".join((
        _HEADER.pack(len(tables), len(names), len(day)), tables,
        day.astype("<i4").tobytes(), key.astype("<i4").tobytes(),
        slot.astype("<i2").tobytes(), value.astype("<f8").tobytes(),
        count.astype("<i8").tobytes(),
    ))  # fmt: skip
    return zlib.compress(body, 1)


def decode_into(rows: Rows, blob: bytes, wanted: set[str]) -> None:
    """Add the blob's rows on ``wanted`` days to ``rows`` (in its own day and key ids)."""
    raw = memoryview(zlib.decompress(blob))
    tables_size, n_days, n = _HEADER.unpack_from(raw)
    if not n:
        return
    at = _HEADER.size
    lines = bytes(raw[at : at + tables_size]).decode().split("\n")
    day_names, key_texts = lines[:n_days], lines[n_days:]
    at += tables_size
    columns = []
    for dtype, size in (("<i4", 4), ("<i4", 4), ("<i2", 2), ("<f8", 8), ("<i8", 8)):
        columns.append(np.frombuffer(raw[at : at + n * size], dtype=dtype))
        at += n * size
    day, key, slot, value, count = columns
    day_map = np.array([rows.day_id(d) if d in wanted else -1 for d in day_names],
                       dtype=np.int64)  # fmt: skip
    mapped_day = day_map[day] if n else np.zeros(0, dtype=np.int64)
    keep = mapped_day >= 0
    if not keep.any():
        return
    key_map = rows.key_ids_of_texts(key_texts, key_of_text)
    rows.add_block(
        mapped_day[keep],
        key_map[key[keep]],
        slot[keep].astype(np.int64),
        value[keep].astype(np.float64),
        count[keep].astype(np.int64),
    )


def key_text(family: str, k: CellKey) -> str:
    """A key as one JSON string: chunks' key tables are lists of them, looked up whole."""
    row = [family, list(k.segments), k.journey, k.stage, k.channel, list(k.components),
           k.scale[0], k.scale[1], k.high_is_easy]  # fmt: skip
    return json.dumps(row, separators=(",", ":"))


def key_of_text(text: str) -> tuple[str, CellKey]:
    f, s, j, st, ch, co, lo, hi, easy = json.loads(text)
    return f, CellKey(tuple(s), j, st, ch, tuple(co), (lo, hi), easy)


async def store(
    mongo: Mongo, tenant: str, chunk_id: str, params: str, versions: dict[str, int], blob: bytes
) -> None:
    await mongo[ROLLUP_CHUNKS].insert_one({
        "_id": chunk_id, "tenant": tenant, "params": params, "days": sorted(versions),
        "versions": versions, "rows": Binary(blob), "at": datetime.now(UTC),
    })  # fmt: skip


@dataclass(frozen=True)
class StoredChunk:
    id: str
    versions: dict[str, int]
    blob: bytes


async def covering(mongo: Mongo, tenant: str, params: str, days: list[str]) -> list[StoredChunk]:
    """The chunks of this tenant, stored under ``params``, that cover any of ``days``."""
    docs = await to_list(mongo[ROLLUP_CHUNKS].find(
        {"tenant": tenant, "days": {"$in": days}}, {"params": 1, "versions": 1, "rows": 1}
    ))  # fmt: skip
    return [StoredChunk(str(d["_id"]), dict(d["versions"]), bytes(d["rows"]))
            for d in docs if d.get("params") == params]  # fmt: skip


async def delete(mongo: Mongo, ids: list[str]) -> None:
    for i in range(0, len(ids), 50):  # small $in lists (docs/adr/0005)
        await mongo[ROLLUP_CHUNKS].delete_many({"_id": {"$in": ids[i : i + 50]}})


async def drop_all(mongo: Mongo, tenant: str) -> None:
    await mongo[ROLLUP_CHUNKS].delete_many({"tenant": tenant})
