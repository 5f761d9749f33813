"""First-contact resolution over support cases (docs/metrics.md, "Support")."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from service.domain import MetricKind
from service.metrics import formulas
from service.metrics.cells import CellKey, GroupKey, group_keys
from service.metrics.formulas import MetricValue
from service.metrics.query import MetricQuery, PeriodKey
from service.store.client import Doc


@dataclass
class _Case:
    first: Doc
    contacts: int = 0
    times: list[datetime] = field(default_factory=list)


def _key(contact: Doc) -> CellKey:
    component = contact.get("component")
    return CellKey(
        segments=tuple(contact.get("segments") or ()), journey=contact.get("journey"),
        stage=contact.get("stage"), channel=contact.get("channel"),
        components=(component,) if component else (), scale=(0, 1),
    )  # fmt: skip


def fcr(q: MetricQuery, contacts: list[Doc]) -> dict[tuple[PeriodKey, GroupKey], MetricValue]:
    cases: dict[str, _Case] = {}
    for contact in contacts:  # oldest first
        case = cases.setdefault(contact["caseId"], _Case(first=contact))
        case.contacts += 1
        case.times.append(contact["occurredAt"])

    periods = q.periods()
    starts = [w.start for _, w in periods]
    counts: dict[tuple[PeriodKey, GroupKey], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases.values():
        key = _key(case.first)
        if not q.filter.matches(key):
            continue
        solved = case.contacts == 1 and case.first.get("resolved") is True
        seen: set[PeriodKey] = set()
        for t in case.times:  # a case counts once in each period it has a contact in
            i = bisect_right(starts, t) - 1
            if i >= 0 and periods[i][1].start <= t < periods[i][1].end:
                seen.add(periods[i][0])
        for period in seen:
            for group in group_keys(key, q.by, q.filter.components):
                tally = counts[(period, group)]
                tally[0] += 1
                tally[1] += solved
    return {k: formulas.proportion(MetricKind.FCR, solved, total)
            for k, (total, solved) in counts.items()}  # fmt: skip
