"""Metric types: results with their uncertainty, breakdown groups, trend points, funnels."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry

from schema.enums import Channel, Component
from schema.inputs import TimeWindow
from service.domain.metrics.multiple import Adjustment, Against, GroupTest, Withheld
from service.domain.metrics.query import MetricQuery, Source
from service.domain.metrics.results import MetricResult as MetricOutcome
from service.domain.metrics.timeframe import Window
from service.domain.model import Calendar, Dimension, Granularity, MetricKind, WeekStart

strawberry.enum(MetricKind, description="A CX metric; docs/metrics.md defines each exactly.")
strawberry.enum(Dimension, description="What a breakdown groups by.")
strawberry.enum(
    Granularity,
    description="Trend periods: days, weeks (from weekStart; ISO weeks by default) or months "
    "of the trend's calendar.",
)
strawberry.enum(
    Calendar,
    description="Whose months a trend counts: GREGORIAN, PERSIAN (Solar Hijri, Farvardin to "
    "Esfand) or ISLAMIC_UMALQURA (Saudi Arabia's official Hijri calendar).",
)
strawberry.enum(WeekStart, description="The first day of a trend's weeks (MONDAY: ISO weeks).")
strawberry.enum(
    Source,
    name="MetricSource",
    description="Where survey metrics are read: AUTO and ROLLUPS use daily rollups plus raw "
    "documents for partial days; RAW aggregates raw documents only (a cross-check).",
)

strawberry.enum(
    Against,
    name="Significance",
    description="What each result is tested against: VS_REST (breakdown: the group against "
    "all other records) or VS_PREVIOUS (trend: the period against the one before).",
)
strawberry.enum(
    Adjustment,
    name="PValueAdjustment",
    description="Across the tests of one answer: HOLM (family-wise error) or "
    "BENJAMINI_HOCHBERG (false discovery rate).",
)
strawberry.enum(
    Withheld,
    name="WithheldReason",
    description="Why a test has no p-value.",
)


MAX_QUESTIONS = 100  # question ids in one filter
MAX_QUESTION_LENGTH = 256  # as long as an answer's question may be


@strawberry.input(description='Each list is matched as "any of"; lists combine with AND.')
class MetricFilter:
    segments: list[str] | None = None
    journeys: list[str] | None = None
    stages: list[str] | None = None
    channels: list[Channel] | None = None
    components: list[Component] | None = None
    questions: list[str] | None = strawberry.field(
        default=None,
        description="Survey metrics: the answers to these question ids only (each response "
        f"counts once, as the mean of its answers to them); at most {MAX_QUESTIONS}. Read "
        "from raw documents.",
    )


@strawberry.input(description="One side of a comparison.")
class Comparand:
    window: TimeWindow
    filter: MetricFilter | None = None


@strawberry.type
class ConfidenceInterval:
    low: float
    high: float
    level: float


@strawberry.type
class NpsDistribution:
    promoters: int
    passives: int
    detractors: int


@strawberry.type(description="The half-open window [from, to) a result answers for.")
class MetricWindow:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    timezone: str = strawberry.field(
        description="IANA name: the periods' and days' timezone; from and to are written in it."
    )

    @classmethod
    def of(cls, window: Window, tz: ZoneInfo) -> MetricWindow:
        return cls(from_=window.start.astimezone(tz), to=window.end.astimezone(tz), timezone=tz.key)


@strawberry.type
class MetricResult:
    kind: MetricKind
    definition: str
    value: float | None = strawberry.field(description="Null when n = 0.")
    n: int = strawberry.field(
        description="Respondents for survey metrics (one per response, however many answers "
        "it gives), cases for FCR, customers for customer metrics."
    )
    numerator: float | None
    denominator: float | None
    scale_min: int | None
    scale_max: int | None
    confidence_interval: ConfidenceInterval | None
    margin_of_error: float | None
    low_sample: bool = strawberry.field(description="n is below the tenant's minimum sample.")
    computed_at: datetime
    data_version: int
    distribution: NpsDistribution | None = strawberry.field(description="NPS only.")
    window: MetricWindow = strawberry.field(
        description="The window answered for: the one asked for, the default last 30 days, "
        "or a trend point's period."
    )
    high_is_easy: bool | None = strawberry.field(
        default=None,
        description="CES kinds: whether a high answer means easy in the answers read (false: "
        "an effort scale); null for other kinds and when n = 0.",
    )

    @classmethod
    def from_outcome(
        cls, outcome: MetricOutcome, q: MetricQuery, window: Window | None = None
    ) -> MetricResult:
        """``window`` is a trend point's period; other results answer for the query's."""
        v = outcome.value
        interval = (
            ConfidenceInterval(low=v.ci_low, high=v.ci_high, level=0.95)
            if v.ci_low is not None and v.ci_high is not None
            else None
        )
        d = v.distribution
        return cls(
            kind=v.kind, definition=outcome.definition, value=v.value, n=v.n,
            numerator=v.numerator, denominator=v.denominator, scale_min=v.scale_min,
            scale_max=v.scale_max, confidence_interval=interval,
            margin_of_error=v.margin_of_error, low_sample=outcome.low_sample,
            computed_at=outcome.computed_at, data_version=outcome.data_version,
            distribution=NpsDistribution(promoters=d.promoters, passives=d.passives,
                                         detractors=d.detractors) if d else None,
            window=MetricWindow.of(window or q.window, q.timezone),
            high_is_easy=v.high_is_easy,
        )  # fmt: skip


@strawberry.type(description="A test of one result against the rest or the previous period.")
class SignificanceTest:
    against: Against
    adjustment: Adjustment
    p_value: float | None = strawberry.field(description="Two-sided, before adjustment.")
    adjusted_p_value: float | None = strawberry.field(
        description="Adjusted across this answer's tests that have a p-value."
    )
    significant: bool | None = strawberry.field(description="adjustedPValue < 0.05")
    withheld: Withheld | None = strawberry.field(description="Why pValue is null.")

    @classmethod
    def of(cls, test: GroupTest) -> SignificanceTest:
        return cls(against=test.against, adjustment=test.adjustment, p_value=test.p_value,
                   adjusted_p_value=test.adjusted_p_value, significant=test.significant,
                   withheld=test.withheld)  # fmt: skip


@strawberry.type
class DimensionValue:
    dimension: Dimension
    value: str | None = strawberry.field(description="Null: records without this dimension.")


@strawberry.type
class MetricGroup:
    keys: list[DimensionValue]
    result: MetricResult
    test: SignificanceTest | None = strawberry.field(
        default=None, description="With significance: VS_REST."
    )


@strawberry.type
class TrendPoint:
    period_start: datetime = strawberry.field(description="In the trend's timezone.")
    period_end: datetime = strawberry.field(
        description="The first instant after the period (the next period's start), in the "
        "trend's timezone; like periodStart, the whole period even where the window cuts it."
    )
    label: str = strawberry.field(
        description="The period in the trend's calendar: 1405-01 for a month; for a day, and "
        "for a week (by its first day), 1405-01-01."
    )
    result: MetricResult
    test: SignificanceTest | None = strawberry.field(
        default=None, description="With significance: VS_PREVIOUS."
    )


@strawberry.type
class Comparison:
    a: MetricResult
    b: MetricResult
    difference: float | None = strawberry.field(description="b.value − a.value")
    p_value: float | None
    significant: bool | None = strawberry.field(description="pValue < 0.05")


@strawberry.type(
    description="One stage for the cohort that entered the journey's first stage in the window."
)
class FunnelStage:
    stage: str
    stage_name: str
    customers: int = strawberry.field(
        description="Cohort members who reached this stage (after reaching the previous one)."
    )
    conversion_from_previous: float | None = strawberry.field(
        description="100 · customers / the previous stage's customers (at most 100)."
    )
    median_hours_to_next_stage: float | None = strawberry.field(
        description="Kaplan–Meier median, those not yet at the next stage censored now; null "
        "when the estimate never falls to one half."
    )


@strawberry.type
class Segment:
    key: str
    customers: int
