"""service.domain.metrics.stats against scipy: every function, over grids and random inputs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special
from scipy import stats as sps

from service.domain.metrics import stats


def close(expected: float) -> object:
    """The tolerance every comparison with scipy uses."""
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


DFS = [1, 1.5, 2, 3, 7.3, 29, 120, 1000]
TS = [-1e6, -300.0, -37.0, -12.0, -5.0, -2.5, -1.96, -1.0, -0.3, 0.0]
TS = TS + [-t for t in TS[::-1] if t != 0.0]
PS = [1e-6, 0.025, 0.5, 0.975, 0.999999]

# --------------------------------------------------------------------------------------------
# Normal distribution
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "z", [-38.0, -20.0, -8.5, -3.0, -1.96, -0.5, 0.0, 1e-9, 0.5, 1.96, 3.0, 8.5, 40.0]
)
def test_normal_cdf_matches_scipy(z: float) -> None:
    assert stats.normal_cdf(z) == close(sps.norm.cdf(z))


@pytest.mark.parametrize(
    "p",
    [*PS, 1e-300, 1e-20, 0.001, 0.02425, 0.3, 0.5 + 1e-9, 0.7, 0.97575, 1 - 1e-12],
)
def test_normal_ppf_matches_scipy(p: float) -> None:
    assert stats.normal_ppf(p) == close(sps.norm.ppf(p))


def test_normal_ppf_ends_and_domain() -> None:
    assert stats.normal_ppf(0.0) == -math.inf
    assert stats.normal_ppf(1.0) == math.inf
    assert stats.normal_ppf(0.5) == 0.0
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError):
            stats.normal_ppf(bad)


def test_z95() -> None:
    z95 = stats.Z95
    assert z95 == close(sps.norm.ppf(0.975))
    assert z95 == pytest.approx(1.959963984540054, abs=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1 - 1e-16))
def test_normal_round_trip(p: float) -> None:
    assert stats.normal_cdf(stats.normal_ppf(p)) == pytest.approx(p, rel=1e-12)


@given(st.floats(min_value=-37.0, max_value=3.0))  # above, 1 − Φ(z) loses its digits
def test_normal_ppf_of_cdf(z: float) -> None:
    assert stats.normal_ppf(stats.normal_cdf(z)) == pytest.approx(z, rel=1e-9, abs=1e-9)


@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0))
def test_normal_ppf_is_monotone(p1: float, p2: float) -> None:
    low, high = sorted((p1, p2))
    assert stats.normal_ppf(low) <= stats.normal_ppf(high)


# --------------------------------------------------------------------------------------------
# Regularized incomplete beta
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a", [0.1, 0.5, 1.0, 2.5, 10.0, 50.0, 300.0])
@pytest.mark.parametrize("b", [0.1, 0.5, 1.0, 2.5, 10.0, 50.0, 300.0])
@pytest.mark.parametrize("x", [1e-8, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-9])
def test_betainc_matches_scipy(a: float, b: float, x: float) -> None:
    assert stats.betainc_regularized(a, b, x) == close(special.betainc(a, b, x))


def test_betainc_ends_and_domain() -> None:
    assert stats.betainc_regularized(2.0, 3.0, 0.0) == 0.0
    assert stats.betainc_regularized(2.0, 3.0, 1.0) == 1.0
    for a, b, x in [(0.0, 1.0, 0.5), (1.0, -1.0, 0.5), (1.0, 1.0, 1.5), (1.0, 1.0, math.nan)]:
        with pytest.raises(ValueError):
            stats.betainc_regularized(a, b, x)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.05, max_value=200.0),
    st.floats(min_value=0.05, max_value=200.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_betainc_random_against_scipy_and_symmetry(a: float, b: float, x: float) -> None:
    value = stats.betainc_regularized(a, b, x)
    assert value == close(special.betainc(a, b, x))
    assert 0.0 <= value <= 1.0
    # I_x(a, b) = 1 − I_{1−x}(b, a), on an x whose 1 − x is exact
    x = 1.0 - (1.0 - x)
    mirrored = 1.0 - stats.betainc_regularized(b, a, 1.0 - x)
    assert stats.betainc_regularized(a, b, x) == pytest.approx(mirrored, abs=1e-12)


# --------------------------------------------------------------------------------------------
# Student's t
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("t", TS)
def test_student_t_cdf_matches_scipy(t: float, df: float) -> None:
    assert stats.student_t_cdf(t, df) == close(sps.t.cdf(t, df))


@pytest.mark.parametrize("df", [0.3, 250.0, 5e3, 1e5, 1e7, 1e9])
@pytest.mark.parametrize("t", [-40.0, -10.0, -2.5, -1.96, -0.3, 0.01, 1.96, 9.0])
def test_student_t_cdf_fractional_and_huge_df(t: float, df: float) -> None:
    assert stats.student_t_cdf(t, df) == close(sps.t.cdf(t, df))


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("p", PS)
def test_student_t_ppf_matches_scipy(p: float, df: float) -> None:
    assert stats.student_t_ppf(p, df) == close(sps.t.ppf(p, df))


@pytest.mark.parametrize("df", [0.3, 250.0, 5e3, 1e5, 1e7, 1e9])
@pytest.mark.parametrize("p", [1e-12, 1e-6, 0.025, 0.4, 0.975])
def test_student_t_ppf_fractional_and_huge_df(p: float, df: float) -> None:
    assert stats.student_t_ppf(p, df) == close(sps.t.ppf(p, df))


def test_student_t_ends_and_domain() -> None:
    assert stats.student_t_cdf(0.0, 3.0) == 0.5
    assert stats.student_t_cdf(-math.inf, 3.0) == 0.0
    assert stats.student_t_cdf(math.inf, 3.0) == 1.0
    assert math.isnan(stats.student_t_cdf(math.nan, 3.0))
    assert stats.student_t_cdf(1.5, math.inf) == close(sps.norm.cdf(1.5))
    assert stats.student_t_ppf(0.0, 3.0) == -math.inf
    assert stats.student_t_ppf(1.0, 3.0) == math.inf
    assert stats.student_t_ppf(0.5, 3.0) == 0.0
    assert stats.student_t_ppf(0.975, math.inf) == close(sps.norm.ppf(0.975))
    # Cauchy (df = 1) far out: t = tan(π(p − ½)) ≈ −1/(πp)
    assert stats.student_t_ppf(1e-300, 1.0) == pytest.approx(-1 / (math.pi * 1e-300), rel=1e-9)
    for bad_df in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError):
            stats.student_t_cdf(1.0, bad_df)
        with pytest.raises(ValueError):
            stats.student_t_ppf(0.3, bad_df)
    for bad_p in (-1e-9, 1.0 + 1e-9, math.nan):
        with pytest.raises(ValueError):
            stats.student_t_ppf(bad_p, 3.0)


dfs = st.floats(min_value=0.2, max_value=1e6)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-1e4, max_value=-1e-3), dfs)
def test_student_t_ppf_of_cdf(t: float, df: float) -> None:
    p = stats.student_t_cdf(t, df)
    assume(p > 1e-290)  # far enough from underflow to hold its digits
    assert stats.student_t_ppf(p, df) == pytest.approx(t, rel=1e-9)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1 - 1e-12), dfs)
def test_student_t_cdf_of_ppf(p: float, df: float) -> None:
    assert stats.student_t_cdf(stats.student_t_ppf(p, df), df) == pytest.approx(p, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e3, max_value=1e3), st.floats(min_value=-1e3, max_value=1e3), dfs)
def test_student_t_cdf_is_monotone_and_symmetric(t1: float, t2: float, df: float) -> None:
    low, high = sorted((t1, t2))
    c_low, c_high = stats.student_t_cdf(low, df), stats.student_t_cdf(high, df)
    assert 0.0 <= c_low <= 1.0
    assert c_low <= c_high * (1 + 1e-12)
    assert stats.student_t_cdf(-t1, df) == pytest.approx(1.0 - stats.student_t_cdf(t1, df))


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0), dfs)
def test_student_t_ppf_is_monotone(p1: float, p2: float, df: float) -> None:
    low, high = sorted((p1, p2))
    assert stats.student_t_ppf(low, df) <= stats.student_t_ppf(high, df)


@given(st.floats(min_value=-50.0, max_value=50.0))
def test_student_t_tends_to_normal(t: float) -> None:
    assert stats.student_t_cdf(t, 1e12) == pytest.approx(stats.normal_cdf(t), rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------------------------
# Wilson interval
# --------------------------------------------------------------------------------------------


def wilson_textbook(k: float, n: float, z: float) -> tuple[float, float]:
    """(p + z²/2n ± z·√(p(1 − p)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1]."""
    p = k / n
    centre = p + z**2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    denominator = 1 + z**2 / n
    return max(0.0, (centre - half) / denominator), min(1.0, (centre + half) / denominator)


COUNTS = [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (1, 30), (15, 30), (29, 30)]
COUNTS += [(500, 1000), (1, 100_000), (99_999, 100_000)]


@pytest.mark.parametrize(("k", "n"), COUNTS)
def test_wilson_matches_formula_and_binomtest(k: int, n: int) -> None:
    z = float(sps.norm.ppf(0.975))
    low, high = stats.wilson_interval(k, n) or (math.nan, math.nan)
    expected_low, expected_high = wilson_textbook(k, n, z)
    assert low == close(expected_low)
    assert high == close(expected_high)
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == close(ci.low)
    assert high == close(ci.high)


@pytest.mark.parametrize(("k", "n", "level"), [(7, 20, 0.9), (2, 5, 0.99), (2.5, 7.5, 0.8)])
def test_wilson_other_levels_and_fractional_counts(k: float, n: float, level: float) -> None:
    z = float(sps.norm.ppf(0.5 + level / 2))
    interval = stats.wilson_interval(k, n, z=z)
    assert interval is not None
    expected = wilson_textbook(k, n, z)
    assert interval[0] == close(expected[0])
    assert interval[1] == close(expected[1])


def test_wilson_edges() -> None:
    assert stats.wilson_interval(0, 0) is None
    low, high = stats.wilson_interval(0, 5) or (math.nan, math.nan)
    assert low == 0.0
    assert high == close(wilson_textbook(0, 5, stats.Z95)[1])
    low, high = stats.wilson_interval(5, 5) or (math.nan, math.nan)
    assert high == 1.0
    assert low == close(wilson_textbook(5, 5, stats.Z95)[0])
    for k, n in [(-1, 5), (6, 5), (0, -1)]:
        with pytest.raises(ValueError):
            stats.wilson_interval(k, n)
    with pytest.raises(ValueError):
        stats.wilson_interval(1, 5, z=0.0)


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_wilson_contains_the_proportion(k: int, n: int) -> None:
    assume(k <= n)
    low, high = stats.wilson_interval(k, n) or (math.nan, math.nan)
    assert 0.0 <= low <= k / n <= high <= 1.0
    expected_low, expected_high = wilson_textbook(k, n, stats.Z95)
    assert low == close(expected_low)
    assert high == close(expected_high)


# --------------------------------------------------------------------------------------------
# t-interval of a mean
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 10, 30, 1001, 2.5])
@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_mean_t_interval_matches_scipy(n: float, level: float) -> None:
    mean, sd = 3.7, 1.3
    low, high = stats.mean_t_interval(n, mean, sd, level) or (math.nan, math.nan)
    expected_low, expected_high = sps.t.interval(level, n - 1, loc=mean, scale=sd / math.sqrt(n))
    assert low == close(expected_low)
    assert high == close(expected_high)
    # the textbook form: mean ± t(1 − α/2, n − 1)·s/√n
    half = sps.t.ppf(1 - (1 - level) / 2, n - 1) * sd / math.sqrt(n)
    assert high - mean == close(half)


def test_mean_t_interval_edges() -> None:
    assert stats.mean_t_interval(0, 0.0, 0.0) is None
    assert stats.mean_t_interval(1, 4.0, 0.0) is None
    assert stats.mean_t_interval(5, 4.0, 0.0) == (4.0, 4.0)
    assert stats.mean_t_interval(2, 4.0, 1.0) == (
        close(4.0 - 12.706204736174698 / math.sqrt(2)),
        close(4.0 + 12.706204736174698 / math.sqrt(2)),
    )
    with pytest.raises(ValueError):
        stats.mean_t_interval(5, 4.0, -1.0)
    with pytest.raises(ValueError):
        stats.mean_t_interval(5, 4.0, 1.0, level=1.0)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=2, max_value=100_000),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=0.0, max_value=1e6),
)
def test_mean_t_interval_random(n: int, mean: float, sd: float) -> None:
    low, high = stats.mean_t_interval(n, mean, sd) or (math.nan, math.nan)
    half = sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert low <= mean <= high
    assert (high - low) / 2 == pytest.approx(half, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# Two-proportion z-test
# --------------------------------------------------------------------------------------------


def two_proportion_textbook(k1: int, n1: int, k2: int, n2: int) -> float:
    """Pooled z = (p2 − p1)/√(p̂(1 − p̂)(1/n1 + 1/n2)), two-sided p = 2·(1 − Φ(|z|))."""
    pooled = (k1 + k2) / (n1 + n2)
    z = (k2 / n2 - k1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * sps.norm.sf(abs(z)))


PROPORTION_CASES = [
    (1, 2, 1, 3),
    (10, 100, 10, 100),
    (10, 100, 20, 100),
    (45, 50, 20, 50),
    (0, 40, 7, 40),
    (30, 30, 10, 30),
    (480, 1000, 520, 1000),
    (1, 100_000, 200, 100_000),
    (900, 1000, 10, 1000),
]


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), PROPORTION_CASES)
def test_two_proportion_matches_formula(k1: int, n1: int, k2: int, n2: int) -> None:
    expected = two_proportion_textbook(k1, n1, k2, n2)
    assert stats.two_proportion_p_value(k1, n1, k2, n2) == close(expected)
    assert stats.two_proportion_p_value(k2, n2, k1, n1) == close(expected)
    # the same test as a 2×2 chi-square test without continuity correction
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    chi2 = sps.chi2_contingency(table, correction=False)
    assert stats.two_proportion_p_value(k1, n1, k2, n2) == close(chi2.pvalue)


def test_two_proportion_edges() -> None:
    assert stats.two_proportion_p_value(0, 0, 3, 10) is None
    assert stats.two_proportion_p_value(3, 10, 0, 0) is None
    # pooled proportion 0 or 1: both proportions are equal, no evidence of a difference
    assert stats.two_proportion_p_value(0, 10, 0, 20) == 1.0
    assert stats.two_proportion_p_value(10, 10, 20, 20) == 1.0
    for args in [(11, 10, 1, 10), (-1, 10, 1, 10), (1, 10, 1, -10)]:
        with pytest.raises(ValueError):
            stats.two_proportion_p_value(*args)


@given(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=1, max_value=5000),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_two_proportion_random(n1: int, n2: int, f1: float, f2: float) -> None:
    k1, k2 = round(f1 * n1), round(f2 * n2)
    value = stats.two_proportion_p_value(k1, n1, k2, n2)
    pooled = (k1 + k2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        assert value == 1.0
    else:
        assert value == close(two_proportion_textbook(k1, n1, k2, n2))


# --------------------------------------------------------------------------------------------
# Welch's t-test
# --------------------------------------------------------------------------------------------


def welch_scipy(n1: float, m1: float, v1: float, n2: float, m2: float, v2: float) -> float:
    result = sps.ttest_ind_from_stats(m1, math.sqrt(v1), n1, m2, math.sqrt(v2), n2, equal_var=False)
    return float(result.pvalue)


WELCH_CASES = [
    (2, 1.0, 0.5, 2, 1.5, 0.7),
    (5, 3.2, 1.1, 8, 4.0, 2.5),
    (30, 4.1, 0.8, 30, 4.1, 0.8),
    (30, 4.1, 0.8, 45, 3.6, 1.9),
    (12, 70.0, 100.0, 300, 64.0, 25.0),
    (1000, 0.51, 0.25, 900, 0.49, 0.25),
    (10, 0.0, 1.0, 10, 12.0, 1.0),
    (4, 2.0, 0.0, 6, 3.0, 1.5),
]


@pytest.mark.parametrize(("n1", "m1", "v1", "n2", "m2", "v2"), WELCH_CASES)
def test_welch_matches_scipy(n1: int, m1: float, v1: float, n2: int, m2: float, v2: float) -> None:
    expected = welch_scipy(n1, m1, v1, n2, m2, v2)
    assert stats.welch_p_value(n1, m1, v1, n2, m2, v2) == close(expected)
    assert stats.welch_p_value(n2, m2, v2, n1, m1, v1) == close(expected)


def test_welch_edges() -> None:
    assert stats.welch_p_value(1, 2.0, 0.0, 10, 3.0, 1.0) is None
    assert stats.welch_p_value(10, 2.0, 1.0, 0, 3.0, 0.0) is None
    assert stats.welch_p_value(5, 2.0, 0.0, 7, 2.0, 0.0) == 1.0
    assert stats.welch_p_value(5, 2.0, 0.0, 7, 2.5, 0.0) == 0.0
    with pytest.raises(ValueError):
        stats.welch_p_value(5, 2.0, -1.0, 7, 2.5, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2, max_value=10_000),
    st.integers(min_value=2, max_value=10_000),
    st.floats(min_value=-100.0, max_value=100.0),
    st.floats(min_value=-100.0, max_value=100.0),
    st.floats(min_value=1e-3, max_value=1e3),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_welch_random(n1: int, n2: int, m1: float, m2: float, v1: float, v2: float) -> None:
    value = stats.welch_p_value(n1, m1, v1, n2, m2, v2)
    assert value == close(welch_scipy(n1, m1, v1, n2, m2, v2))


# --------------------------------------------------------------------------------------------
# Difference of two NPS
# --------------------------------------------------------------------------------------------


def nps_textbook(p1: int, d1: int, n1: int, p2: int, d2: int, n2: int) -> float:
    """z = (nps2 − nps1)/√(v1 + v2), v = (pP + pD − (pP − pD)²)/N, two-sided normal p."""

    def moments(p: int, d: int, n: int) -> tuple[float, float]:
        pp, pd = p / n, d / n
        return pp - pd, (pp + pd - (pp - pd) ** 2) / n

    nps1, v1 = moments(p1, d1, n1)
    nps2, v2 = moments(p2, d2, n2)
    return float(2 * sps.norm.sf(abs((nps2 - nps1) / math.sqrt(v1 + v2))))


NPS_CASES = [
    (1, 1, 2, 2, 0, 2),
    (50, 20, 100, 40, 30, 100),
    (50, 20, 100, 50, 20, 100),
    (300, 100, 600, 10, 5, 30),
    (10, 0, 10, 5, 5, 10),
    (0, 30, 30, 12, 3, 40),
    (4000, 1000, 10_000, 4100, 1000, 10_000),
]


@pytest.mark.parametrize(("p1", "d1", "n1", "p2", "d2", "n2"), NPS_CASES)
def test_nps_difference_matches_formula(
    p1: int, d1: int, n1: int, p2: int, d2: int, n2: int
) -> None:
    expected = nps_textbook(p1, d1, n1, p2, d2, n2)
    assert stats.nps_difference_p_value(p1, d1, n1, p2, d2, n2) == close(expected)
    assert stats.nps_difference_p_value(p2, d2, n2, p1, d1, n1) == close(expected)


def test_nps_difference_edges() -> None:
    assert stats.nps_difference_p_value(1, 0, 1, 5, 2, 10) is None
    assert stats.nps_difference_p_value(5, 2, 10, 0, 0, 0) is None
    # zero variance in both groups
    assert stats.nps_difference_p_value(10, 0, 10, 20, 0, 20) == 1.0
    assert stats.nps_difference_p_value(0, 0, 10, 0, 0, 20) == 1.0
    assert stats.nps_difference_p_value(10, 0, 10, 0, 20, 20) == 0.0
    for args in [(6, 5, 10, 1, 1, 10), (-1, 0, 10, 1, 1, 10), (1, 1, 10, 1, -1, 10)]:
        with pytest.raises(ValueError):
            stats.nps_difference_p_value(*args)


@given(
    st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=200),
    st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=200),
)
def test_nps_difference_random(scores1: list[int], scores2: list[int]) -> None:
    def counts(scores: list[int]) -> tuple[int, int, int]:
        return sum(s >= 9 for s in scores), sum(s <= 6 for s in scores), len(scores)

    p1, d1, n1 = counts(scores1)
    p2, d2, n2 = counts(scores2)
    value = stats.nps_difference_p_value(p1, d1, n1, p2, d2, n2)
    assert value is not None
    assert 0.0 <= value <= 1.0
    nps1, nps2 = (p1 - d1) / n1, (p2 - d2) / n2
    # a group whose answers are all in one class (promoter, passive, detractor) has v = 0
    one_class = all(
        len({(s >= 9) - (s <= 6) for s in scores}) == 1 for scores in (scores1, scores2)
    )
    if one_class:
        assert value == (1.0 if nps1 == nps2 else 0.0)
    else:
        assert value == close(nps_textbook(p1, d1, n1, p2, d2, n2))


# --------------------------------------------------------------------------------------------
# Median
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values", [[3.0], [2.0, 1.0], [5.0, 1.0, 3.0], [4, 1, 3, 2], [1.5, -2.0, 1.5, 8.0, 0.0]]
)
def test_median_matches_numpy(values: list[float]) -> None:
    assert stats.median(values) == close(float(np.median(values)))


def test_median_empty() -> None:
    assert stats.median([]) is None
    assert stats.median(()) is None


@given(st.lists(st.floats(min_value=-1e12, max_value=1e12), min_size=1, max_size=50))
def test_median_random(values: list[float]) -> None:
    result = stats.median(values)
    assert result == close(float(np.median(values)))
    assert min(values) <= (result if result is not None else math.nan) <= max(values)


# -- Kaplan–Meier median ------------------------------------------------------------------------


def _scipy_km_median(times: list[tuple[float, bool]]) -> float | None:
    events = [t for t, seen in times if seen]
    if not events:
        return None
    sf = sps.ecdf(
        sps.CensoredData(uncensored=events, right=[t for t, seen in times if not seen])
    ).sf
    below = sf.quantiles[sf.probabilities <= 0.5 + 1e-12]  # S = 1/2 exactly, up to rounding
    return float(below[0]) if len(below) else None


def test_kaplan_meier_median_by_hand() -> None:
    # no censoring: the smallest time with at least half the events
    assert stats.kaplan_meier_median([(1, True), (2, True), (3, True), (4, True)]) == 2.0
    # fewer than half converted and nobody censored early: no median
    assert stats.kaplan_meier_median([(2, True), (9, False), (9, False)]) is None
    # one censored at 5 before the event at 10: S(10) = 1 − 1/2 → 10
    assert stats.kaplan_meier_median([(5, False), (10, True), (100, False)]) == 10.0
    # a tie: the event at 3 counts before the censoring at 3 (S(3) = 1 − 1/2)
    assert stats.kaplan_meier_median([(3, True), (3, False)]) == 3.0
    assert stats.kaplan_meier_median([]) is None


def test_kaplan_meier_median_agrees_with_scipy() -> None:
    rng = random.Random(8)
    for _ in range(300):
        n = rng.randint(1, 25)
        times = [(float(rng.randint(0, 12)), rng.random() < 0.6) for _ in range(n)]
        assert stats.kaplan_meier_median(times) == _scipy_km_median(times), times
