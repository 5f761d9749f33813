"""Survey formulas on small hand-computed histograms (docs/metrics.md), no database.

Expected numbers are worked out here from the documented formulas with ``math`` and
``statistics``; the t quantiles come from scipy (the test suite's reference), the normal one
from ``statistics.NormalDist``. Counts, sums and values are compared exactly; interval bounds,
which go through a quantile, to 1e-12 relative.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

import pytest
from scipy import stats as scipy_stats

from service.domain.metrics import formulas
from service.domain.metrics.formulas import Distribution, MetricValue, Sample
from service.domain.metrics.query import ScaleTooShort
from service.domain.model import MetricKind

K = MetricKind
Z = statistics.NormalDist().inv_cdf(0.975)
TIGHT = 1e-12


def t975(df: int) -> float:
    return float(scipy_stats.t.ppf(0.975, df))


def expand(hist: dict[float, int]) -> list[float]:
    return [v for v, c in sorted(hist.items()) for _ in range(c)]


def t_interval(xs: list[float], factor: float = 1.0) -> tuple[float, float]:
    n, mean, s = len(xs), statistics.fmean(xs), statistics.stdev(xs)
    half = t975(n - 1) * s / math.sqrt(n)
    return factor * (mean - half), factor * (mean + half)


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = p + Z**2 / (2 * n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return 100 * (centre - half) / (1 + Z**2 / n), 100 * (centre + half) / (1 + Z**2 / n)


def assert_interval(
    v: MetricValue, low: float, high: float, bounds: tuple[float, float] = (0.0, 100.0)
) -> None:
    """The interval clipped to the metric's range; the margin of error is not clipped."""
    assert v.ci_low == pytest.approx(max(low, bounds[0]), rel=TIGHT, abs=1e-12)
    assert v.ci_high == pytest.approx(min(high, bounds[1]), rel=TIGHT, abs=1e-12)
    assert v.margin_of_error == pytest.approx((high - low) / 2, rel=TIGHT)


def compute(kind: MetricKind, hist: dict[float, int], scale: tuple[int, int]) -> MetricValue:
    return formulas.from_histogram(kind, Counter(hist), scale)


# -- NPS ----------------------------------------------------------------------------------------

NPS_HIST = {10: 2, 9: 1, 8: 2, 7: 1, 6: 1, 3: 2, 0: 1}  # P = 3, passives = 3, D = 4, N = 10


def adjusted_wald(p: int, d: int, n: int) -> tuple[float, float, float]:
    """(low, high, MoE) × 100: Rocks' adjusted Wald, n + 3 and ¾ added to P and D."""
    pp, pd = (p + 0.75) / (n + 3), (d + 0.75) / (n + 3)
    moe = 100 * Z * math.sqrt((pp + pd - (pp - pd) ** 2) / (n + 3))
    centre = 100 * (pp - pd)
    return max(centre - moe, -100.0), min(centre + moe, 100.0), moe


def test_nps_value_distribution_and_adjusted_wald_interval() -> None:
    v = compute(K.NPS, NPS_HIST, (0, 10))
    assert (v.kind, v.value, v.n, v.numerator, v.denominator) == (K.NPS, -10.0, 10, -1, 10)
    assert (v.scale_min, v.scale_max) == (0, 10)
    assert v.distribution == Distribution(promoters=3, passives=3, detractors=4)
    # ñ = 13, p̃P = 3.75/13, p̃D = 4.75/13: centre −100/13, MoE = 100·z·√((8.5/13 − 1/169)/13)
    moe = 100 * Z * math.sqrt((8.5 / 13 - 1 / 169) / 13)
    assert moe == pytest.approx(43.7563, abs=1e-4)
    assert v.margin_of_error == pytest.approx(moe, rel=1e-14)
    assert v.ci_low == pytest.approx(-100 / 13 - moe, rel=1e-14)
    assert v.ci_high == pytest.approx(-100 / 13 + moe, rel=1e-14)
    assert v.sample == Sample(n=10, promoters=3, detractors=4)


def test_nps_interval_is_clipped_but_moe_is_not() -> None:
    high = compute(K.NPS, {10: 5, 9: 4, 8: 1}, (0, 10))  # P = 9, D = 0
    low_bound, high_bound, moe = adjusted_wald(9, 0, 10)
    assert high.value == 90.0
    assert high.margin_of_error == pytest.approx(moe, rel=1e-14)
    assert 100 * 9 / 13 + moe > 100 and high_bound == 100.0
    assert high.ci_high == 100.0
    assert high.ci_low == pytest.approx(low_bound, rel=1e-14)

    low = compute(K.NPS, {0: 3, 6: 6, 7: 1}, (0, 10))  # D = 9
    assert low.value == -90.0
    assert low.ci_low == -100.0
    assert low.ci_high == pytest.approx(-low_bound, rel=1e-14)
    assert low.distribution == Distribution(promoters=0, passives=1, detractors=9)


def test_nps_all_promoters_has_an_interval_of_nonzero_width() -> None:
    # the Wald interval was 100 ± 0 here
    v = compute(K.NPS, {10: 3, 9: 2}, (0, 10))
    low, high, moe = adjusted_wald(5, 0, 5)
    assert v.value == 100.0
    assert (v.ci_low, v.ci_high) == (pytest.approx(low, rel=1e-14), high)
    assert v.ci_low is not None and v.ci_low < 70.0
    assert v.margin_of_error == pytest.approx(moe, rel=1e-14)


def test_nps_has_no_interval_with_one_answer() -> None:
    v = compute(K.NPS, {9: 1}, (0, 10))
    assert (v.value, v.ci_low, v.ci_high, v.margin_of_error) == (100.0, None, None, None)


def test_nps_boundaries_6_is_a_detractor_7_and_8_passive_9_promoter() -> None:
    v = compute(K.NPS, {6: 1, 7: 1, 8: 1, 9: 1}, (0, 10))
    assert v.distribution == Distribution(promoters=1, passives=2, detractors=1)
    assert v.value == 0.0


def test_nps_mean_likelihood() -> None:
    hist = {10: 1, 8: 2, 6: 1}
    xs = expand(hist)
    v = compute(K.NPS_MEAN_LIKELIHOOD, hist, (0, 10))
    assert (v.value, v.n, v.numerator, v.denominator) == (800.0, 4, 32.0, 4.0)
    assert (v.scale_min, v.scale_max) == (0, 10)
    assert_interval(v, *t_interval(xs, 100.0), bounds=(0, 1000))
    assert v.sample is not None
    assert v.sample.mean == 800.0
    assert v.sample.variance == pytest.approx(100**2 * statistics.variance(xs), rel=1e-15)
    assert v.distribution is None


# -- proportions --------------------------------------------------------------------------------


def test_csat_top_two_box_with_wilson() -> None:
    v = compute(K.CSAT, {5: 2, 4: 1, 3: 1, 1: 1}, (1, 5))
    assert (v.value, v.n, v.numerator, v.denominator) == (60.0, 5, 3, 5)
    assert (v.scale_min, v.scale_max) == (1, 5)
    assert_interval(v, *wilson(3, 5))
    assert v.sample == Sample(n=5, successes=3)


def test_csat_top_two_box_on_another_scale_and_half_points() -> None:
    # on 1–7 the top two points are 6 and 7; 5.5 is below them
    v = compute(K.CSAT, {7: 1, 6: 1, 5.5: 2}, (1, 7))
    assert (v.value, v.numerator, v.denominator) == (50.0, 2, 4)


def test_ces_percent_easy() -> None:
    v = compute(K.CES_PERCENT_EASY, {7: 1, 6: 2, 2: 1}, (1, 7))
    assert (v.value, v.n, v.numerator, v.denominator) == (75.0, 4, 3, 4)
    assert_interval(v, *wilson(3, 4))


def test_wilson_is_exactly_0_and_100_at_the_extremes() -> None:
    none = compute(K.CSAT, {1: 2, 2: 1}, (1, 5))
    assert none.value == 0.0
    assert none.ci_low == 0.0
    assert none.ci_high == pytest.approx(wilson(0, 3)[1], rel=TIGHT)
    every = compute(K.CSAT, {4: 2, 5: 1}, (1, 5))
    assert every.value == 100.0
    assert every.ci_high == 100.0
    assert every.ci_low == pytest.approx(wilson(3, 3)[0], rel=TIGHT)


def test_wilson_at_n_1() -> None:
    v = compute(K.CSAT, {5: 1}, (1, 5))
    assert (v.value, v.ci_high) == (100.0, 100.0)
    assert v.ci_low == pytest.approx(100 / (1 + Z**2), rel=TIGHT)  # (1 + z²/2 − z·z/2)/(1 + z²)


def test_proportion_helper() -> None:
    v = formulas.proportion(K.FCR, 4, 5)
    assert (v.kind, v.value, v.n, v.numerator, v.denominator) == (K.FCR, 80.0, 5, 4, 5)
    assert (v.scale_min, v.scale_max) == (None, None)
    assert_interval(v, *wilson(4, 5))
    assert formulas.proportion(K.FCR, 0, 0) == formulas.empty(K.FCR)
    with pytest.raises(ValueError, match="between 0 and the total"):
        formulas.proportion(K.RETENTION_RATE, 7, 5)  # a share cannot exceed its whole


def test_a_ratio_that_is_not_a_share_has_no_interval() -> None:
    outside = formulas.ratio(K.RETENTION_RATE_NET, 7, 5)
    assert (outside.value, outside.ci_low, outside.ci_high, outside.margin_of_error) == (
        140.0, None, None, None,
    )  # fmt: skip
    assert outside.sample is None  # so compare runs no test on it
    assert formulas.ratio(K.RETENTION_RATE_NET, -1, 4).value == -25.0
    assert formulas.ratio(K.RETENTION_RATE_NET, 0, 0) == formulas.empty(K.RETENTION_RATE_NET)


# -- means --------------------------------------------------------------------------------------


def test_csat_score_percent() -> None:
    hist = {5: 2, 4: 1, 3: 1, 1: 1}  # Σx = 18, N = 5
    xs = expand(hist)
    v = compute(K.CSAT_SCORE_PERCENT, hist, (1, 5))
    assert (v.n, v.numerator, v.denominator) == (5, 18.0, 25)
    assert v.value == pytest.approx(18 / 25 * 100, rel=1e-15)
    assert_interval(v, *t_interval(xs, 100 / 5), bounds=(20, 100))
    assert v.sample is not None
    assert v.sample.variance == pytest.approx(20**2 * statistics.variance(xs), rel=1e-15)


def test_ces_mean() -> None:
    hist = {7: 1, 6: 2, 2: 1}
    v = compute(K.CES, hist, (1, 7))
    assert (v.value, v.n, v.numerator, v.denominator) == (5.25, 4, 21.0, 4.0)
    assert (v.scale_min, v.scale_max) == (1, 7)
    assert_interval(v, *t_interval(expand(hist)), bounds=(1, 7))


@pytest.mark.parametrize("kind", [K.EMOTION, K.VALUE_FOR_EFFORT])
def test_plain_means_with_half_points(kind: MetricKind) -> None:
    hist = {4.5: 1, 3: 1}
    v = compute(kind, hist, (1, 5))
    assert (v.kind, v.value, v.n, v.numerator, v.denominator) == (kind, 3.75, 2, 7.5, 2.0)
    # df = 1: t = tan(0.475π)
    assert t975(1) == pytest.approx(math.tan(0.475 * math.pi), rel=1e-13)
    assert_interval(v, *t_interval(expand(hist)), bounds=(1, 5))
    assert v.sample is not None
    assert v.sample.variance == 1.125


def test_component_score_rescales_to_0_100() -> None:
    hist = {1: 1, 3: 1, 5: 2}  # → 0, 50, 100, 100
    v = compute(K.COMPONENT_SCORE, hist, (1, 5))
    assert (v.value, v.n, v.numerator, v.denominator) == (62.5, 4, 250.0, 4.0)
    assert (v.scale_min, v.scale_max) == (1, 5)
    assert_interval(v, *t_interval([0.0, 50.0, 100.0, 100.0]))
    on_seven = compute(K.COMPONENT_SCORE, {1: 1, 4: 1, 7: 1}, (1, 7))
    assert (on_seven.value, on_seven.numerator) == (50.0, 150.0)


@pytest.mark.parametrize(
    ("kind", "hist", "scale"),
    [
        (K.NPS_MEAN_LIKELIHOOD, {7: 1}, (0, 10)),
        (K.CSAT_SCORE_PERCENT, {4: 1}, (1, 5)),
        (K.CES, {3: 1}, (1, 7)),
        (K.EMOTION, {2: 1}, (1, 5)),
        (K.VALUE_FOR_EFFORT, {5: 1}, (1, 5)),
        (K.COMPONENT_SCORE, {2: 1}, (1, 5)),
    ],
)
def test_t_interval_is_null_at_n_1(
    kind: MetricKind, hist: dict[float, int], scale: tuple[int, int]
) -> None:
    v = compute(kind, hist, scale)
    assert v.n == 1
    assert v.value is not None
    assert (v.ci_low, v.ci_high, v.margin_of_error) == (None, None, None)
    assert v.sample is not None
    assert v.sample.variance is None


def test_zero_variance_gives_a_zero_width_interval() -> None:
    v = compute(K.CES, {4: 3}, (1, 7))
    assert (v.value, v.ci_low, v.ci_high, v.margin_of_error) == (4.0, 4.0, 4.0, 0.0)


# -- counts and empty ---------------------------------------------------------------------------


def test_response_count() -> None:
    v = compute(K.RESPONSE_COUNT, {1: 7}, (0, 1))
    assert v == MetricValue(kind=K.RESPONSE_COUNT, value=7.0, n=7, numerator=7,
                            denominator=None)  # fmt: skip


@pytest.mark.parametrize("kind", list(formulas.SURVEY_FORMULAS))
def test_empty_histogram_is_the_empty_value(kind: MetricKind) -> None:
    expected_denominator = None if kind is K.RESPONSE_COUNT else 0.0
    distribution = Distribution(0, 0, 0) if kind is K.NPS else None
    for hist in ({}, {4: 0}):
        v = compute(kind, hist, (1, 5))
        assert v == MetricValue(kind=kind, value=None, n=0, numerator=0.0,
                                denominator=expected_denominator,
                                distribution=distribution)  # fmt: skip
    assert formulas.empty(kind) == v


def test_zero_counts_are_ignored() -> None:
    assert compute(K.CES, {4: 2, 6: 0}, (1, 7)) == compute(K.CES, {4: 2}, (1, 7))


def test_every_kind_has_a_definition() -> None:
    assert set(formulas.DEFINITIONS) == set(MetricKind)
    assert all(formulas.DEFINITIONS[k] for k in MetricKind)


# -- scales of box metrics ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.CSAT, K.CES_PERCENT_EASY])
@pytest.mark.parametrize("scale", [(1, 2), (1, 3), (0, 2)])
def test_a_top_two_box_needs_four_points(kind: MetricKind, scale: tuple[int, int]) -> None:
    with pytest.raises(ScaleTooShort) as caught:
        compute(kind, {float(scale[1]): 1}, scale)
    assert caught.value.code == "SCALE_TOO_SHORT"
    assert f"{scale[0]}-{scale[1]}" in str(caught.value)


def test_a_top_two_box_on_four_points_and_on_0_10() -> None:
    assert compute(K.CSAT, {4: 1, 3: 1, 2: 1, 1: 1}, (1, 4)).value == 50.0  # 3 and 4 of 1–4
    # on 0–10 the top two points are 9 and 10
    v = compute(K.CSAT, {10: 1, 9: 1, 8: 1, 0: 1}, (0, 10))
    assert (v.value, v.numerator) == (50.0, 2)
    assert compute(K.CSAT_SCORE_PERCENT, {1: 1, 2: 1}, (1, 2)).n == 2  # means are not boxes
