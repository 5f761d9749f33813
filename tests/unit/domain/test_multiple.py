"""Tests across many groups: adjusted p-values and a group's rest (service/metrics/multiple).

Adjustments are checked against scipy (Benjamini–Hochberg) and against Holm's definition
written out here; a rest's statistics against the same statistics of the rest's own answers.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter

import pytest
from scipy import stats as scipy_stats

from service.domain.metrics import formulas, multiple
from service.domain.metrics.multiple import Adjustment, Outcome, Withheld
from service.domain.metrics.significance import p_value
from service.domain.model import MetricKind


def holm(ps: list[float]) -> list[float]:
    """Holm (1979): the i-th smallest p times (m − i + 1), made monotone, capped at 1."""
    m = len(ps)
    ranked = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    best = 0.0
    for position, i in enumerate(ranked, start=1):
        best = max(best, min(1.0, (m - position + 1) * ps[i]))
        out[i] = best
    return out


def test_holm_by_hand() -> None:
    # p = .01, .04, .03 (m = 3): .01·3 = .03; .03·2 = .06; .04·1 = .04 → max(.06, .04)
    assert multiple.adjust([0.01, 0.04, 0.03], Adjustment.HOLM) == pytest.approx([0.03, 0.06, 0.06])


def test_benjamini_hochberg_by_hand() -> None:
    # sorted .01, .03, .04 (m = 3): .04·3/3 = .04; .03·3/2 = .045 → .04; .01·3 = .03
    assert multiple.adjust([0.01, 0.04, 0.03], Adjustment.BENJAMINI_HOCHBERG) == pytest.approx(
        [0.03, 0.04, 0.04]
    )


def test_adjustments_agree_with_their_references() -> None:
    rng = random.Random(9)
    for _ in range(200):
        ps = [rng.random() ** rng.choice([1, 3]) for _ in range(rng.randint(1, 12))]
        assert multiple.adjust(ps, Adjustment.HOLM) == pytest.approx(holm(ps), rel=1e-12)
        bh = scipy_stats.false_discovery_control(ps, method="bh")
        assert multiple.adjust(ps, Adjustment.BENJAMINI_HOCHBERG) == pytest.approx(
            list(bh), rel=1e-12
        )


def outcome(kind: MetricKind, values: list[float], low_sample: bool = False) -> Outcome:
    v = formulas.from_histogram(kind, Counter(values), (1, 7) if kind is not MetricKind.NPS
                                else (0, 10))  # fmt: skip
    return Outcome(value=v, low_sample=low_sample)


@pytest.mark.parametrize("kind", [MetricKind.CES, MetricKind.CES_PERCENT_EASY, MetricKind.NPS])
def test_a_group_against_the_rest_is_the_test_of_the_rest_s_own_answers(
    kind: MetricKind,
) -> None:
    rng = random.Random(3)
    top = 10 if kind is MetricKind.NPS else 7
    a = [float(rng.randint(top - 6, top)) for _ in range(40)]
    b = [float(rng.randint(top - 6, top)) for _ in range(25)]
    c = [float(rng.randint(top - 4, top)) for _ in range(30)]
    total = outcome(kind, a + b + c)
    groups = [outcome(kind, a), outcome(kind, b), outcome(kind, c)]

    tests = multiple.vs_rest(kind, total, groups, Adjustment.HOLM)

    expected = [
        p_value(kind, outcome(kind, b + c).value, groups[0].value),
        p_value(kind, outcome(kind, a + c).value, groups[1].value),
        p_value(kind, outcome(kind, a + b).value, groups[2].value),
    ]
    assert [t.p_value for t in tests] == pytest.approx(expected, rel=1e-9)
    assert all(p is not None for p in expected)
    adjusted = holm([p for p in expected if p is not None])
    assert [t.adjusted_p_value for t in tests] == pytest.approx(adjusted, rel=1e-9)
    if kind is MetricKind.CES:  # and the rest's variance is the variance of its answers
        whole, first = total.value.sample, groups[0].value.sample
        assert whole is not None and first is not None
        rest = multiple._minus(whole, first)
        assert rest is not None and rest.variance == pytest.approx(
            statistics.variance(b + c), rel=1e-12
        )


def test_low_sample_groups_are_withheld_and_not_adjusted_for() -> None:
    kind = MetricKind.CES
    a, b, c = [1.0, 2.0, 3.0] * 10, [5.0, 6.0, 7.0] * 10, [4.0, 5.0]
    total = outcome(kind, a + b + c)
    tests = multiple.vs_rest(
        kind, total, [outcome(kind, a), outcome(kind, b), outcome(kind, c, low_sample=True)],
        Adjustment.HOLM,
    )  # fmt: skip
    assert tests[2].p_value is None and tests[2].withheld is Withheld.LOW_SAMPLE
    first, second = (t.p_value for t in tests[:2])
    assert first is not None and second is not None
    assert tests[0].adjusted_p_value == pytest.approx(min(1.0, 2 * min(first, second)))


def test_trend_against_the_previous_period() -> None:
    kind = MetricKind.CES
    points = [outcome(kind, [1.0, 2.0] * 20), outcome(kind, [6.0, 7.0] * 20),
              outcome(kind, [6.0, 7.0, 7.0] * 10, low_sample=True)]  # fmt: skip
    tests = multiple.vs_previous(kind, points, Adjustment.HOLM)
    assert [t.withheld for t in tests] == [Withheld.NO_PREVIOUS, None, Withheld.LOW_SAMPLE]
    assert tests[1].p_value is not None and tests[1].p_value < 1e-10
    assert tests[1].significant is True
    count = multiple.vs_previous(MetricKind.RESPONSE_COUNT, points, Adjustment.HOLM)
    assert {t.withheld for t in count} == {Withheld.NO_TEST}
