"""How one day's rollup cells are stored: a key table and one packed array of counts.

On SecantusDB, reading many small nested documents is slow, and decoding a histogram per
cell grows with how many distinct values it holds. A day is stored instead as one
compressed blob: a JSON table of cell keys, and the histograms of integer scales as dense
count vectors (one slot per scale point) packed in one array. Reading a day then costs the
same however dense its histograms are (docs/adr/0004). A histogram with a non-integer
value is kept sparse, as value/count pairs, in the table.
"""

from __future__ import annotations

import json
import struct
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.metrics.cells import Cell, CellKey

# Bump when pack()'s layout or what a cell holds changes: 2 slots; 3 respondent-level cells
# (a response's answers of a metric averaged, per-component families) and the CES direction.
FORMAT_VERSION = 3
MAX_DENSE_WIDTH = 1000  # wider integer scales are stored sparse
_HEADER = struct.Struct("<I")


@dataclass(frozen=True)
class PackedDay:
    keys: list[CellKey]
    offsets: list[int]  # start of each key's dense vector in ``counts``; -1: sparse
    counts: array[int]
    sparse: dict[int, list[tuple[float, int]]]

    def cells(self) -> list[Cell]:
        out = []
        for i, key in enumerate(self.keys):
            offset = self.offsets[i]
            if offset < 0:
                hist = Counter({v: c for v, c in self.sparse[i]})
            else:
                lo, hi = key.scale
                vector = self.counts[offset : offset + hi - lo + 1]
                hist = Counter({lo + j: c for j, c in enumerate(vector) if c})
            out.append(Cell(key=key, hist=hist))
        return out


def dense(cell: Cell) -> bool:
    lo, hi = cell.key.scale
    return hi - lo < MAX_DENSE_WIDTH and all(
        float(v).is_integer() and lo <= v <= hi for v in cell.hist
    )


def pack(cells: Iterable[Cell]) -> bytes:
    rows: list[list[object]] = []
    sparse: dict[str, list[list[float]]] = {}
    counts = array("q")
    for i, cell in enumerate(cells):
        k = cell.key
        offset = -1
        if dense(cell):
            offset = len(counts)
            vector = [0] * (k.scale[1] - k.scale[0] + 1)
            for v, c in cell.hist.items():
                vector[int(v) - k.scale[0]] += c
            counts.extend(vector)
        else:
            sparse[str(i)] = [[v, c] for v, c in sorted(cell.hist.items())]
        rows.append([list(k.segments), k.journey, k.stage, k.channel, list(k.components),
                     k.scale[0], k.scale[1], offset, k.high_is_easy])  # fmt: skip
    header = json.dumps({"k": rows, "s": sparse}, separators=(",", ":")).encode()
    return zlib.compress(_HEADER.pack(len(header)) + header + counts.tobytes(), 1)


def unpack(blob: bytes) -> PackedDay:
    raw = zlib.decompress(blob)
    (size,) = _HEADER.unpack_from(raw)
    header = json.loads(raw[_HEADER.size : _HEADER.size + size])
    counts = array("q")
    counts.frombytes(raw[_HEADER.size + size :])
    keys, offsets = [], []
    for s, j, st, ch, co, lo, hi, offset, easy in header["k"]:
        keys.append(CellKey(tuple(s), j, st, ch, tuple(co), (lo, hi), easy))
        offsets.append(offset)
    sparse = {int(i): [(v, c) for v, c in pairs] for i, pairs in header["s"].items()}
    return PackedDay(keys=keys, offsets=offsets, counts=counts, sparse=sparse)
