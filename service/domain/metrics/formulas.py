"""Metric formulas over histograms (pure). docs/metrics.md states each one in full."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from service.domain.metrics import stats
from service.domain.metrics.query import ScaleTooShort
from service.domain.model import MetricKind

LEVEL = 0.95


@dataclass(frozen=True)
class Distribution:
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True)
class Sample:
    """What a comparison test needs from one side."""

    n: int
    successes: float | None = None  # proportions
    mean: float | None = None  # means
    variance: float | None = None
    promoters: int | None = None  # NPS
    detractors: int | None = None


@dataclass(frozen=True)
class MetricValue:
    kind: MetricKind
    value: float | None
    n: int
    numerator: float | None
    denominator: float | None
    scale_min: int | None = None
    scale_max: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    margin_of_error: float | None = None
    distribution: Distribution | None = None
    sample: Sample | None = None
    high_is_easy: bool | None = None  # CES kinds with answers: the direction read


# Survey kinds count respondents: N is responses, and x a response's rating — the mean of its
# answers of the metric (that the filter selects), on one scale and direction (RESPONDENTS).
RESPONDENTS = " (N respondents; x a response's mean answer of the metric)"
DEFINITIONS: dict[MetricKind, str] = {
    MetricKind.NPS: "100·(promoters − detractors)/N on 0–10 answers; promoters 9–10, detractors "
    "0–6; adjusted-Wald interval (Rocks 2016: N + 3, promoters and detractors + ¾), clipped "
    "to [−100, 100]; none when N < 2",
    MetricKind.NPS_MEAN_LIKELIHOOD: "the source document's 'NPS': Σ likelihood / N × 100 "
    "(100 × the mean 0–10 answer); not the standard NPS; t-interval clipped to "
    "[0, 1000]",
    MetricKind.CSAT: "top-2-box: 100 · respondents in the top two points of the scale / N; "
    "Wilson interval",
    MetricKind.CSAT_SCORE_PERCENT: "the source document's CSAT: Σ ratings / (N × scale max) × "
    "100; t-interval clipped to [100·min/max, 100]",
    MetricKind.CES: "the source document's CES: Σ ratings / N (mean effort score); t-interval "
    "clipped to the scale",
    MetricKind.CES_PERCENT_EASY: "100 · respondents in the two 'easy' points / N: the top two "
    "(highIsEasy, the CES 2.0 agreement scale) or the bottom two (an effort scale); Wilson",
    MetricKind.FCR: "100 · cases resolved at first contact / cases whose first contact is in "
    "the window (open cases included); resolved at first contact: that contact resolved and no "
    "other within CX_FCR_RECONTACT_DAYS; Wilson interval",
    MetricKind.EMOTION: "mean EMOTION rating Σx/N; t-interval clipped to the scale",
    MetricKind.VALUE_FOR_EFFORT: "mean VALUE_FOR_EFFORT rating Σx/N; t-interval clipped to "
    "the scale",
    MetricKind.COMPONENT_SCORE: "mean of 100·(x − min)/(max − min) over respondents' COMPONENT "
    "ratings (per component in a COMPONENT breakdown); t-interval clipped to [0, 100]",
    MetricKind.RETENTION_RATE: "cohort retention 100·(S − C)/S: of the S customers active at "
    "window start, those still active at its end (C churned in the window); Wilson interval",
    MetricKind.RETENTION_RATE_NET: "net retention 100·(E − N)/S: E active at window end, N new "
    "in the window, S active at window start; not a proportion (new customers who churn "
    "inside the window pull it down, below 0 possibly): no interval",
    MetricKind.CHURN_RATE: "100 · customers of S who churned in the window / S; Wilson interval",
    MetricKind.CLV: "ARPC × L per window-length period. ARPC = Σ revenue / Σ lifetime over "
    "the customers of S who have churned (revenue is to date, so only a churned customer's "
    "revenue has a known span: sign-up to churn); L = S / C, C = customers of S churned in "
    "the window. Inputs: revenue, signedUpAt, churnedAt. Limits: assumes constant churn and "
    "that churned customers spent like the rest; null when C = 0. Interval: delta method on "
    "log CLV",
    MetricKind.RESPONSE_COUNT: "number of survey responses matching the filter in the window",
}
for _kind in (MetricKind.NPS, MetricKind.NPS_MEAN_LIKELIHOOD, MetricKind.CSAT,
              MetricKind.CSAT_SCORE_PERCENT, MetricKind.CES, MetricKind.CES_PERCENT_EASY,
              MetricKind.EMOTION, MetricKind.VALUE_FOR_EFFORT,
              MetricKind.COMPONENT_SCORE):  # fmt: skip
    DEFINITIONS[_kind] += RESPONDENTS


def _ordered(hist: Counter[float]) -> list[tuple[float, int]]:
    # A fixed order makes float sums identical whichever path built the histogram.
    return sorted((v, c) for v, c in hist.items() if c)


def _mean_var(items: list[tuple[float, int]]) -> tuple[int, float, float | None]:
    n = sum(c for _, c in items)
    mean = math.fsum(v * c for v, c in items) / n
    if n < 2:
        return n, mean, None
    var = math.fsum(c * (v - mean) ** 2 for v, c in items) / (n - 1)
    return n, mean, var


def _proportion(kind: MetricKind, k: float, n: int, scale: tuple[int, int] | None
                ) -> MetricValue:  # fmt: skip
    interval = stats.wilson_interval(k, n)
    low, high = (100 * interval[0], 100 * interval[1]) if interval else (None, None)
    return MetricValue(
        kind=kind, value=100 * k / n, n=n, numerator=k, denominator=n,
        scale_min=scale[0] if scale else None, scale_max=scale[1] if scale else None,
        ci_low=low, ci_high=high,
        margin_of_error=(high - low) / 2 if low is not None and high is not None else None,
        sample=Sample(n=n, successes=k),
    )  # fmt: skip


def _mean(kind: MetricKind, items: list[tuple[float, int]], scale: tuple[int, int],
          bounds: tuple[float, float], factor: float = 1.0,
          denominator_factor: float = 1.0) -> MetricValue:  # fmt: skip
    """value = factor · mean; numerator Σx, denominator N · denominator_factor.

    ``bounds`` is the range the value can take; the t-interval is clipped to it (a mean of
    ratings cannot leave the scale), the margin of error is the unclipped half-width.
    """
    n, mean, var = _mean_var(items)
    total = math.fsum(v * c for v, c in items)
    interval = stats.mean_t_interval(n, mean, math.sqrt(var)) if var is not None else None
    low = high = moe = None
    if interval is not None:
        moe = factor * (interval[1] - interval[0]) / 2
        low = min(max(factor * interval[0], bounds[0]), bounds[1])
        high = max(min(factor * interval[1], bounds[1]), bounds[0])
    return MetricValue(
        kind=kind, value=factor * mean, n=n, numerator=total, denominator=n * denominator_factor,
        scale_min=scale[0], scale_max=scale[1], ci_low=low, ci_high=high, margin_of_error=moe,
        sample=Sample(n=n, mean=factor * mean,
                      variance=None if var is None else factor**2 * var),
    )  # fmt: skip


def _nps(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
    items = _ordered(hist)
    n = sum(c for _, c in items)
    promoters = sum(c for v, c in items if v >= 9)
    detractors = sum(c for v, c in items if v <= 6)
    value = 100 * (promoters - detractors) / n
    # Adjusted Wald (Rocks 2016): the plain Wald interval has zero width at n = 1 or when
    # every answer falls in one group, and covers far below 95% at small n.
    interval = stats.nps_adjusted_wald(promoters, detractors, n)
    low = high = moe = None
    if interval is not None:
        centre, half = interval
        low, high, moe = (
            max(100 * (centre - half), -100.0),
            min(100 * (centre + half), 100.0),
            100 * half,
        )
    return MetricValue(
        kind=MetricKind.NPS, value=value, n=n, numerator=promoters - detractors, denominator=n,
        scale_min=scale[0], scale_max=scale[1], ci_low=low, ci_high=high, margin_of_error=moe,
        distribution=Distribution(promoters, n - promoters - detractors, detractors),
        sample=Sample(n=n, promoters=promoters, detractors=detractors),
    )  # fmt: skip


def _top_two(kind: MetricKind) -> Callable[[Counter[float], tuple[int, int]], MetricValue]:
    def compute(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
        items = _ordered(hist)
        n = sum(c for _, c in items)
        k = sum(c for v, c in items if v >= scale[1] - 1)
        return _proportion(kind, k, n, scale)

    return compute


def _plain_mean(kind: MetricKind) -> Callable[[Counter[float], tuple[int, int]], MetricValue]:
    def compute(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
        return _mean(kind, _ordered(hist), scale, (scale[0], scale[1]))

    return compute


def _nps_mean(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
    bounds = (100.0 * scale[0], 100.0 * scale[1])
    return _mean(MetricKind.NPS_MEAN_LIKELIHOOD, _ordered(hist), scale, bounds, factor=100.0)


def _csat_score(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
    hi = scale[1]
    bounds = (100.0 * scale[0] / hi, 100.0)
    return _mean(MetricKind.CSAT_SCORE_PERCENT, _ordered(hist), scale, bounds,
                 factor=100.0 / hi, denominator_factor=hi)  # fmt: skip


def _component(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
    lo, hi = scale
    rescaled = sorted((100 * (v - lo) / (hi - lo), c) for v, c in hist.items() if c)
    return _mean(MetricKind.COMPONENT_SCORE, rescaled, scale, (0.0, 100.0))


def _count(hist: Counter[float], scale: tuple[int, int]) -> MetricValue:
    n = sum(hist.values())
    return MetricValue(kind=MetricKind.RESPONSE_COUNT, value=float(n), n=n, numerator=n,
                       denominator=None)  # fmt: skip


SURVEY_FORMULAS: dict[MetricKind, Callable[[Counter[float], tuple[int, int]], MetricValue]] = {
    MetricKind.NPS: _nps,
    MetricKind.NPS_MEAN_LIKELIHOOD: _nps_mean,
    MetricKind.CSAT: _top_two(MetricKind.CSAT),
    MetricKind.CSAT_SCORE_PERCENT: _csat_score,
    MetricKind.CES: _plain_mean(MetricKind.CES),
    MetricKind.CES_PERCENT_EASY: _top_two(MetricKind.CES_PERCENT_EASY),
    MetricKind.EMOTION: _plain_mean(MetricKind.EMOTION),
    MetricKind.VALUE_FOR_EFFORT: _plain_mean(MetricKind.VALUE_FOR_EFFORT),
    MetricKind.COMPONENT_SCORE: _component,
    MetricKind.RESPONSE_COUNT: _count,
}


def empty(kind: MetricKind) -> MetricValue:
    """n = 0: the value is null; numerator and denominator are empty sums."""
    denominator = None if kind is MetricKind.RESPONSE_COUNT else 0.0
    distribution = Distribution(0, 0, 0) if kind is MetricKind.NPS else None
    return MetricValue(kind=kind, value=None, n=0, numerator=0.0, denominator=denominator,
                       distribution=distribution)  # fmt: skip


BOX_KINDS = frozenset({MetricKind.CSAT, MetricKind.CES_PERCENT_EASY})
MIN_BOX_POINTS = 4


CES_KINDS = frozenset({MetricKind.CES, MetricKind.CES_PERCENT_EASY})


def _percent_easy(hist: Counter[float], scale: tuple[int, int], high_is_easy: bool
                  ) -> MetricValue:  # fmt: skip
    """The two easy points: the top two of an agreement scale, the bottom two of an effort
    scale ("how much effort", high = hard)."""
    if high_is_easy:
        return _top_two(MetricKind.CES_PERCENT_EASY)(hist, scale)
    items = _ordered(hist)
    n = sum(c for _, c in items)
    k = sum(c for v, c in items if v <= scale[0] + 1)
    return _proportion(MetricKind.CES_PERCENT_EASY, k, n, scale)


def from_histogram(
    kind: MetricKind, hist: Counter[float], scale: tuple[int, int], high_is_easy: bool = True
) -> MetricValue:
    """``high_is_easy`` is the answers' direction (CES; True for every other metric)."""
    if sum(hist.values()) == 0:
        return empty(kind)
    if kind in BOX_KINDS and scale[1] - scale[0] + 1 < MIN_BOX_POINTS:
        raise ScaleTooShort(kind, scale)
    if kind is MetricKind.CES_PERCENT_EASY:
        value = _percent_easy(hist, scale, high_is_easy)
    else:
        value = SURVEY_FORMULAS[kind](hist, scale)
    return replace(value, high_is_easy=high_is_easy) if kind in CES_KINDS else value


def proportion(kind: MetricKind, successes: int, n: int) -> MetricValue:
    """FCR, retention and churn: a share of n, in percent, with a Wilson interval."""
    if n == 0:
        return empty(kind)
    return _proportion(kind, successes, n, None)


def ratio(kind: MetricKind, numerator: int, n: int) -> MetricValue:
    """100 · numerator / n for a count that is not a subset of n: no interval, no test."""
    if n == 0:
        return empty(kind)
    return MetricValue(kind=kind, value=100 * numerator / n, n=n, numerator=numerator,
                       denominator=n)  # fmt: skip
