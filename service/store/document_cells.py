"""Cells from streamed survey responses: what rollup materialisation counts.

The same cells as the aggregation pipelines of ``survey_cells`` (the raw path), built in
Python from documents (several times faster on SecantusDB, docs/adr/0004). Answer cells
count respondents (docs/adr/0018): a response's answers of one metric, scale and direction
are one value, their mean, in the metric's family, and one value per component, the mean of
that component's answers, in ``per_component(metric)``.

Counting goes into plain tuples and dicts (``Tally``) and becomes ``Cell`` objects once per
distinct key at the end: materialisation touches every answer twice, and a dataclass key
and a ``Counter`` per touch cost more than the counting.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from service.domain.metrics.cells import RESPONSE, Cell, CellKey, per_component

# segments, journey, stage, channel, components, scale, high_is_easy: CellKey's fields
RawKey = tuple[tuple[str, ...], Any, Any, Any, tuple[str, ...], tuple[int, int], bool]
Tally = dict[tuple[Any, str], dict[RawKey, dict[float, int]]]

_PER_COMPONENT: dict[str, str] = {}


def mean(values: list[float]) -> float:
    """A response's answers of one cell as one value (the pipelines' ``$avg``)."""
    return math.fsum(values) / len(values)


def _tally(out: Tally, where: tuple[Any, str], key: RawKey, value: float) -> None:
    cells = out.get(where)
    if cells is None:
        cells = out[where] = {}
    hist = cells.get(key)
    if hist is None:
        cells[key] = {value: 1}
    else:
        hist[value] = hist.get(value, 0) + 1


def _part_family(metric: str) -> str:
    family = _PER_COMPONENT.get(metric)
    if family is None:
        family = _PER_COMPONENT[metric] = per_component(metric)
    return family


def add_document(out: Tally, doc: dict[str, Any], period: Any) -> None:
    """Count one response: each answer metric (per scale and direction) once in its family
    and once per component in its per-component family, and the response in RESPONSE."""
    head = (tuple(doc.get("segments") or ()), doc.get("journey"), doc.get("stage"),
            doc.get("channel"))  # fmt: skip
    components: set[str] = set()
    units: dict[tuple[str, int, int, bool], list[tuple[float, str | None]]] = {}
    for answer in doc.get("answers") or ():
        scale, component = answer["scale"], answer.get("component")
        unit = (answer["metric"], int(scale["min"]), int(scale["max"]),
                answer.get("highIsEasy") is not False)  # fmt: skip
        if component:
            components.add(component)
        found = units.get(unit)
        if found is None:
            units[unit] = [(answer["value"], component)]
        else:
            found.append((answer["value"], component))
    for (metric, lo, hi, easy), answers in units.items():
        if len(answers) == 1:  # the usual case: both families count the answer itself
            value, component = answers[0]
            key: RawKey = (*head, (component,) if component else (), (lo, hi), easy)
            _tally(out, (period, metric), key, value)
            _tally(out, (period, _part_family(metric)), key, value)
            continue
        by_component: dict[str | None, list[float]] = {}
        for value, component in answers:
            by_component.setdefault(component, []).append(value)
        named = tuple(sorted(c for c in by_component if c))
        _tally(out, (period, metric), (*head, named, (lo, hi), easy),
               mean([v for v, _ in answers]))  # fmt: skip
        for component, values in by_component.items():
            key = (*head, (component,) if component else (), (lo, hi), easy)
            _tally(out, (period, _part_family(metric)), key, mean(values))
    _tally(out, (period, RESPONSE), (*head, tuple(sorted(components)), (0, 1), True), 1)


def to_cells(out: Tally) -> dict[tuple[Any, str], dict[CellKey, Cell]]:
    """The tally as cells (one ``CellKey`` per distinct key)."""
    cells: dict[tuple[Any, str], dict[CellKey, Cell]] = {}
    for where, tallied in out.items():
        target = cells[where] = {}
        for raw, hist in tallied.items():
            key = CellKey(*raw)
            target[key] = Cell(key=key, hist=Counter(hist))
    return cells
