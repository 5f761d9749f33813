"""Rollup cells built in bulk: answers as rows, summed and packed with numpy (docs/adr/0024).

A row is one (tenant-local day, family and cell key, quarter-hour slot, value) with a count.
Rows come from raw documents (a scan), from the chunks a write leaves behind
(``service/store/rollup_chunks.py``) and from stored rollups (the base chunks are added to).
``Rows.pack`` sums equal rows and writes each (day, family) in the formats of
``rollup_format`` and ``rollup_slots``: the same bytes their ``unpack`` reads, built with a
few array operations instead of a Python loop per cell. Counts are int64 throughout, so sums
are exact; a cell is stored dense exactly when ``rollup_format.dense`` would store it dense.
"""

from __future__ import annotations

import json
import struct
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.domain.metrics.cells import CellKey
from service.store.document_cells import RawKey, Tally
from service.store.rollup_format import MAX_DENSE_WIDTH, PackedDay
from service.store.rollup_slots import PackedSlots

FamilyKey = tuple[str, CellKey]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_DAY_HEADER = struct.Struct("<I")
_SLOTS_HEADER = struct.Struct("<III")


@dataclass(frozen=True)
class Packed:
    """One (day, family), packed for storage and unpacked for the query that asked."""

    cells: bytes
    slots: bytes
    day: PackedDay
    day_slots: PackedSlots


class Rows:
    """Rows from any source, over shared tables of days and keys."""

    def __init__(self) -> None:
        self.keys: list[FamilyKey] = []
        self._key_ids: dict[FamilyKey, int] = {}
        self._raw_ids: dict[tuple[str, RawKey], int] = {}  # a tallied key -> key id
        self._text_ids: dict[str, int] = {}  # a key's JSON text -> key id
        self.days: list[str] = []
        self._day_ids: dict[str, int] = {}
        self._day: list[int] = []
        self._key: list[int] = []
        self._slot: list[int] = []
        self._value: list[float] = []
        self._blocks: list[tuple[I64, I64, I64, F64, I64]] = []

    # -- tables ---------------------------------------------------------------------------

    def key_id(self, key: FamilyKey) -> int:
        found = self._key_ids.get(key)
        if found is None:
            found = self._key_ids[key] = len(self.keys)
            self.keys.append(key)
        return found

    def key_id_of_text(self, text: str, parse: Callable[[str], FamilyKey]) -> int:
        """A key given as text (a chunk's key table), parsed once per distinct text."""
        found = self._text_ids.get(text)
        if found is None:
            found = self._text_ids[text] = self.key_id(parse(text))
        return found

    def key_ids_of_texts(self, texts: list[str], parse: Callable[[str], FamilyKey]) -> I64:
        """``key_id_of_text`` for many texts: one dictionary probe each when known."""
        get = self._text_ids.get
        out = [get(t, -1) for t in texts]
        for i, found in enumerate(out):
            if found < 0:
                out[i] = self.key_id_of_text(texts[i], parse)
        return np.array(out, dtype=np.int64)

    def day_id(self, day: str) -> int:
        found = self._day_ids.get(day)
        if found is None:
            found = self._day_ids[day] = len(self.days)
            self.days.append(day)
        return found

    # -- adding -------------------------------------------------------------------------------

    def add_tally(self, tally: Tally) -> None:
        """Cells counted by ``document_cells.add_document`` with (day, slot) as the period:
        the very cells materialisation counts, as rows."""
        ids = self._raw_ids
        days, keys, slots, values, counts = [], [], [], [], []
        for ((day, slot), family), cells in tally.items():
            d = self.day_id(day)
            for raw, hist in cells.items():
                k = ids.get((family, raw))
                if k is None:
                    k = ids[(family, raw)] = self.key_id((family, CellKey(*raw)))
                for value, count in hist.items():
                    days.append(d)
                    keys.append(k)
                    slots.append(slot)
                    values.append(value)
                    counts.append(count)
        if days:
            self.add_block(np.array(days, dtype=np.int64), np.array(keys, dtype=np.int64),
                           np.array(slots, dtype=np.int64),
                           np.array(values, dtype=np.float64),
                           np.array(counts, dtype=np.int64))  # fmt: skip

    def _append(self, day: int, key: int, slot: int, value: float) -> None:
        self._day.append(day)
        self._key.append(key)
        self._slot.append(slot)
        self._value.append(value)

    def add_block(self, day: I64, key: I64, slot: I64, value: F64, count: I64) -> None:
        """Rows given as arrays, already in this object's day and key ids."""
        if len(day):
            self._blocks.append((day, key, slot, value, count))

    def add_packed(self, day: str, family: str, cells: PackedDay, slots: PackedSlots) -> None:
        """A stored (day, family): its slot entries, each a dense vector or sparse pairs."""
        d = self.day_id(day)
        key_ids = np.array([self.key_id((family, k)) for k in cells.keys], dtype=np.int64)
        entries = len(slots.key_index)
        if not entries:
            return
        entry_key = np.frombuffer(slots.key_index, dtype=np.uint32).astype(np.int64)
        starts = np.frombuffer(slots.starts, dtype=np.uint32).astype(np.int64)
        entry_slot = np.repeat(np.arange(len(starts) - 1, dtype=np.int64), np.diff(starts))
        offsets = np.frombuffer(slots.offsets, dtype=np.int32).astype(np.int64)
        counts = np.frombuffer(slots.counts, dtype=np.int64)
        lo = np.array([k.scale[0] for k in cells.keys], dtype=np.int64)[entry_key]
        hi = np.array([k.scale[1] for k in cells.keys], dtype=np.int64)[entry_key]
        dense = offsets >= 0
        width = np.where(dense, hi - lo + 1, 0)
        row_entry = np.repeat(np.arange(entries, dtype=np.int64), width)
        within = np.arange(len(row_entry), dtype=np.int64) - np.repeat(
            np.cumsum(width) - width, width
        )
        row_count = counts[offsets[row_entry] + within] if len(row_entry) else counts[:0]
        keep = row_count != 0
        row_entry, within, row_count = row_entry[keep], within[keep], row_count[keep]
        self.add_block(
            np.full(len(row_entry), d, dtype=np.int64),
            key_ids[entry_key[row_entry]],
            entry_slot[row_entry],
            (lo[row_entry] + within).astype(np.float64),
            row_count.astype(np.int64),
        )
        for e, pairs in slots.sparse.items():
            for v, c in pairs:
                self._append_counted(d, int(key_ids[entry_key[e]]), int(entry_slot[e]), v, c)

    def _append_counted(self, day: int, key: int, slot: int, value: float, count: int) -> None:
        one = np.array([day], dtype=np.int64)
        self.add_block(one, np.array([key], dtype=np.int64), np.array([slot], dtype=np.int64),
                       np.array([value], dtype=np.float64),
                       np.array([count], dtype=np.int64))  # fmt: skip

    # -- summing --------------------------------------------------------------------------

    def arrays(self, only: set[str] | None = None) -> tuple[I64, I64, I64, F64, I64]:
        """Every row (of the families ``only`` names, if given), equal rows summed, sorted
        by (day, key, slot, value)."""
        days = [np.array(self._day, dtype=np.int64), *(b[0] for b in self._blocks)]
        keys = [np.array(self._key, dtype=np.int64), *(b[1] for b in self._blocks)]
        slots = [np.array(self._slot, dtype=np.int64), *(b[2] for b in self._blocks)]
        values = [np.array(self._value, dtype=np.float64), *(b[3] for b in self._blocks)]
        counts = [np.ones(len(self._day), dtype=np.int64), *(b[4] for b in self._blocks)]
        day, key, slot = np.concatenate(days), np.concatenate(keys), np.concatenate(slots)
        value, count = np.concatenate(values), np.concatenate(counts)
        if only is not None and len(day):
            asked = np.array([f in only for f, _ in self.keys], dtype=bool)[key]
            day, key, slot, value, count = (a[asked] for a in (day, key, slot, value, count))
        if not len(day):
            return day, key, slot, value, count
        distinct, vcode = np.unique(value, return_inverse=True)
        radix = [len(self.days), len(self.keys), int(slot.max()) + 1, len(distinct)]
        if radix[0] * radix[1] * radix[2] * radix[3] < 2**62:  # one sort key: faster
            code = ((day * radix[1] + key) * radix[2] + slot) * radix[3] + vcode
            order = np.argsort(code, kind="stable")
            code = code[order]
            new = np.ones(len(code), dtype=bool)
            new[1:] = code[1:] != code[:-1]
        else:
            order = np.lexsort((vcode, slot, key, day))
            new = np.ones(len(day), dtype=bool)
            new[1:] = ((np.diff(day[order]) != 0) | (np.diff(key[order]) != 0)
                       | (np.diff(slot[order]) != 0) | (np.diff(vcode[order]) != 0))  # fmt: skip
        day, key, slot, vcode, count = (
            day[order],
            key[order],
            slot[order],
            vcode[order],
            count[order],
        )
        starts = np.flatnonzero(new)
        summed = np.add.reduceat(count, starts)
        keep = summed != 0
        starts = starts[keep]
        return day[starts], key[starts], slot[starts], distinct[vcode[starts]], summed[keep]

    # -- packing --------------------------------------------------------------------------

    def size(self) -> int:
        """How many rows were added (before equal ones are summed)."""
        return len(self._day) + sum(len(b[0]) for b in self._blocks)

    def pack(
        self, slot_count: Callable[[str], int], only: set[str] | None = None
    ) -> dict[tuple[str, str], Packed]:
        """Every (day, family) with rows — of the families ``only`` names, if given —
        packed; ``slot_count`` gives a day's slots."""
        day, key, slot, value, count = self.arrays(only)
        if not len(day):
            return {}
        families = sorted({f for f, _ in self.keys})
        fam_index = {f: i for i, f in enumerate(families)}
        key_fam = np.array([fam_index[f] for f, _ in self.keys], dtype=np.int64)
        key_lo = np.array([k.scale[0] for _, k in self.keys], dtype=np.int64)
        key_hi = np.array([k.scale[1] for _, k in self.keys], dtype=np.int64)
        fam = key_fam[key]
        lo, hi = key_lo[key], key_hi[key]

        # Cells of the whole day: one group per (day, key); rows are sorted by (day, key).
        group_new = np.ones(len(day), dtype=bool)
        group_new[1:] = (np.diff(day) != 0) | (np.diff(key) != 0)
        group_of_row = np.cumsum(group_new) - 1
        group_start = np.flatnonzero(group_new)
        ok = (value == np.floor(value)) & (value >= lo) & (value <= hi)
        ok &= (hi - lo) < MAX_DENSE_WIDTH
        group_dense = np.logical_and.reduceat(ok, group_start)
        g_day, g_key, g_fam = day[group_start], key[group_start], fam[group_start]
        # Blocks are (day, family); within a block, groups keep their key order.
        g_order = np.lexsort((g_key, g_fam, g_day))
        g_rank = np.empty(len(g_order), dtype=np.int64)
        g_rank[g_order] = np.arange(len(g_order))
        g_width = np.where(group_dense, key_hi[g_key] - key_lo[g_key] + 1, 0)
        sorted_width = g_width[g_order]
        sorted_offset = np.cumsum(sorted_width) - sorted_width  # global, in block order
        g_offset = np.empty(len(g_order), dtype=np.int64)
        g_offset[g_order] = sorted_offset
        block_new = np.ones(len(g_order), dtype=bool)
        s_day, s_fam = g_day[g_order], g_fam[g_order]
        block_new[1:] = (np.diff(s_day) != 0) | (np.diff(s_fam) != 0)
        block_first = np.flatnonzero(block_new)  # in sorted-group positions
        block_of_sorted = np.cumsum(block_new) - 1
        g_block = np.empty(len(g_order), dtype=np.int64)
        g_block[g_order] = block_of_sorted
        g_local = g_rank - block_first[g_block]  # the key's index in its day's key table
        g_local_offset = np.where(group_dense, g_offset - sorted_offset[block_first[g_block]], -1)
        day_counts = np.zeros(int(sorted_width.sum()), dtype=np.int64)
        dense_row = group_dense[group_of_row]
        np.add.at(
            day_counts,
            g_offset[group_of_row[dense_row]] + (value[dense_row] - lo[dense_row]).astype(np.int64),
            count[dense_row],
        )

        # Slot entries: one per (day, key, slot); rows are sorted that way already.
        entry_new = group_new.copy()
        entry_new[1:] |= np.diff(slot) != 0
        entry_of_row = np.cumsum(entry_new) - 1
        entry_start = np.flatnonzero(entry_new)
        e_group = group_of_row[entry_start]
        e_slot = slot[entry_start]
        e_order = np.lexsort((g_local[e_group], e_slot, g_block[e_group]))
        e_width = g_width[e_group]
        sorted_e_width = e_width[e_order]
        sorted_e_offset = np.cumsum(sorted_e_width) - sorted_e_width
        e_offset = np.empty(len(e_order), dtype=np.int64)
        e_offset[e_order] = sorted_e_offset
        e_rank = np.empty(len(e_order), dtype=np.int64)
        e_rank[e_order] = np.arange(len(e_order))
        slot_counts = np.zeros(int(sorted_e_width.sum()), dtype=np.int64)
        np.add.at(
            slot_counts,
            e_offset[entry_of_row[dense_row]] + (value[dense_row] - lo[dense_row]).astype(np.int64),
            count[dense_row],
        )
        e_block_sorted = g_block[e_group][e_order]
        block_entry_first = np.searchsorted(e_block_sorted, np.arange(len(block_first) + 1))

        sparse_rows = np.flatnonzero(~dense_row)
        sparse_day: dict[int, dict[int, dict[float, int]]] = {}
        sparse_slots: dict[int, dict[int, dict[float, int]]] = {}
        for r in sparse_rows.tolist():
            g = int(group_of_row[r])
            b = int(g_block[g])
            v, c = _plain(float(value[r])), int(count[r])
            of_day = sparse_day.setdefault(b, {}).setdefault(int(g_local[g]), {})
            of_day[v] = of_day.get(v, 0) + c
            local_e = int(e_rank[int(entry_of_row[r])]) - int(block_entry_first[b])
            sparse_slots.setdefault(b, {}).setdefault(local_e, {})[v] = c

        fragments = [_key_fragment(k) for _, k in self.keys]
        cell_keys = [k for _, k in self.keys]
        out: dict[tuple[str, str], Packed] = {}
        block_last = [*block_first[1:].tolist(), len(g_order)]
        for b, (first, last) in enumerate(zip(block_first.tolist(), block_last, strict=True)):
            groups = g_order[first:last]
            day_name = self.days[int(g_day[groups[0]])]
            family = families[int(g_fam[groups[0]])]
            keys_of_block = g_key[groups].tolist()
            offsets = g_local_offset[groups].tolist()
            counts_start = int(sorted_offset[first])
            counts_end = counts_start + int(sorted_width[first:last].sum())
            block_counts = day_counts[counts_start:counts_end]
            day_sparse = {i: sorted(p.items()) for i, p in sparse_day.get(b, {}).items()}
            cells_blob = _pack_day(
                [fragments[k] for k in keys_of_block], offsets, block_counts, day_sparse
            )
            e_first, e_last = int(block_entry_first[b]), int(block_entry_first[b + 1])
            entries = e_order[e_first:e_last]
            n_slots = slot_count(day_name)
            starts = np.searchsorted(e_slot[entries], np.arange(n_slots + 1)).astype(np.uint32)
            key_index = g_local[e_group[entries]].astype(np.uint32)
            entry_dense = e_width[entries] > 0
            entry_offsets = np.where(
                entry_dense, sorted_e_offset[e_first:e_last] - sorted_e_offset[e_first], -1
            ).astype(np.int32)
            s_counts_start = int(sorted_e_offset[e_first]) if e_last > e_first else 0
            s_counts_end = s_counts_start + int(sorted_e_width[e_first:e_last].sum())
            entry_counts = slot_counts[s_counts_start:s_counts_end]
            slot_sparse = {i: sorted(p.items()) for i, p in sparse_slots.get(b, {}).items()}
            slots_blob = _pack_slots(starts, key_index, entry_offsets, entry_counts, slot_sparse)
            out[(day_name, family)] = Packed(
                cells=cells_blob,
                slots=slots_blob,
                day=PackedDay(
                    keys=[cell_keys[k] for k in keys_of_block],
                    offsets=offsets,
                    counts=_q(block_counts),
                    sparse=day_sparse,
                ),
                day_slots=PackedSlots(
                    starts=array("I", starts.tobytes()),
                    key_index=array("I", key_index.tobytes()),
                    offsets=array("i", entry_offsets.tobytes()),
                    counts=_q(entry_counts),
                    sparse=slot_sparse,
                ),
            )
        return out


def _plain(v: float) -> float:
    """A value as the documents hold it: whole numbers as ints (7, not 7.0)."""
    return int(v) if v.is_integer() else v


def _q(values: I64) -> array[int]:
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out


def _key_fragment(k: CellKey) -> tuple[str, str]:
    """A key's row in the day's key table (``rollup_format``: the offset comes between the
    scale and the direction), before and after its offset."""
    row = [list(k.segments), k.journey, k.stage, k.channel, list(k.components),
           k.scale[0], k.scale[1]]  # fmt: skip
    return json.dumps(row, separators=(",", ":"))[:-1] + ",", f",{json.dumps(k.high_is_easy)}]"


def _pack_day(
    fragments: list[tuple[str, str]],
    offsets: list[int],
    counts: I64,
    sparse: dict[int, list[tuple[float, int]]],
) -> bytes:
    pairs = zip(fragments, offsets, strict=True)
    rows = ",".join(f"{head}{offset}{tail}" for (head, tail), offset in pairs)
    table = {str(i): [[v, c] for v, c in pairs] for i, pairs in sparse.items()}
    header = f'{{"k":[{rows}],"s":{json.dumps(table, separators=(",", ":"))}}}'.encode()
    body = _DAY_HEADER.pack(len(header)) + header + counts.astype("<i8").tobytes()
    return zlib.compress(body, 1)


def _pack_slots(
    starts: npt.NDArray[np.uint32],
    key_index: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int32],
    counts: I64,
    sparse: dict[int, list[tuple[float, int]]],
) -> bytes:
    table = {str(i): [[v, c] for v, c in pairs] for i, pairs in sparse.items()}
    text = json.dumps(table, separators=(",", ":")).encode()
    header = _SLOTS_HEADER.pack(len(starts), len(key_index), len(text))
    body = (header + starts.tobytes() + key_index.tobytes() + offsets.tobytes() + text
            + counts.astype("<i8").tobytes())  # fmt: skip
    return zlib.compress(body, 1)
