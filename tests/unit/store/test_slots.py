"""Quarter-hour slots: how a window is cut into whole days, parts of days and raw residue,
and how a day's slots are packed and read back, added or taken away (no database)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from service.domain.metrics.cells import Cell, CellFilter, CellKey, PackedGrouper, group_cells
from service.domain.metrics.timeframe import (
    SLOT,
    DayPart,
    SlotSplit,
    Window,
    day_start,
    slot_count,
    slot_of,
    split_into_slots,
)
from service.metrics import survey
from service.store import rollup_format, rollup_slots
from service.store.rollups import RollupDay

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def day_of(d: date, tz: ZoneInfo) -> Window:
    return Window(day_start(d, tz), day_start(d + timedelta(days=1), tz))


# -- split_into_slots ---------------------------------------------------------------------------


def test_a_new_york_week_in_a_utc_tenant_is_days_and_two_parts() -> None:
    # Monday 2026-06-01 00:00 in New York is 04:00 UTC.
    week = Window(utc(2026, 6, 1, 4), utc(2026, 6, 8, 4))
    assert split_into_slots(week, UTC_ZONE) == SlotSplit(
        days=[date(2026, 6, d) for d in range(2, 8)],
        parts=[DayPart(date(2026, 6, 1), 16, 96), DayPart(date(2026, 6, 8), 0, 16)],
        edges=[],
    )


def test_a_tehran_day_starts_on_a_half_hour_slot() -> None:
    day = Window(utc(2026, 6, 1, 20, 30), utc(2026, 6, 2, 20, 30))
    assert split_into_slots(day, UTC_ZONE) == SlotSplit(
        days=[], parts=[DayPart(date(2026, 6, 1), 82, 96), DayPart(date(2026, 6, 2), 0, 82)],
        edges=[],
    )  # fmt: skip


def test_an_unaligned_end_leaves_less_than_a_slot_raw() -> None:
    win = Window(utc(2026, 6, 1, 10, 7), utc(2026, 6, 1, 11, 59))
    assert split_into_slots(win, UTC_ZONE) == SlotSplit(
        days=[],
        parts=[DayPart(date(2026, 6, 1), 41, 47)],
        edges=[Window(utc(2026, 6, 1, 10, 7), utc(2026, 6, 1, 10, 15)),
               Window(utc(2026, 6, 1, 11, 45), utc(2026, 6, 1, 11, 59))],
    )  # fmt: skip


def test_a_window_inside_one_slot_is_raw() -> None:
    win = Window(utc(2026, 6, 1, 10, 1), utc(2026, 6, 1, 10, 14))
    assert split_into_slots(win, UTC_ZONE) == SlotSplit(days=[], parts=[], edges=[win])


def test_a_dst_day_has_its_own_number_of_slots() -> None:
    assert slot_count(day_of(date(2026, 3, 8), NEW_YORK)) == 92
    assert slot_count(day_of(date(2026, 11, 1), NEW_YORK)) == 100
    # A day of a tenant off the grid (Monrovia, -0:44:30 until 1972) has a short slot 0.
    monrovia = day_of(date(1970, 6, 1), ZoneInfo("Africa/Monrovia"))
    assert slot_of(monrovia.start, monrovia) == 0
    assert slot_of(monrovia.start + timedelta(minutes=10), monrovia) == 1
    assert slot_count(monrovia) == 97


TENANT_ZONES = ["UTC", "America/New_York", "Asia/Tehran", "Africa/Monrovia", "Asia/Kathmandu"]
MINUTES = st.integers(0, 10 * 24 * 60 - 1)


@given(st.sampled_from(TENANT_ZONES), MINUTES, MINUTES, st.sampled_from([1970, 2026]))
def test_the_split_covers_the_window_exactly(zone: str, a: int, b: int, year: int) -> None:
    tz, base = ZoneInfo(zone), datetime(year, 3, 4, tzinfo=UTC)
    lo, hi = sorted((a, b))
    win = Window(base + timedelta(minutes=lo), base + timedelta(minutes=hi + 1))
    split = split_into_slots(win, tz)
    pieces = [day_of(d, tz) for d in split.days] + list(split.edges)
    for part in split.parts:
        day = day_of(part.day, tz)
        assert 0 <= part.first < part.last <= slot_count(day)
        starts = [max(day.start, day.start - (day.start - base) % SLOT + i * SLOT)
                  for i in range(slot_count(day) + 1)]  # fmt: skip
        starts[-1] = day.end
        pieces.append(Window(starts[part.first], starts[part.last]))
    pieces.sort(key=lambda p: p.start)
    assert pieces[0].start == win.start
    assert pieces[-1].end == win.end
    assert all(x.end == y.start for x, y in itertools.pairwise(pieces))
    assert all(e.end - e.start < 2 * SLOT for e in split.edges)


# -- packing and reading slots ------------------------------------------------------------------

KEYS = [CellKey((s,), "j", "st", ch, (), scale)
        for s in ("a", "b") for ch in ("WEB", "EMAIL") for scale in ((0, 10), (1, 5))]  # fmt: skip


def random_slots(rng: random.Random, count: int) -> dict[int, list[Cell]]:
    slots: dict[int, list[Cell]] = {}
    for slot in rng.sample(range(count), k=count // 3):
        cells = []
        for key in rng.sample(KEYS, k=3):
            values = [rng.randint(*key.scale) for _ in range(rng.randint(1, 4))]
            if rng.random() < 0.1:
                values.append(2.5)  # a value off the integer points: stored sparse
            cells.append(Cell(key=key, hist=Counter(values)))
        slots[slot] = cells
    return slots


def whole_day(slots: dict[int, list[Cell]]) -> list[Cell]:
    merged: dict[CellKey, Cell] = {}
    for cells in slots.values():
        for cell in cells:
            merged.setdefault(cell.key, Cell(key=cell.key)).hist.update(cell.hist)
    return list(merged.values())


@given(st.integers(0, 10_000), st.integers(0, 96), st.integers(0, 96))
def test_a_part_read_as_slots_or_as_the_day_less_the_rest_is_exact(
    seed: int, a: int, b: int
) -> None:
    rng = random.Random(seed)
    first, last = sorted((a, b))
    slots = random_slots(rng, 96)
    day_cells = whole_day(slots)
    key_index = {c.key: i for i, c in enumerate(day_cells)}
    packed_day = rollup_format.unpack(rollup_format.pack(day_cells))
    packed = rollup_slots.unpack(rollup_slots.pack(slots, key_index, 96))
    by = ()
    expected = group_cells(
        [(None, c) for s in range(first, last) for c in slots.get(s, [])], CellFilter(), by
    )
    direct: PackedGrouper[None] = PackedGrouper(CellFilter(), by)
    direct.add_slots(None, packed_day.keys, packed, first, last)
    less: PackedGrouper[None] = PackedGrouper(CellFilter(), by)
    less.add(None, packed_day)
    less.add_slots(None, packed_day.keys, packed, 0, first, sign=-1)
    less.add_slots(None, packed_day.keys, packed, last, 96, sign=-1)
    for got in (direct.result(), less.result()):
        assert got == expected
        # Counters compare missing values as zero: no zero or negative count may be left.
        assert all(c > 0 for h in got.values() for hist in h.by_scale.values()
                   for c in hist.values())  # fmt: skip
    assert packed.entries(first, last) == sum(len(slots.get(s, [])) for s in range(first, last))


@given(st.integers(0, 10_000), st.integers(0, 96), st.integers(0, 96))
def test_a_stored_part_reads_exact_whichever_way_is_cheaper(seed: int, a: int, b: int) -> None:
    rng = random.Random(seed)
    first, last = sorted((a, b))
    slots = random_slots(rng, 96)
    day_cells = whole_day(slots)
    key_index = {c.key: i for i, c in enumerate(day_cells)}
    stored = RollupDay(rollup_format.unpack(rollup_format.pack(day_cells)),
                       rollup_slots.unpack(rollup_slots.pack(slots, key_index, 96)))  # fmt: skip
    grouper: PackedGrouper[None] = PackedGrouper(CellFilter(), ())
    survey.add_part(grouper, None, stored, DayPart(date(2026, 6, 1), first, last))
    expected = group_cells(
        [(None, c) for s in range(first, last) for c in slots.get(s, [])], CellFilter(), ()
    )
    got = grouper.result()
    assert got == expected
    assert all(c > 0 for h in got.values() for hist in h.by_scale.values() for c in hist.values())


def test_a_long_part_is_read_as_the_day_less_the_rest() -> None:
    slots = random_slots(random.Random(1), 96)
    day_cells = whole_day(slots)
    key_index = {c.key: i for i, c in enumerate(day_cells)}
    stored = RollupDay(rollup_format.unpack(rollup_format.pack(day_cells)),
                       rollup_slots.unpack(rollup_slots.pack(slots, key_index, 96)))  # fmt: skip
    grouper: PackedGrouper[None] = PackedGrouper(CellFilter(), ())
    survey.add_part(grouper, None, stored, DayPart(date(2026, 6, 1), 0, 95))
    assert grouper._subtracted  # the branch the property above must have met
