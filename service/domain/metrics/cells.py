"""Cells: histograms of answer values keyed by every dimension a query can filter or group by.

Both the rollups and the raw pipeline produce cells of this one shape, so the same code
filters, groups and computes over either, and the two paths agree by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import add, sub
from typing import Generic, Protocol, TypeVar

from service.domain.model import Dimension

Scale = tuple[int, int]
# A scale and its direction: whether a high answer means easy (CES; True for every other
# metric). Answers of one scale but opposite directions are never pooled either.
Measure = tuple[Scale, bool]
GroupKey = tuple[str | None, ...]
P = TypeVar("P")  # what cells are labelled with: a period, a day, or None

RESPONSE = "RESPONSE"  # pseudo answer metric: one value 1 per response, for RESPONSE_COUNT


def per_component(family: str) -> str:
    """The family of an answer metric's per-component cells.

    Answer cells count respondents: a metric's own family holds, per response, the mean of
    its answers of that metric (one scale and direction); ``per_component(metric)`` holds,
    per response and component, the mean of its answers of that component. The first
    answers totals, the second COMPONENT breakdowns and one-component filters."""
    return f"{family}/COMPONENT"


@dataclass(frozen=True)
class CellKey:
    segments: tuple[str, ...]
    journey: str | None
    stage: str | None
    channel: str | None
    # an answer cell's components: its response's distinct ones among the answers averaged
    # (the per-component family: that one component, or none); a response's distinct ones
    components: tuple[str, ...]
    scale: Scale
    high_is_easy: bool = True  # CES answers on an effort scale ("how much effort") say False

    @property
    def measure(self) -> Measure:
        return (self.scale, self.high_is_easy)


@dataclass
class Cell:
    key: CellKey
    hist: Counter[float] = field(default_factory=Counter)


@dataclass(frozen=True)
class CellFilter:
    """Each a set matched as "any of"; None means no restriction.

    ``questions`` selects answers by question id; cells do not hold questions, so it is
    applied where answers are read (raw documents), never by ``matches``."""

    segments: frozenset[str] | None = None
    journeys: frozenset[str] | None = None
    stages: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    components: frozenset[str] | None = None
    questions: frozenset[str] | None = None

    def matches(self, key: CellKey) -> bool:
        return (
            (self.segments is None or not self.segments.isdisjoint(key.segments))
            and (self.journeys is None or key.journey in self.journeys)
            and (self.stages is None or key.stage in self.stages)
            and (self.channels is None or key.channel in self.channels)
            and (self.components is None or not self.components.isdisjoint(key.components))
        )


def _values(
    key: CellKey, dimension: Dimension, components: frozenset[str] | None
) -> tuple[str | None, ...]:
    """A cell's values on one dimension; set-valued dimensions fan out, empty sets are null.

    A components filter narrows a response to its answers of those components, so a
    response is grouped only under the components the filter asked for.
    """
    if dimension is Dimension.SEGMENT:
        return key.segments or (None,)
    if dimension is Dimension.COMPONENT:
        own = key.components
        if components is not None:
            own = tuple(c for c in own if c in components)
        return own or (None,)
    if dimension is Dimension.JOURNEY:
        return (key.journey,)
    if dimension is Dimension.STAGE:
        return (key.stage,)
    return (key.channel,)


def group_keys(
    key: CellKey, by: tuple[Dimension, ...], components: frozenset[str] | None = None
) -> Iterator[GroupKey]:
    combos: list[GroupKey] = [()]
    for dimension in by:
        combos = [(*c, v) for c in combos for v in _values(key, dimension, components)]
    yield from combos


@dataclass
class ScaledHistograms:
    """One group's histograms, kept apart by scale and direction so neither is pooled."""

    by_scale: dict[Measure, Counter[float]] = field(default_factory=dict)

    def add(self, measure: Measure, hist: Counter[float]) -> None:
        self.by_scale.setdefault(measure, Counter()).update(hist)


def group_cells(
    cells: Iterable[tuple[P, Cell]], flt: CellFilter, by: tuple[Dimension, ...]
) -> dict[tuple[P, GroupKey], ScaledHistograms]:
    """Filter cells and merge their histograms per (period, group key)."""
    groups: dict[tuple[P, GroupKey], ScaledHistograms] = {}
    for period, cell in cells:
        if not flt.matches(cell.key):
            continue
        for group in group_keys(cell.key, by, flt.components):
            groups.setdefault((period, group), ScaledHistograms()).add(cell.key.measure, cell.hist)
    return groups


class PackedGrouper(Generic[P]):
    """Groups stored (packed) days fast: a key's filter match and group keys are worked out
    once per query, and dense count vectors are summed slot by slot.

    Slots may also be taken away (``sign=-1``): a day less a few of its slots is cheaper to
    read than the many slots it keeps. Counts are exact integers, so the sums end exact."""

    def __init__(self, flt: CellFilter, by: tuple[Dimension, ...]) -> None:
        self.flt, self.by = flt, by
        self._memo: dict[CellKey, list[GroupKey]] = {}
        self._dense: dict[tuple[P, GroupKey, Measure], list[int]] = {}
        # histograms off the integer points (respondents' means of several answers)
        self._sparse: dict[tuple[P, GroupKey, Measure], dict[float, int]] = {}
        self._subtracted = False

    def _groups(self, key: CellKey) -> list[GroupKey]:
        groups = self._memo.get(key)
        if groups is None:
            matches = self.flt.matches(key)
            groups = list(group_keys(key, self.by, self.flt.components)) if matches else []
            self._memo[key] = groups
        return groups

    def add(self, period: P, packed: PackedDayLike) -> None:
        counts = packed.counts
        for i, key in enumerate(packed.keys):
            self._add(period, key, packed.offsets[i], counts, packed.sparse, i, 1)

    def add_slots(
        self,
        period: P,
        keys: Sequence[CellKey],
        slots: PackedSlotsLike,
        first: int,
        last: int,
        sign: int = 1,
    ) -> None:
        """Slots [first, last) of a day whose key table is ``keys``, added or taken away."""
        self._subtracted |= sign < 0
        counts, offsets, key_index = slots.counts, slots.offsets, slots.key_index
        for e in range(slots.starts[first], slots.starts[last]):
            self._add(period, keys[key_index[e]], offsets[e], counts, slots.sparse, e, sign)

    def _add(
        self,
        period: P,
        key: CellKey,
        offset: int,
        counts: Sequence[int],
        sparse: dict[int, list[tuple[float, int]]],
        i: int,
        sign: int,
    ) -> None:
        groups = self._groups(key)
        if not groups:
            return
        measure = key.measure
        if offset < 0:
            pairs = sparse[i]
            for group in groups:
                into = self._sparse.get((period, group, measure))
                if into is None:
                    into = self._sparse[(period, group, measure)] = {}
                for v, c in pairs:
                    into[v] = into.get(v, 0) + sign * c
            return
        width = key.scale[1] - key.scale[0] + 1
        vector = counts[offset : offset + width]
        op = add if sign > 0 else sub
        for group in groups:
            acc = self._dense.get((period, group, measure))
            if acc is None:
                self._dense[(period, group, measure)] = [sign * c for c in vector]
            else:
                acc[:] = map(op, acc, vector)

    def result(self) -> dict[tuple[P, GroupKey], ScaledHistograms]:
        out: dict[tuple[P, GroupKey], ScaledHistograms] = {}
        for (period, group, measure), sparse in self._sparse.items():
            out.setdefault((period, group), ScaledHistograms()).add(measure, Counter(sparse))
        for (period, group, measure), vector in self._dense.items():
            low = measure[0][0]
            hist: Counter[float] = Counter({low + i: c for i, c in enumerate(vector) if c})
            if hist:
                out.setdefault((period, group), ScaledHistograms()).add(measure, hist)
        if self._subtracted:  # what was taken away can leave zero counts behind: drop them
            for hists in out.values():
                hists.by_scale = {s: +h for s, h in hists.by_scale.items() if +h}
            out = {k: hists for k, hists in out.items() if hists.by_scale}
        return out


class PackedDayLike(Protocol):
    @property
    def keys(self) -> list[CellKey]: ...
    @property
    def offsets(self) -> list[int]: ...
    @property
    def counts(self) -> Sequence[int]: ...
    @property
    def sparse(self) -> dict[int, list[tuple[float, int]]]: ...


class PackedSlotsLike(Protocol):
    @property
    def starts(self) -> Sequence[int]: ...
    @property
    def key_index(self) -> Sequence[int]: ...
    @property
    def offsets(self) -> Sequence[int]: ...
    @property
    def counts(self) -> Sequence[int]: ...
    @property
    def sparse(self) -> dict[int, list[tuple[float, int]]]: ...
