"""What a metric query answers: a value with its definition, sample flag and data version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.domain.metrics.formulas import MetricValue


@dataclass(frozen=True)
class MetricResult:
    value: MetricValue
    definition: str
    low_sample: bool
    computed_at: datetime
    data_version: int


@dataclass(frozen=True)
class Comparison:
    a: MetricResult
    b: MetricResult
    difference: float | None
    p_value: float | None
    significant: bool | None
