"""Rollup cells per respondent (format 3) against cells per answer (format 2), in process.

Builds one 90-day data set in the stored shape (bench.query's: 4 answers per response,
one per metric), and a second in which each response rates three components, and measures
for each, in one run, without a database:
- materialising: every response added to its day's cells (``document_cells.add_document``
  now; the format-2 code, one cell count per answer, copied below for the comparison);
- the packed size of every day's blobs (``rollup_format.pack``);
- reading: a COMPONENT_SCORE total and an NPS breakdown by SEGMENT grouped from the packed
  days (``PackedGrouper``), as a query over 90 stored days does.
Prints ratios new/old. ``python -m bench.cells [responses]``.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.query import COMPONENTS, responses
from service.domain.metrics.cells import RESPONSE, Cell, CellFilter, CellKey, PackedGrouper
from service.domain.model import Dimension
from service.store import rollup_format
from service.store.document_cells import Tally, add_document, to_cells
from service.store.rollup_format import PackedDay

Cells = dict[tuple[Any, str], dict[CellKey, Cell]]


def add_document_per_answer(out: Cells, doc: dict[str, Any], period: Any) -> None:
    """Format 2's materialisation: every answer one count in its own cell."""
    segments = tuple(doc.get("segments") or ())
    journey, stage, channel = doc.get("journey"), doc.get("stage"), doc.get("channel")
    components: set[str] = set()
    for answer in doc.get("answers") or ():
        component = answer.get("component")
        if component:
            components.add(component)
        scale = answer["scale"]
        key = CellKey(segments, journey, stage, channel, (component,) if component else (),
                      (int(scale["min"]), int(scale["max"])))  # fmt: skip
        cells = out.setdefault((period, answer["metric"]), {})
        cell = cells.get(key) or cells.setdefault(key, Cell(key=key, hist=Counter()))
        cell.hist[answer["value"]] += 1
    key = CellKey(segments, journey, stage, channel, tuple(sorted(components)), (0, 1))
    cells = out.setdefault((period, RESPONSE), {})
    cell = cells.get(key) or cells.setdefault(key, Cell(key=key, hist=Counter()))
    cell.hist[1] += 1


def three_components(docs: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for doc in docs:
        rated = [{"question": f"part-{c}", "metric": "COMPONENT", "value": rng.randint(1, 5),
                  "scale": {"min": 1, "max": 5}, "component": c}
                 for c in rng.sample(COMPONENTS, 3)]  # fmt: skip
        out.append({**doc, "answers": [*doc["answers"][:3], *rated]})
    return out


def per_answer(docs: list[dict[str, Any]]) -> Cells:
    out: Cells = {}
    for doc in docs:
        add_document_per_answer(out, doc, doc["submittedAt"].date().isoformat())
    return out


def per_respondent(docs: list[dict[str, Any]]) -> Cells:
    out: Tally = {}
    for doc in docs:
        add_document(out, doc, doc["submittedAt"].date().isoformat())
    return to_cells(out)


def packed(cells: Cells) -> dict[tuple[str, str], bytes]:
    return {key: rollup_format.pack(day.values()) for key, day in cells.items()}


def read(days: dict[tuple[str, str], PackedDay], family: str, by: tuple[Dimension, ...]
         ) -> int:  # fmt: skip
    grouper: PackedGrouper[None] = PackedGrouper(CellFilter(), by)
    for (_, fam), day in days.items():
        if fam == family:
            grouper.add(None, day)
    return len(grouper.result())


def best(old: Callable[[], Any], new: Callable[[], Any], repeat: int = 5
         ) -> tuple[float, float]:  # fmt: skip
    """The fastest of ``repeat`` runs of each, run in turns (the machine is shared)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, into in ((old, times[0]), (new, times[1])):
            started = time.perf_counter()
            fn()
            into.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def measure(name: str, docs: list[dict[str, Any]]) -> None:
    old_cells, new_cells = per_answer(docs), per_respondent(docs)
    t_old, t_new = best(lambda: per_answer(docs), lambda: per_respondent(docs))
    old_blobs, new_blobs = packed(old_cells), packed(new_cells)
    old_days = {k: rollup_format.unpack(b) for k, b in old_blobs.items()}
    new_days = {k: rollup_format.unpack(b) for k, b in new_blobs.items()}
    size_old, size_new = sum(map(len, old_blobs.values())), sum(map(len, new_blobs.values()))
    print(f"{name}: {len(docs)} responses, {len(old_blobs)} -> {len(new_blobs)} day blobs")
    print(f"  materialise    {t_old:7.3f} s -> {t_new:7.3f} s   x{t_new / t_old:.2f}")
    print(f"  stored bytes   {size_old:8d} -> {size_new:8d}   x{size_new / size_old:.2f}")
    for label, family, by in (
        ("NPS by SEGMENT", "NPS", (Dimension.SEGMENT,)),
        ("COMPONENT_SCORE", "COMPONENT", ()),
        ("by COMPONENT", "COMPONENT", (Dimension.COMPONENT,)),
    ):
        new_family = "COMPONENT/COMPONENT" if by == (Dimension.COMPONENT,) else family
        r_old, r_new = best(
            lambda f=family, b=by: read(old_days, f, b),  # type: ignore[misc]
            lambda f=new_family, b=by: read(new_days, f, b),
        )  # type: ignore[misc]
        print(f"  read {label:16s} {r_old * 1000:7.1f} ms -> {r_new * 1000:7.1f} ms"
              f"   x{r_new / r_old:.2f}")  # fmt: skip


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    docs = responses(0, count, seed=1)
    measure("one answer per metric", docs)
    measure("three components per response", three_components(docs, seed=2))


if __name__ == "__main__":
    main()
