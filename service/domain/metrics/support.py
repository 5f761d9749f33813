"""First-contact resolution over support cases (docs/metrics.md, "Support")."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.domain.metrics import formulas
from service.domain.metrics.cells import CellKey, GroupKey, group_keys
from service.domain.metrics.formulas import MetricValue
from service.domain.metrics.query import MetricQuery, PeriodKey
from service.domain.model import MetricKind
from service.domain.records import Contact


@dataclass
class _Case:
    first: Contact
    times: list[datetime] = field(default_factory=list)


def _key(contact: Contact) -> CellKey:
    component = contact.component
    return CellKey(
        segments=contact.segments, journey=contact.journey, stage=contact.stage,
        channel=contact.channel, components=(component,) if component else (), scale=(0, 1),
    )  # fmt: skip


def fcr(
    q: MetricQuery, contacts: list[Contact], recontact: timedelta
) -> dict[tuple[PeriodKey, GroupKey], MetricValue]:
    """Each case counts once, in the period of its first contact (all time); it is resolved
    at first contact when that contact is resolved and no other one follows within
    ``recontact``. So a period's FCR is final once ``recontact`` has passed after it."""
    cases: dict[str, _Case] = {}
    for contact in contacts:  # oldest first
        case = cases.setdefault(contact.case_id, _Case(first=contact))
        case.times.append(contact.occurred_at)

    periods = q.periods()
    starts = [w.start for _, w in periods]
    counts: dict[tuple[PeriodKey, GroupKey], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases.values():
        key = _key(case.first)
        if not q.filter.matches(key):
            continue
        first = case.times[0]
        i = bisect_right(starts, first) - 1
        if i < 0 or not periods[i][1].start <= first < periods[i][1].end:
            continue  # first contact outside the window: the case belongs elsewhere
        # times are sorted: the second contact, if any, is the earliest re-contact
        recontacted = len(case.times) > 1 and case.times[1] < first + recontact
        solved = case.first.resolved is True and not recontacted
        for group in group_keys(key, q.by, q.filter.components):
            tally = counts[(periods[i][0], group)]
            tally[0] += 1
            tally[1] += solved
    return {k: formulas.proportion(MetricKind.FCR, solved, total)
            for k, (total, solved) in counts.items()}  # fmt: skip
