"""Key-driver analysis as values: what is ranked, the outcome kinds, the respondent table
and the answer, shaped from a fit (pure; docs/metrics.md "Drivers").

Rows are survey responses that answered the outcome. A response's outcome score is the mean
of its answers of the outcome's family (normally one); its score on a driver is the mean of
its answers of that driver: COMPONENT answers of each of the six components, EMOTION and
VALUE_FOR_EFFORT answers. Scales are never pooled: all of the outcome's answers must share
one scale, and so must each driver's (INCOMPATIBLE_SCALES otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import numpy as np

from service.domain.errors import BadUserInput, CxError
from service.domain.metrics import drivers
from service.domain.metrics.cells import CellFilter, Scale
from service.domain.metrics.drivers import Fit, Quadrant
from service.domain.metrics.query import (
    SURVEY_FAMILY,
    IncompatibleDirections,
    IncompatibleScales,
)
from service.domain.metrics.timeframe import Window
from service.domain.model import AnswerMetric, MetricKind


class CxDriver(Enum):
    """What a key-driver analysis ranks: the six CX components, emotion, value-for-effort."""

    COMMUNICATIONS = "COMMUNICATIONS"
    PRODUCT = "PRODUCT"
    PROCESSES = "PROCESSES"
    CHANNELS = "CHANNELS"
    PEOPLE = "PEOPLE"
    PRICE = "PRICE"
    EMOTION = "EMOTION"
    VALUE_FOR_EFFORT = "VALUE_FOR_EFFORT"


# Outcomes: the kinds read from one rating question; the outcome score is that rating.
OUTCOMES = (MetricKind.NPS, MetricKind.NPS_MEAN_LIKELIHOOD, MetricKind.CSAT,
            MetricKind.CSAT_SCORE_PERCENT, MetricKind.CES, MetricKind.CES_PERCENT_EASY,
            MetricKind.EMOTION, MetricKind.VALUE_FOR_EFFORT)  # fmt: skip
METHOD = "johnson-relative-weights/1"  # part of the cache key: a new method, new entries

DEFINITION = (
    "Key drivers of {outcome} (outcome score: each response's {family} rating). Per driver: "
    "n, mean and Pearson and Spearman correlation over the responses that answered both the "
    "outcome and the driver; relative importance = Johnson's relative weights (Johnson 2000) "
    "over the responses that answered the outcome and every driver in the model (their "
    "number is n), summing to R²; intervals: bootstrap percentile, {level:g}%, {resamples} "
    "resamples, seed {seed}; quadrant: importance share ≥ 100/k and score ≥ the drivers' "
    "mean score (0–100)."
)


@dataclass(frozen=True)
class RatedAnswer:
    """One answer as the analysis reads it (the store decodes them)."""

    metric: str
    component: str | None
    value: float
    scale: Scale
    high_is_easy: bool = True  # CES: whether a high value means easy


RatedResponse = tuple[RatedAnswer, ...]


class TooManyResponses(CxError):
    code = "TOO_MANY_RESPONSES"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"more than {limit} survey responses answer the outcome in this window and filter "
            "(CX_DRIVERS_MAX_RESPONSES); narrow the window or the filter, or raise the setting",
            limit=limit,
            setting="CX_DRIVERS_MAX_RESPONSES",
        )


@dataclass(frozen=True)
class DriversQuery:
    outcome: MetricKind
    window: Window
    filter: CellFilter


@dataclass(frozen=True)
class DriverResult:
    driver: CxDriver
    n: int
    mean_score: float | None
    scale_min: int | None
    scale_max: int | None
    performance: float | None  # the mean on 0–100: 100·(mean − min)/(max − min)
    pearson: float | None
    pearson_low: float | None
    pearson_high: float | None
    spearman: float | None
    in_model: bool
    importance: float | None
    importance_low: float | None
    importance_high: float | None
    importance_share: float | None
    rank: int | None
    quadrant: Quadrant | None
    low_sample: bool


@dataclass(frozen=True)
class DriverAnalysisResult:
    outcome: MetricKind
    definition: str
    respondents: int
    n: int
    r_squared: float | None
    outcome_mean: float | None
    outcome_scale_min: int | None
    outcome_scale_max: int | None
    drivers: tuple[DriverResult, ...]  # by importance, highest first
    low_sample: bool
    computed_at: datetime
    data_version: int


CACHED_TYPES = (DriverAnalysisResult, DriverResult, CxDriver, Quadrant)


class DriverScales(CxError):
    code = "INCOMPATIBLE_SCALES"

    def __init__(self, driver: CxDriver, scales: list[Scale]) -> None:
        named = ", ".join(f"{lo}-{hi}" for lo, hi in sorted(scales))
        super().__init__(
            f"driver {driver.value} would pool answers on different scales ({named}); narrow "
            "the filter (e.g. by journey or stage) so one scale remains",
            driver=driver.value,
            scales=[{"min": lo, "max": hi} for lo, hi in sorted(scales)],
        )


def check_outcome(kind: MetricKind) -> str:
    """The answer family an outcome kind reads; kinds that are no rating are refused."""
    if kind not in OUTCOMES:
        named = ", ".join(k.value for k in OUTCOMES)
        raise BadUserInput(
            f"drivers explain a rating: outcome {kind.value} is not one; use one of {named}",
            reason="UNSUPPORTED_OUTCOME",
        )
    return SURVEY_FAMILY[kind]


def check_filter(flt: CellFilter) -> None:
    if flt.components is not None or flt.questions is not None:
        raise BadUserInput(
            "drivers rank every CX component: filter by segments, journeys, stages or "
            "channels, not components or questions",
            reason="UNSUPPORTED_FILTER",
        )


def drivers_of(family: str) -> tuple[CxDriver, ...]:
    """Every driver but the outcome itself (EMOTION cannot drive EMOTION)."""
    return tuple(d for d in CxDriver if d.value != family)


def _driver(answer: RatedAnswer) -> str | None:
    if answer.metric == AnswerMetric.COMPONENT.value:
        return answer.component
    if answer.metric in (AnswerMetric.EMOTION.value, AnswerMetric.VALUE_FOR_EFFORT.value):
        return answer.metric
    return None


@dataclass
class Table:
    y: np.ndarray[Any, np.dtype[np.float64]]
    x: np.ndarray[Any, np.dtype[np.float64]]
    outcome_scale: Scale | None
    scales: list[Scale | None]


def table(
    responses: list[RatedResponse], kind: MetricKind, family: str, names: tuple[CxDriver, ...]
) -> Table:
    """One row per response: its mean outcome answer and its mean answer per driver."""
    column = {d.value: j for j, d in enumerate(names)}
    y = np.empty(len(responses))
    x = np.full((len(responses), len(names)), np.nan)
    outcome_scales: set[Scale] = set()
    directions: set[bool] = set()  # a CES outcome's: high = easy, or high = hard
    scales: list[set[Scale]] = [set() for _ in names]
    for i, answers in enumerate(responses):
        own: list[float] = []
        sums: dict[int, list[float]] = {}
        for answer in answers:
            if answer.metric == family:
                own.append(answer.value)
                outcome_scales.add(answer.scale)
                directions.add(answer.high_is_easy)
                continue
            name = _driver(answer)
            j = column.get(name) if name is not None else None
            if j is not None:
                sums.setdefault(j, []).append(answer.value)
                scales[j].add(answer.scale)
        y[i] = sum(own) / len(own)
        for j, values in sums.items():
            x[i, j] = sum(values) / len(values)
    if len(outcome_scales) > 1:
        raise IncompatibleScales(kind, sorted(outcome_scales))
    if len(directions) > 1:
        raise IncompatibleDirections(kind)
    for j, found in enumerate(scales):
        if len(found) > 1:
            raise DriverScales(names[j], sorted(found))
    return Table(y=y, x=x, outcome_scale=next(iter(outcome_scales), None),
                 scales=[next(iter(s), None) for s in scales])  # fmt: skip


def shape(
    q: DriversQuery, names: tuple[CxDriver, ...], t: Table, fit: Fit, min_sample: int,
    version: int,
) -> DriverAnalysisResult:  # fmt: skip
    performance: list[float | None] = []
    for stat, scale in zip(fit.drivers, t.scales, strict=True):
        if stat.mean is None or scale is None:
            performance.append(None)
        else:
            lo, hi = scale
            performance.append(100 * (stat.mean - lo) / (hi - lo))
    shares = [s.importance_share for s in fit.drivers]
    quadrants = drivers.quadrants(shares, performance)
    order = sorted(range(len(names)), key=lambda j: (
        fit.drivers[j].importance is None, -(fit.drivers[j].importance or 0.0), j))  # fmt: skip
    ranks = {
        j: r + 1 for r, j in enumerate(o for o in order if fit.drivers[o].importance is not None)
    }
    rows = []
    for j in order:
        s, scale = fit.drivers[j], t.scales[j]
        rows.append(DriverResult(
            driver=names[j], n=s.n, mean_score=s.mean,
            scale_min=scale[0] if scale else None, scale_max=scale[1] if scale else None,
            performance=performance[j], pearson=s.pearson, pearson_low=s.pearson_low,
            pearson_high=s.pearson_high, spearman=s.spearman, in_model=s.in_model,
            importance=s.importance, importance_low=s.importance_low,
            importance_high=s.importance_high, importance_share=s.importance_share,
            rank=ranks.get(j), quadrant=quadrants[j], low_sample=s.n < min_sample,
        ))  # fmt: skip
    family = SURVEY_FAMILY[q.outcome]
    definition = DEFINITION.format(outcome=q.outcome.value, family=family,
                                   level=100 * drivers.LEVEL, resamples=drivers.RESAMPLES,
                                   seed=drivers.SEED)  # fmt: skip
    lo_hi = t.outcome_scale
    return DriverAnalysisResult(
        outcome=q.outcome, definition=definition, respondents=fit.respondents, n=fit.complete,
        r_squared=fit.r_squared, outcome_mean=float(t.y.mean()) if t.y.size else None,
        outcome_scale_min=lo_hi[0] if lo_hi else None,
        outcome_scale_max=lo_hi[1] if lo_hi else None, drivers=tuple(rows),
        low_sample=fit.complete < min_sample, computed_at=datetime.now(UTC), data_version=version,
    )  # fmt: skip
