"""Rows packed with numpy equal a plain count of the documents, cell by cell and slot by slot.

The expected counts are computed here with Counters straight from the documents; the packed
blobs are read back with the stored formats' own ``unpack``.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.domain.metrics.timeframe import slot_count, slot_of
from service.store import document_cells, rollup_chunks, rollup_format, rollup_slots, rollups
from service.store.rollup_format import PackedDay
from service.store.rollup_rows import Rows
from service.store.rollup_slots import PackedSlots


def documents(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        answers = [
            {"metric": "NPS", "value": rng.randint(0, 10), "scale": {"min": 0, "max": 10},
             "component": None},
            {"metric": "CES", "value": rng.choice([1, 2.5, 3, 7]), "scale": {"min": 1, "max": 7},
             "component": rng.choice([None, "PRICE"]), "highIsEasy": rng.choice([True, False])},
            {"metric": "WIDE", "value": rng.randint(0, 5000), "scale": {"min": 0, "max": 5000},
             "component": None},
            {"metric": "NPS", "value": rng.randint(0, 10), "scale": {"min": 0, "max": 10},
             "component": rng.choice([None, "PEOPLE"])},  # two NPS answers: their mean
        ]  # fmt: skip
        out.append({
            "segments": rng.choice([[], ["a"], ["a", "b"]]), "journey": rng.choice(["j", None]),
            "stage": "s", "channel": rng.choice(["WEB", "EMAIL"]),
            "submittedAt": datetime(2026, 3, 7, tzinfo=UTC)
            + timedelta(seconds=rng.randrange(3 * 86400)),
            "answers": rng.sample(answers, rng.randint(0, 4)),
        })  # fmt: skip
    return out


def tally_of(docs: list[dict[str, Any]], tz: ZoneInfo) -> document_cells.Tally:
    """What materialisation counts (``document_cells``, checked against the oracle
    elsewhere), per (day, slot)."""
    tally: document_cells.Tally = {}
    for doc in docs:
        day = doc["submittedAt"].astimezone(tz).date().isoformat()
        slot = slot_of(doc["submittedAt"], rollups.day_window(day, tz))
        document_cells.add_document(tally, doc, (day, slot))
    return tally


def expected(docs: list[dict[str, Any]], tz: ZoneInfo) -> Counter[tuple[Any, ...]]:
    """(day, family, segments, journey, stage, channel, components, scale, easy, slot, value)"""
    out: Counter[tuple[Any, ...]] = Counter()
    for ((day, slot), family), cells in tally_of(docs, tz).items():
        for raw, hist in cells.items():
            for value, count in hist.items():
                out[(day, family, *raw, slot, value)] += count
    return out


def counted(day: str, family: str, cells: PackedDay, slots: PackedSlots) -> Counter[Any]:
    out: Counter[tuple[Any, ...]] = Counter()
    for s in range(len(slots.starts) - 1):
        for e in range(slots.starts[s], slots.starts[s + 1]):
            k = cells.keys[slots.key_index[e]]
            dims = (
                k.segments,
                k.journey,
                k.stage,
                k.channel,
                k.components,
                k.scale,
                k.high_is_easy,
            )
            if slots.offsets[e] < 0:
                for v, c in slots.sparse[e]:
                    out[(day, family, *dims, s, v)] += c
            else:
                for j in range(k.scale[1] - k.scale[0] + 1):
                    if c := slots.counts[slots.offsets[e] + j]:
                        out[(day, family, *dims, s, k.scale[0] + j)] += c
    return out


def day_totals(packed: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for key, c in packed.items():
        out[(*key[:-2], key[-1])] += c  # the slot dropped
    return out


def cells_counted(day: str, family: str, cells: PackedDay) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for cell in cells.cells():
        k = cell.key
        for v, c in cell.hist.items():
            out[(day, family, k.segments, k.journey, k.stage, k.channel, k.components,
                 k.scale, k.high_is_easy, v)] += c  # fmt: skip
    return out


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tehran", "America/St_Johns"])
def test_packed_rows_equal_a_plain_count(zone: str) -> None:
    tz = ZoneInfo(zone)
    docs = documents(2000, seed=len(zone))
    rows = Rows()
    rows.add_tally(tally_of(docs, tz))
    packed = rows.pack(lambda day: slot_count(rollups.day_window(day, tz)))
    got: Counter[tuple[Any, ...]] = Counter()
    for (day, family), p in packed.items():
        stored_cells, stored_slots = rollup_format.unpack(p.cells), rollup_slots.unpack(p.slots)
        assert len(stored_slots.starts) - 1 == slot_count(rollups.day_window(day, tz))
        from_slots = counted(day, family, stored_cells, stored_slots)
        assert from_slots == counted(day, family, p.day, p.day_slots)
        assert day_totals(from_slots) == cells_counted(day, family, stored_cells)
        got += from_slots
    assert got == expected(docs, tz)


def test_stored_rollups_and_chunks_read_back_as_the_same_rows() -> None:
    tz = ZoneInfo("Asia/Kathmandu")
    docs = documents(800, seed=3)
    chunk = rollup_chunks.build(docs, tz, rollups.day_window)

    def slots(day: str) -> int:
        return slot_count(rollups.day_window(day, tz))

    direct = chunk.rows.pack(slots)
    again = Rows()  # half the days from stored rollups, the others from a chunk blob
    days = sorted(chunk.days)
    for (day, family), p in direct.items():
        if day in days[::2]:
            again.add_packed(day, family, rollup_format.unpack(p.cells),
                             rollup_slots.unpack(p.slots))  # fmt: skip
    rollup_chunks.decode_into(again, rollup_chunks.encode(chunk, set(days)), set(days[1::2]))
    rebuilt = again.pack(slots)
    assert set(rebuilt) == set(direct)
    for (day, family), p in rebuilt.items():
        q = direct[(day, family)]
        assert counted(day, family, p.day, p.day_slots) == counted(day, family, q.day,
                                                                   q.day_slots)  # fmt: skip
    only = again.pack(slots, only={"NPS"})
    assert {f for _, f in only} == {"NPS"}
    assert all(counted(*k, p.day, p.day_slots) == counted(*k, direct[k].day, direct[k].day_slots)
               for k, p in only.items())  # fmt: skip
