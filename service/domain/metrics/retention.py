"""Retention, churn and lifetime value over customer records (docs/metrics.md)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from service.domain.errors import BadUserInput
from service.domain.metrics import formulas
from service.domain.metrics.cells import GroupKey
from service.domain.metrics.clv import Member, clv
from service.domain.metrics.formulas import MetricValue
from service.domain.metrics.query import MetricQuery, PeriodKey
from service.domain.metrics.timeframe import Window
from service.domain.model import Dimension, MetricKind
from service.domain.records import CustomerFacts


def check_supported(q: MetricQuery) -> None:
    f = q.filter
    others = (f.journeys, f.stages, f.channels, f.components, f.questions)
    if any(value is not None for value in others) or any(d is not Dimension.SEGMENT for d in q.by):
        raise BadUserInput(
            f"{q.kind.value} is computed over customers: only the segments filter and the "
            "SEGMENT breakdown apply",
            reason="UNSUPPORTED_FILTER",
        )


@dataclass
class _Tally:
    start: int = 0  # S
    end: int = 0  # E
    new: int = 0  # Nw
    churned: int = 0  # C
    members: list[Member] = field(default_factory=list)  # S, for CLV


def _before(t: datetime | None, bound: datetime) -> bool:
    return t is not None and t < bound


def _add(tally: _Tally, customer: CustomerFacts, win: Window) -> None:
    signed, churned = customer.signed_up_at, customer.churned_at
    signed_before = signed is None or signed < win.start
    if signed_before and not _before(churned, win.start):
        tally.start += 1
        in_window = churned is not None and win.start <= churned < win.end
        tally.churned += in_window
        # revenue is to date: its span is known (sign-up to churn) once the customer churned
        if signed is not None and churned is not None:
            revenue = float(customer.revenue or 0.0)
            tally.members.append(
                Member(revenue, (churned - signed) / (win.end - win.start), in_window)
            )
        else:
            tally.members.append(Member(0.0, 0.0, in_window))
    if (signed is None or signed < win.end) and not _before(churned, win.end):
        tally.end += 1
    if signed is not None and win.start <= signed < win.end:
        tally.new += 1


def _value(kind: MetricKind, t: _Tally) -> MetricValue:
    if kind is MetricKind.RETENTION_RATE:  # cohort: of S, those not churned by the end
        return formulas.proportion(kind, t.start - t.churned, t.start)
    if kind is MetricKind.RETENTION_RATE_NET:
        return formulas.ratio(kind, t.end - t.new, t.start)
    if kind is MetricKind.CHURN_RATE:
        return formulas.proportion(kind, t.churned, t.start)
    return clv(t.members)


def compute(
    q: MetricQuery, customers: list[CustomerFacts]
) -> dict[tuple[PeriodKey, GroupKey], MetricValue]:
    check_supported(q)
    tallies: dict[tuple[PeriodKey, GroupKey], _Tally] = defaultdict(_Tally)
    wanted = q.filter.segments
    for customer in customers:
        segments = customer.segments
        if wanted is not None and wanted.isdisjoint(segments):
            continue
        groups: list[GroupKey] = [(s,) for s in segments or (None,)] if q.by else [()]
        for period, win in q.periods():
            for group in groups:
                _add(tallies[(period, group)], customer, win)
    return {k: _value(q.kind, t) for k, t in tallies.items() if t.start or t.end or t.new}
