"""metric.threshold: a condition on one metric over a rolling window, edge-triggered.

A threshold is ``kind`` (any metric), an optional ``filter`` (segments, journeys, stages,
channels, components, each "any of"), an ``operator`` (BELOW, AT_MOST, ABOVE, AT_LEAST), a
``value``, ``windowDays`` (the last N days in the tenant's timezone, today included) and an
optional ``minSample`` (default: the tenant's minimum sample). The condition holds when the
metric has a value, ``n >= minSample`` and ``value <operator> threshold``; with too few
answers it is unknown and the previous state stands. An event fires when the condition
becomes true — not on every write while it stays true — and re-arms once it is false.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.errors import BadUserInput
from service.domain.metrics.cells import CellFilter
from service.domain.metrics.query import CUSTOMER_KINDS, MetricQuery
from service.domain.metrics.timeframe import default_window
from service.domain.model import MetricKind

MAX_THRESHOLDS = 10
MAX_FILTER_VALUES = 100  # as a query's filter.questions
MAX_FILTER_VALUE_LENGTH = 256
MAX_MIN_SAMPLE = 1_000_000
FILTER_FIELDS = ("segments", "journeys", "stages", "channels", "components", "questions")


class ThresholdOperator(Enum):
    BELOW = "BELOW"
    AT_MOST = "AT_MOST"
    ABOVE = "ABOVE"
    AT_LEAST = "AT_LEAST"

    def holds(self, value: float, threshold: float) -> bool:
        if self is ThresholdOperator.BELOW:
            return value < threshold
        if self is ThresholdOperator.AT_MOST:
            return value <= threshold
        if self is ThresholdOperator.ABOVE:
            return value > threshold
        return value >= threshold


@dataclass(frozen=True)
class Threshold:
    kind: MetricKind
    filter: Mapping[str, tuple[str, ...]]  # only the fields given, values sorted
    operator: ThresholdOperator
    value: float
    window_days: int
    min_sample: int | None

    @property
    def key(self) -> str:
        """Stable while the definition is the same: its state survives a redefinition."""
        canonical = json.dumps(self.as_doc(with_key=False), sort_keys=True)
        return "thr_" + hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()

    def as_doc(self, with_key: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "kind": self.kind.value,
            "filter": {name: list(values) for name, values in self.filter.items()},
            "operator": self.operator.value,
            "value": self.value,
            "windowDays": self.window_days,
            "minSample": self.min_sample,
        }
        return {"key": self.key, **doc} if with_key else doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Threshold:
        return cls(kind=MetricKind(doc["kind"]),
                   filter={k: tuple(v) for k, v in (doc.get("filter") or {}).items()},
                   operator=ThresholdOperator(doc["operator"]), value=float(doc["value"]),
                   window_days=int(doc["windowDays"]),
                   min_sample=doc.get("minSample"))  # fmt: skip

    def query(self, tz: ZoneInfo, now: datetime) -> MetricQuery:
        values = {name: frozenset(self.filter[name]) if name in self.filter else None
                  for name in FILTER_FIELDS}  # fmt: skip
        return MetricQuery(kind=self.kind, window=default_window(tz, now, self.window_days),
                           filter=CellFilter(**values), timezone=tz)  # fmt: skip

    def holds(self, value: float | None, n: int, tenant_min_sample: int) -> bool | None:
        """True or False; None when there are too few answers to say."""
        needed = self.min_sample if self.min_sample is not None else tenant_min_sample
        if value is None or n < needed:
            return None
        return self.operator.holds(value, self.value)


def _invalid(index: int, message: str) -> BadUserInput:
    return BadUserInput(f"thresholds[{index}]: {message}", reason="INVALID_THRESHOLD",
                        field=f"thresholds[{index}]")  # fmt: skip


def checked(
    index: int,
    kind: MetricKind,
    filter: Mapping[str, Sequence[str] | None],
    operator: ThresholdOperator,
    value: float,
    window_days: int,
    min_sample: int | None,
    max_window_days: int,
) -> Threshold:
    """A threshold from its input, every part checked (``index``: its place in the list)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise _invalid(index, "value must be a finite number")
    if not 1 <= window_days <= max_window_days:
        raise _invalid(index, f"windowDays must be from 1 to {max_window_days} "
                              "(the tenant's CX_MAX_WINDOW_DAYS)")  # fmt: skip
    if min_sample is not None and not 1 <= min_sample <= MAX_MIN_SAMPLE:
        raise _invalid(index, f"minSample must be from 1 to {MAX_MIN_SAMPLE}")
    unsupported = sorted(n for n, v in filter.items() if v is not None and n not in FILTER_FIELDS)
    if unsupported:
        raise _invalid(index, f"filter.{unsupported[0]} does not apply to thresholds")
    cleaned: dict[str, tuple[str, ...]] = {}
    for name in FILTER_FIELDS:
        values = filter.get(name)
        if values is None:
            continue
        if not values or len(values) > MAX_FILTER_VALUES:
            raise _invalid(index, f"filter.{name} needs 1 to {MAX_FILTER_VALUES} values")
        if any(not v or len(v) > MAX_FILTER_VALUE_LENGTH for v in values):
            raise _invalid(index, f"filter.{name}: each value 1 to {MAX_FILTER_VALUE_LENGTH} "
                                  "characters")  # fmt: skip
        cleaned[name] = tuple(sorted(set(values)))
    if kind in CUSTOMER_KINDS and set(cleaned) - {"segments"}:
        raise BadUserInput(
            f"thresholds[{index}]: {kind.value} is computed over customers: only the segments "
            "filter applies", reason="UNSUPPORTED_FILTER", field=f"thresholds[{index}].filter",
        )  # fmt: skip
    if kind is MetricKind.FCR and "questions" in cleaned:
        raise BadUserInput(
            f"thresholds[{index}]: FCR reads support contacts; the questions filter does not "
            "apply", reason="UNSUPPORTED_FILTER", field=f"thresholds[{index}].filter",
        )  # fmt: skip
    return Threshold(kind=kind, filter=cleaned, operator=operator, value=float(value),
                     window_days=window_days, min_sample=min_sample)  # fmt: skip
