"""How one day's quarter-hour slots are stored beside its day cells (docs/adr/0015).

A slot entry is one cell of one slot: the index of its key in the day's key table (the day
holds every key its slots hold), and its counts. Entries are sorted by slot and ``starts``
says where each slot's entries begin, so the entries of slots [a, b) are one contiguous
run, found without decoding the others. Everything is packed in flat arrays: decoding a
day is a few ``frombytes``, whatever its size.
"""

from __future__ import annotations

import json
import struct
import zlib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.domain.metrics.cells import Cell, CellKey
from service.store.rollup_format import dense

_HEADER = struct.Struct("<III")  # slots + 1, entries, bytes of the sparse table


@dataclass(frozen=True)
class PackedSlots:
    starts: array[int]  # entries of slot s: [starts[s], starts[s + 1])
    key_index: array[int]  # per entry: its key in the day's key table
    offsets: array[int]  # per entry: start of its dense vector in ``counts``; -1: sparse
    counts: array[int]
    sparse: dict[int, list[tuple[float, int]]]

    def entries(self, first: int, last: int) -> int:
        return self.starts[last] - self.starts[first]


def pack(
    slots: Mapping[int, Iterable[Cell]], key_index: Mapping[CellKey, int], count: int
) -> bytes:
    starts, keys, offsets, counts = array("I"), array("I"), array("i"), array("q")
    sparse: dict[str, list[list[float]]] = {}
    for slot in range(count):
        starts.append(len(keys))
        for cell in slots.get(slot, ()):
            k = cell.key
            keys.append(key_index[k])
            if dense(cell):
                offsets.append(len(counts))
                vector = [0] * (k.scale[1] - k.scale[0] + 1)
                for v, c in cell.hist.items():
                    vector[int(v) - k.scale[0]] += c
                counts.extend(vector)
            else:
                offsets.append(-1)
                sparse[str(len(keys) - 1)] = [[v, c] for v, c in sorted(cell.hist.items())]
    starts.append(len(keys))
    table = json.dumps(sparse, separators=(",", ":")).encode()
    header = _HEADER.pack(len(starts), len(keys), len(table))
    body = starts.tobytes() + keys.tobytes() + offsets.tobytes() + table + counts.tobytes()
    return zlib.compress(header + body, 1)


def unpack(blob: bytes) -> PackedSlots:
    raw = memoryview(zlib.decompress(blob))
    n_starts, n_entries, n_table = _HEADER.unpack_from(raw)
    at = _HEADER.size
    starts, keys, offsets, counts = array("I"), array("I"), array("i"), array("q")
    for target, n in ((starts, n_starts), (keys, n_entries), (offsets, n_entries)):
        size = n * target.itemsize
        target.frombytes(raw[at : at + size])
        at += size
    table = json.loads(bytes(raw[at : at + n_table])) if n_table else {}
    counts.frombytes(raw[at + n_table :])
    sparse = {int(i): [(v, c) for v, c in pairs] for i, pairs in table.items()}
    return PackedSlots(starts=starts, key_index=keys, offsets=offsets, counts=counts,
                       sparse=sparse)  # fmt: skip
