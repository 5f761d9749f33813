"""The NPS interval's coverage and the NPS comparison's level, by exact enumeration.

Every outcome of n answers (promoters P, detractors D, passives n − P − D) is enumerated with
its multinomial probability (scipy); the service's own interval and p-value are asked of
each. No simulation noise, so the thresholds of issue 13 are checked to the last digit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from scipy.stats import multinomial

from service.domain.metrics import formulas
from service.domain.metrics.formulas import MetricValue
from service.domain.metrics.significance import p_value
from service.domain.model import MetricKind

# (share of promoters, share of detractors) for true NPS 0, 50 and 80
COMPOSITIONS = {
    "nps 0, 10% passives": (0.45, 0.45),
    "nps 0, 40% passives": (0.3, 0.3),
    "nps 50, 30% passives": (0.6, 0.1),
    "nps 50, 10% passives": (0.7, 0.2),
    "nps 80, 10% passives": (0.85, 0.05),
}


def outcomes(n: int, promoters: float, detractors: float) -> Iterator[tuple[MetricValue, float]]:
    shares = [promoters, detractors, 1 - promoters - detractors]
    for p in range(n + 1):
        for d in range(n + 1 - p):
            probability = float(multinomial.pmf([p, d, n - p - d], n, shares))
            hist = Counter({10.0: p, 7.0: n - p - d, 0.0: d})
            yield formulas.from_histogram(MetricKind.NPS, hist, (0, 10)), probability


def coverage(n: int, promoters: float, detractors: float) -> float:
    true_nps = 100 * (promoters - detractors)
    covered = 0.0
    for v, probability in outcomes(n, promoters, detractors):
        assert v.ci_low is not None and v.ci_high is not None
        if v.ci_low <= true_nps <= v.ci_high:
            covered += probability
    return covered


def false_positive_rate(n: int, promoters: float, detractors: float) -> float:
    both = list(outcomes(n, promoters, detractors))
    rejected = 0.0
    for a, pa in both:
        for b, pb in both:
            p = p_value(MetricKind.NPS, a, b)
            if p is not None and p < 0.05:
                rejected += pa * pb
    return rejected


@pytest.mark.parametrize("shares", COMPOSITIONS.values(), ids=COMPOSITIONS.keys())
def test_the_nps_interval_covers_at_least_90_percent_at_n_10(
    shares: tuple[float, float],
) -> None:
    assert coverage(10, *shares) >= 0.90


def test_the_documented_shortfall_with_no_detractors_at_all() -> None:
    # docs/metrics.md states it: NPS 80 as 80% promoters and no detractor covers 87.9%.
    assert coverage(10, 0.8, 0.0) == pytest.approx(0.8791, abs=5e-5)


def test_the_old_wald_interval_would_have_failed_this_test() -> None:
    # the check above can fail: the plain Wald interval covers 80% at NPS 80, n = 10
    covered = 0.0
    for v, probability in outcomes(10, 0.85, 0.05):
        assert v.distribution is not None
        p, d = v.distribution.promoters / 10, v.distribution.detractors / 10
        half = 196 * ((p + d - (p - d) ** 2) / 10) ** 0.5
        covered += probability if abs((v.value or 0.0) - 80.0) <= half else 0.0
    assert covered == pytest.approx(0.797, abs=5e-4)


@pytest.mark.parametrize("shares", COMPOSITIONS.values(), ids=COMPOSITIONS.keys())
def test_the_nps_comparison_holds_its_level_at_n_10(shares: tuple[float, float]) -> None:
    assert false_positive_rate(10, *shares) <= 0.06


def test_no_nps_interval_below_two_answers() -> None:
    v = formulas.from_histogram(MetricKind.NPS, Counter({10.0: 1}), (0, 10))
    assert (v.value, v.ci_low, v.ci_high, v.margin_of_error) == (100.0, None, None, None)
