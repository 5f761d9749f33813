"""Key-driver analysis types: which CX drivers move an outcome, and where to act first."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.metrics import ConfidenceInterval, MetricWindow
from service.domain.metrics import drivers
from service.domain.metrics.driver_results import CxDriver, DriverAnalysisResult, DriverResult
from service.domain.metrics.drivers import Quadrant
from service.domain.model import MetricKind

strawberry.enum(
    CxDriver,
    description="A driver of an outcome: one of the six CX components (from COMPONENT "
    "answers), or the EMOTION or VALUE_FOR_EFFORT answers.",
)
strawberry.enum(
    Quadrant,
    name="DriverQuadrant",
    description="Importance vs performance (Martilla & James 1977), split at the averages: "
    "important = importanceShare ≥ 100/k (k drivers in the model); performing = performance ≥ "
    "the mean performance of those drivers. FIX_FIRST: important, below; KEEP_UP: important, "
    "above; LOW_PRIORITY: less important, below; POSSIBLE_OVERKILL: less important, above.",
)


def _interval(low: float | None, high: float | None) -> ConfidenceInterval | None:
    if low is None or high is None:
        return None
    return ConfidenceInterval(low=low, high=high, level=drivers.LEVEL)


@strawberry.type(description="How the intervals were computed.")
class Bootstrap:
    resamples: int
    seed: int
    level: float


@strawberry.type(description="One driver of the outcome.")
class Driver:
    driver: CxDriver
    n: int = strawberry.field(
        description="Responses that answered both the outcome and this driver: the "
        "population of meanScore, pearson and spearman."
    )
    mean_score: float | None = strawberry.field(description="On the driver's own scale.")
    scale_min: int | None
    scale_max: int | None
    performance: float | None = strawberry.field(
        description="meanScore on 0–100: 100·(mean − scaleMin)/(scaleMax − scaleMin)."
    )
    pearson: float | None = strawberry.field(description="Null when n < 3 or a side is constant.")
    pearson_interval: ConfidenceInterval | None = strawberry.field(
        description="Bootstrap percentile interval of pearson."
    )
    spearman: float | None
    in_model: bool = strawberry.field(
        description="In the relative-importance model: answered by at least half of the "
        "respondents (and 3), and not constant."
    )
    importance: float | None = strawberry.field(
        description="Johnson's relative weight: the share of the outcome's variance this "
        "driver accounts for (the weights sum to rSquared)."
    )
    importance_interval: ConfidenceInterval | None = strawberry.field(
        description="Bootstrap percentile interval of importance."
    )
    importance_share: float | None = strawberry.field(
        description="100 · importance / rSquared: its percentage of the explained variance."
    )
    rank: int | None = strawberry.field(description="1 = the most important driver.")
    quadrant: Quadrant | None
    low_sample: bool = strawberry.field(description="n is below the tenant's minimum sample.")

    @classmethod
    def of(cls, r: DriverResult) -> Driver:
        return cls(
            driver=r.driver, n=r.n, mean_score=r.mean_score, scale_min=r.scale_min,
            scale_max=r.scale_max, performance=r.performance, pearson=r.pearson,
            pearson_interval=_interval(r.pearson_low, r.pearson_high), spearman=r.spearman,
            in_model=r.in_model, importance=r.importance,
            importance_interval=_interval(r.importance_low, r.importance_high),
            importance_share=r.importance_share, rank=r.rank, quadrant=r.quadrant,
            low_sample=r.low_sample,
        )  # fmt: skip


@strawberry.type(description="Which drivers move an outcome (docs/metrics.md, Drivers).")
class DriverAnalysis:
    outcome: MetricKind
    definition: str
    respondents: int = strawberry.field(
        description="Responses in the window and filter that answered the outcome."
    )
    n: int = strawberry.field(
        description="Complete cases: responses that answered the outcome and every driver in "
        "the model; the population of importance and rSquared."
    )
    r_squared: float | None = strawberry.field(
        description="R² of the outcome on the model's drivers (complete cases)."
    )
    outcome_mean: float | None = strawberry.field(
        description="The mean outcome rating over the respondents."
    )
    outcome_scale_min: int | None
    outcome_scale_max: int | None
    ranking: list[Driver] = strawberry.field(
        description="Every driver, the most important first; drivers outside the model last."
    )
    bootstrap: Bootstrap
    low_sample: bool = strawberry.field(description="n is below the tenant's minimum sample.")
    computed_at: datetime
    data_version: int
    window: MetricWindow

    @classmethod
    def of(cls, r: DriverAnalysisResult, window: MetricWindow) -> DriverAnalysis:
        return cls(
            outcome=r.outcome, definition=r.definition, respondents=r.respondents, n=r.n,
            r_squared=r.r_squared, outcome_mean=r.outcome_mean,
            outcome_scale_min=r.outcome_scale_min, outcome_scale_max=r.outcome_scale_max,
            ranking=[Driver.of(d) for d in r.drivers],
            bootstrap=Bootstrap(resamples=drivers.RESAMPLES, seed=drivers.SEED,
                                level=drivers.LEVEL),
            low_sample=r.low_sample, computed_at=r.computed_at, data_version=r.data_version,
            window=window,
        )  # fmt: skip
