"""Every interval lies inside the range its metric can take (issue 13, item 2).

The ranges are written here from docs/metrics.md, not read from the code under test.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scipy import stats as scipy_stats

from service.domain.metrics import formulas
from service.domain.model import MetricKind

K = MetricKind
SCALES = [(0, 10), (1, 5), (1, 7), (0, 4), (1, 10)]


def value_range(kind: MetricKind, lo: int, hi: int) -> tuple[float, float]:
    if kind is K.NPS:
        return -100.0, 100.0
    if kind is K.NPS_MEAN_LIKELIHOOD:
        return 100.0 * lo, 100.0 * hi
    if kind is K.CSAT_SCORE_PERCENT:
        return 100.0 * lo / hi, 100.0
    if kind in (K.CES, K.EMOTION, K.VALUE_FOR_EFFORT):
        return float(lo), float(hi)
    return 0.0, 100.0  # shares and COMPONENT_SCORE


KINDS = [k for k in formulas.SURVEY_FORMULAS if k is not K.RESPONSE_COUNT]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
def test_every_interval_lies_inside_its_range(kind: MetricKind) -> None:
    rng = random.Random(13)
    checked = 0
    for _ in range(200):
        lo, hi = (0, 10) if kind in (K.NPS, K.NPS_MEAN_LIKELIHOOD) else rng.choice(SCALES)
        n = rng.choice([1, 2, 3, 4, 5, 8, 30])
        # skewed toward the ends of the scale, where intervals overflow
        values = [rng.choice([lo, lo, hi, hi, rng.randint(lo, hi)]) for _ in range(n)]
        v = formulas.from_histogram(kind, Counter(float(x) for x in values), (lo, hi))
        low, high = value_range(kind, lo, hi)
        assert v.value is not None and low <= v.value <= high
        if v.ci_low is None or v.ci_high is None:
            assert n < 2  # only NPS and means go without an interval, below 2 answers
            continue
        assert low <= v.ci_low <= v.ci_high <= high, (kind, lo, hi, values)
        checked += 1
    assert checked > 150


def test_ces_on_1_7_with_two_answers_is_clipped_to_the_scale() -> None:
    # the review's example: {1, 7} gave (−34.1, 42.1): mean 4 ± t(0.975, 1)·√18/√2
    v = formulas.from_histogram(K.CES, Counter({1.0: 1, 7.0: 1}), (1, 7))
    half = float(scipy_stats.t.ppf(0.975, 1)) * 3.0
    assert half == pytest.approx(38.1186, abs=1e-4)
    assert (v.value, v.ci_low, v.ci_high) == (4.0, 1.0, 7.0)
    assert v.margin_of_error == pytest.approx(half, rel=1e-13)


def test_csat_score_percent_with_three_answers_stays_in_20_to_100() -> None:
    # {1, 1, 4} on 1–5 → 20, 20, 80 %: 40 ± t(0.975, 2)·34.64/√3 = 40 ± 86.06
    v = formulas.from_histogram(K.CSAT_SCORE_PERCENT, Counter({1.0: 2, 4.0: 1}), (1, 5))
    half = float(scipy_stats.t.ppf(0.975, 2)) * (1200**0.5) / 3**0.5
    assert 40 - half < -40 and 40 + half > 100
    assert v.value == pytest.approx(40.0, rel=1e-15)
    assert (v.ci_low, v.ci_high) == (20.0, 100.0)
    assert v.margin_of_error == pytest.approx(half, rel=1e-13)
