"""Pure-Python statistics for CX metrics: distributions, intervals and significance tests.

Standard library only (``math``), so the service does not depend on scipy or numpy; the test
suite checks every function against scipy.

- Normal: ``normal_cdf`` (``math.erfc``) and ``normal_ppf`` (Acklam's rational approximation
  refined by two Halley steps; accurate to about 1e-15 relative).
- Student's t for any real ``df > 0``: ``student_t_cdf`` through the regularized incomplete
  beta function (``betainc_regularized``, the Lentz continued fraction of Numerical Recipes'
  ``betacf``; for ``df >= 30`` and ``t² <= df``, where that fraction loses digits, the
  asymptotic expansion BGRAT of ACM TOMS 708) and ``student_t_ppf`` by safeguarded Newton
  iteration inside a bracket. Both agree with scipy to about 1e-13 relative, tails included,
  for ``df`` from 0.3 to 1e9.
- Intervals: Wilson score interval of a proportion, t-interval of a mean, adjusted-Wald
  interval of an NPS.
- Two-sided p-values: pooled two-proportion z-test, Welch's t-test, difference of two NPS
  (z-test, kept for reference) and Welch's t-test on the −1/0/+1 NPS scores.

Arguments out of their domain (a probability outside [0, 1], ``df <= 0``, a count above its
total, a negative variance) raise ``ValueError``. Undefined results (no data, a single
observation where a variance is needed) are ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = [
    "Z95",
    "betainc_regularized",
    "kaplan_meier_median",
    "mean_t_interval",
    "median",
    "normal_cdf",
    "normal_ppf",
    "nps_adjusted_wald",
    "nps_difference_p_value",
    "nps_welch_p_value",
    "student_t_cdf",
    "student_t_ppf",
    "two_proportion_p_value",
    "welch_p_value",
    "wilson_interval",
]

_EPS = 2.220446049250313e-16  # sys.float_info.epsilon
_MAX_FLOAT = 1.7976931348623157e308  # sys.float_info.max
_TINY = 1e-300  # Lentz's guard against a zero denominator
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
_BGRAT_MIN_DF = 30.0  # from here on, the t tail with t² <= df uses the BGRAT expansion

# --------------------------------------------------------------------------------------------
# Normal distribution
# --------------------------------------------------------------------------------------------

# Acklam's coefficients (relative error of the raw approximation below 1.15e-9).
_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549671010196837e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)
_P_LOW = 0.02425


def _check_probability(p: float) -> None:
    """Raise ``ValueError`` unless ``0 <= p <= 1`` (NaN included)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {p!r}")


def _polyval(coefficients: tuple[float, ...], x: float) -> float:
    """Horner evaluation, highest power first."""
    total = 0.0
    for c in coefficients:
        total = total * x + c
    return total


def normal_cdf(z: float) -> float:
    """Standard normal distribution function Φ(z), accurate in both tails."""
    return 0.5 * math.erfc(-z / _SQRT2)


def _normal_lower_ppf(p: float) -> float:
    """Φ⁻¹(p) for ``0 < p <= 0.5``: Acklam's approximation and two Halley steps."""
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = _polyval(_C, q) / (_polyval(_D, q) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = _polyval(_A, r) * q / (_polyval(_B, r) * r + 1.0)
    for _ in range(2):
        # u = (Φ(x) − p) / φ(x), written as a relative error times p/φ(x) so that neither
        # factor overflows nor underflows deep in the tail.
        u = (normal_cdf(x) - p) / p * math.exp(math.log(p) + 0.5 * x * x + _LOG_SQRT_2PI)
        x -= u / (1.0 + 0.5 * x * u)
    return x


def normal_ppf(p: float) -> float:
    """Standard normal quantile Φ⁻¹(p); ``-inf``/``inf`` at 0 and 1."""
    _check_probability(p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p > 0.5:
        return -_normal_lower_ppf(1.0 - p)  # 1 − p is exact for p >= 0.5
    return _normal_lower_ppf(p)


Z95: float = normal_ppf(0.975)
"""The two-sided 95% normal critical value, 1.959963984540054."""

# --------------------------------------------------------------------------------------------
# Beta function and the regularized incomplete beta function
# --------------------------------------------------------------------------------------------


def _stirling_tail(x: float) -> float:
    """lgamma(x) − ((x − ½)·ln x − x + ½·ln 2π), for ``x >= 30`` (error below 1e-16)."""
    r = 1.0 / x
    r2 = r * r
    return r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)))


def _lgamma_shift(x: float, h: float) -> float:
    """lgamma(x + h) − lgamma(x) for ``x >= 30``, by Stirling's series term by term."""
    total = x + h
    return (
        (x - 0.5) * math.log1p(h / x)
        + h * math.log(total)
        - h
        + _stirling_tail(total)
        - _stirling_tail(x)
    )


def _log_beta(a: float, b: float) -> float:
    """ln B(a, b), without the cancellation of lgamma differences when one argument is large."""
    small, large = (a, b) if a <= b else (b, a)
    if large < 30.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    return math.lgamma(small) - _lgamma_shift(large, small)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes)."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    max_iterations = 10_000 + 10 * int(math.sqrt(max(a, b)))
    for m in range(1, max_iterations + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge ({a}, {b}, {x})")


def _betainc(a: float, b: float, x: float, y: float, log_x: float, log_y: float) -> float:
    """I_x(a, b) given ``x``, ``y = 1 − x`` and their logarithms, each computed accurately.

    ``x`` may have underflowed to 0 while ``log_x`` is still finite: the logarithms decide.
    """
    if log_x == -math.inf:
        return 0.0
    if log_y == -math.inf:
        return 1.0
    log_front = a * log_x + b * log_y - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, y) / b


def betainc_regularized(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for ``a, b > 0`` and ``0 <= x <= 1``.

    About 1e-13 relative for parameters up to a few hundred; it degrades slowly beyond
    (about 1e-12 at a = b = 10⁴).
    """
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"a and b must be positive, got a={a!r}, b={b!r}")
    _check_probability(x)
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    return _betainc(a, b, x, 1.0 - x, math.log(x), math.log1p(-x))


# --------------------------------------------------------------------------------------------
# Student's t distribution
# --------------------------------------------------------------------------------------------


def _check_df(df: float) -> None:
    """Raise ``ValueError`` unless ``df > 0`` (``inf`` allowed, NaN not)."""
    if not df > 0.0:
        raise ValueError(f"degrees of freedom must be positive, got {df!r}")


def _log1p_square(u: float) -> float:
    """ln(1 + u²) without overflowing for huge ``u >= 0``."""
    if u > 1e150:
        return 2.0 * math.log(u)
    return math.log1p(u * u)


def _t_tail_bgrat(a: float, log_x: float) -> float | None:
    """I_x(a, ½) for large ``a`` and ``x`` near 1; ``None`` if the series does not converge.

    The asymptotic expansion BGRAT of Didonato & Morris (ACM TOMS 708) with ``b = ½``, where
    the incomplete gamma function it needs is ``Q(½, z) = erfc(√z)``. Numerical Recipes'
    continued fraction loses digits there (its terms cancel to about ``1/a``).
    """
    b = 0.5
    nu = a - 0.25  # a + (b − 1)/2
    z = -nu * log_x
    # Every term of the series is scaled by r = e^(−z)·z^b/Γ(b), the source's j_n = J_n / r.
    r = math.exp(-z) * math.sqrt(z / math.pi)
    # Γ(a + b) / (Γ(a)·nu^b) by Stirling's series, each term small: a is large here
    scale = math.exp(
        (a - 0.5) * math.log1p(b / a)
        + b * math.log1p(0.75 / nu)  # b·ln((a + b) / nu)
        - b
        + _stirling_tail(a + b)
        - _stirling_tail(a)
    )
    v = 0.25 / (nu * nu)
    t2 = 0.25 * log_x * log_x
    j = math.erfc(math.sqrt(z))
    total = j
    power = r  # r·(ln x / 2)^(2n)
    cn = 1.0
    c: list[float] = []
    d: list[float] = []
    for n in range(1, 31):
        b2n = b + 2.0 * (n - 1)
        j = (b2n * (b2n + 1.0) * j + (z + b2n + 1.0) * power) * v
        power *= t2
        cn /= (2.0 * n) * (2.0 * n + 1.0)
        c.append(cn)
        s = 0.0
        coefficient = b - n
        for i in range(1, n):
            s += coefficient * c[i - 1] * d[n - i - 1]
            coefficient += b
        d.append((b - 1.0) * cn + s / n)
        term = d[-1] * j
        total += term
        if total <= 0.0:
            return None
        if abs(term) <= _EPS * total:
            return min(1.0, scale * total)
    return None


def _t_two_sided_tail(abs_t: float, df: float) -> float:
    """P(|T| > abs_t) = I_x(df/2, ½) with ``x = df / (df + t²)``, for finite ``abs_t > 0``."""
    u = abs_t / math.sqrt(df)
    if u == 0.0:  # t so small that t/√df underflows
        return 1.0
    if u > 1.0:
        # x = r / (1 + r), y = 1 / (1 + r) with r = df / t² = 1 / u²
        r = 1.0 / (u * u)  # may underflow to 0: log_x carries it
        log_y = -math.log1p(r)
        log_x = -2.0 * math.log(u) + log_y
        x = math.exp(log_x)
        y = 1.0 / (1.0 + r)
    else:
        # x = 1 / (1 + s), y = s / (1 + s) with s = t² / df = u²
        s = u * u
        log_x = -math.log1p(s)
        log_y = 2.0 * math.log(u) + log_x
        x = 1.0 / (1.0 + s)
        y = math.exp(log_y)
        if df >= _BGRAT_MIN_DF:
            tail = _t_tail_bgrat(0.5 * df, log_x)
            if tail is not None:
                return tail
    return _betainc(0.5 * df, 0.5, x, y, log_x, log_y)


def student_t_cdf(t: float, df: float) -> float:
    """Distribution function of Student's t with real ``df > 0`` (``df = inf``: the normal)."""
    _check_df(df)
    if math.isnan(t):
        return math.nan
    if math.isinf(df):
        return normal_cdf(t)
    if t == 0.0:
        return 0.5
    if math.isinf(t):
        return 0.0 if t < 0.0 else 1.0
    tail = 0.5 * _t_two_sided_tail(abs(t), df)
    return tail if t < 0.0 else 1.0 - tail


def _t_log_pdf(t: float, df: float) -> float:
    """ln of Student's t density."""
    return (
        -0.5 * (df + 1.0) * _log1p_square(abs(t) / math.sqrt(df))
        - 0.5 * math.log(df)
        - _log_beta(0.5 * df, 0.5)
    )


def _t_lower_ppf(p: float, df: float) -> float:
    """The t with ``student_t_cdf(t, df) == p`` for ``0 < p < 0.5`` (so ``t < 0``)."""
    # Bracket the root: cdf(lo) <= p < cdf(hi), doubling outwards from −1.
    lo, hi = -1.0, 0.0
    while student_t_cdf(lo, df) > p:
        if lo == -_MAX_FLOAT:
            return -math.inf
        hi = lo
        lo = max(2.0 * lo, -_MAX_FLOAT)
    # Newton from the right end of the bracket: the cdf is convex on t < 0, so the iterates
    # approach the root from the right; steps leaving the bracket fall back to bisection.
    t = hi if hi < 0.0 else 0.5 * lo
    log_p = math.log(p)
    for _ in range(500):
        f = student_t_cdf(t, df) - p
        if f == 0.0:
            return t
        if f > 0.0:
            hi = t
        else:
            lo = t
        # step = f / pdf(t) = (f / p) · (p / pdf(t)), safe against under- and overflow
        step = f / p * math.exp(min(log_p - _t_log_pdf(t, df), 700.0))
        candidate = t - step
        if not lo < candidate < hi:
            candidate = 0.5 * (lo + hi)
        if abs(candidate - t) <= 2.0 * _EPS * abs(candidate) or candidate in (lo, hi):
            return candidate
        t = candidate
    return t


def student_t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with real ``df > 0``; ``-inf``/``inf`` at 0 and 1."""
    _check_probability(p)
    _check_df(df)
    if math.isinf(df):
        return normal_ppf(p)
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p == 0.5:
        return 0.0
    if p > 0.5:
        return -_t_lower_ppf(1.0 - p, df)  # 1 − p is exact for p >= 0.5
    return _t_lower_ppf(p, df)


# --------------------------------------------------------------------------------------------
# Confidence intervals
# --------------------------------------------------------------------------------------------


def _check_count(k: float, n: float, what: str) -> None:
    """Raise ``ValueError`` unless ``0 <= k <= n``."""
    if not 0.0 <= k <= n:
        raise ValueError(f"{what} must be between 0 and the total {n!r}, got {k!r}")


def wilson_interval(
    successes: int | float, n: int | float, z: float = Z95
) -> tuple[float, float] | None:
    """Wilson score interval of the proportion ``successes / n``; ``None`` when ``n == 0``.

    ``(p + z²/2n ± z·√(p(1 − p)/n + z²/4n²)) / (1 + z²/n)``, bounds clipped to [0, 1]
    (exactly 0 when there are no successes, exactly 1 when all are).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n!r}")
    if not z > 0.0:
        raise ValueError(f"z must be positive, got {z!r}")
    if n == 0:
        return None
    _check_count(successes, n, "successes")
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2.0 * n)
    half_width = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    scale = 1.0 + z2 / n
    low = 0.0 if successes == 0 else max(0.0, (centre - half_width) / scale)
    high = 1.0 if successes == n else min(1.0, (centre + half_width) / scale)
    return low, high


def mean_t_interval(
    n: int | float, mean: float, sample_sd: float, level: float = 0.95
) -> tuple[float, float] | None:
    """t-interval ``mean ± t(1 − α/2, n − 1)·s/√n`` of a mean; ``None`` when ``n < 2``.

    ``sample_sd`` is the sample standard deviation (denominator ``n − 1``).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not sample_sd >= 0.0:
        raise ValueError(f"sample_sd must be non-negative, got {sample_sd!r}")
    if n < 2:
        return None
    critical = -student_t_ppf(0.5 * (1.0 - level), n - 1.0)
    half_width = critical * sample_sd / math.sqrt(n)
    return mean - half_width, mean + half_width


def nps_adjusted_wald(
    promoters: int | float, detractors: int | float, n: int | float, z: float = Z95
) -> tuple[float, float] | None:
    """Adjusted-Wald interval of an NPS (Rocks 2016), as ``(centre, half_width)`` in
    proportion units; ``None`` when ``n < 2``.

    Add 3 to ``n`` and ¾ to promoters and to detractors, then take the Wald interval of the
    adjusted NPS: ``centre = p̃P − p̃D``, ``half_width = z·√((p̃P + p̃D − centre²)/ñ)``. Unlike
    the plain Wald interval it never has zero width, and it holds its coverage at small ``n``.
    The caller clips ``centre ± half_width`` to [−1, 1].
    """
    if not z > 0.0:
        raise ValueError(f"z must be positive, got {z!r}")
    if n < 2:
        return None
    _nps_moments(promoters, detractors, n)  # checks the counts
    n_adj = n + 3.0
    p_promoter = (promoters + 0.75) / n_adj
    p_detractor = (detractors + 0.75) / n_adj
    centre = p_promoter - p_detractor
    return centre, z * math.sqrt((p_promoter + p_detractor - centre * centre) / n_adj)


# --------------------------------------------------------------------------------------------
# Two-sided significance tests
# --------------------------------------------------------------------------------------------


def _two_sided_normal_p(z: float) -> float:
    """2·(1 − Φ(|z|)), accurate for large ``|z|``."""
    return math.erfc(abs(z) / _SQRT2)


def two_proportion_p_value(
    k1: int | float, n1: int | float, k2: int | float, n2: int | float
) -> float | None:
    """Two-sided pooled two-proportion z-test of ``k1/n1`` against ``k2/n2``.

    ``z = (p2 − p1) / √(p̂(1 − p̂)(1/n1 + 1/n2))`` with the pooled ``p̂ = (k1 + k2)/(n1 + n2)``.
    ``None`` when ``n1`` or ``n2`` is 0. When ``p̂`` is 0 or 1 the statistic is 0/0; both
    proportions are then necessarily equal (all failures or all successes), so the answer is
    1.0 — no evidence of a difference — rather than ``None``.
    """
    if n1 < 0 or n2 < 0:
        raise ValueError(f"totals must be non-negative, got n1={n1!r}, n2={n2!r}")
    if n1 == 0 or n2 == 0:
        return None
    _check_count(k1, n1, "k1")
    _check_count(k2, n2, "k2")
    p1 = k1 / n1
    p2 = k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return 1.0 if p1 == p2 else None
    return _two_sided_normal_p((p2 - p1) / math.sqrt(variance))


def welch_p_value(
    n1: int | float,
    mean1: float,
    var1: float,
    n2: int | float,
    mean2: float,
    var2: float,
) -> float | None:
    """Two-sided Welch t-test of two means from summary statistics.

    ``var1``/``var2`` are sample variances (denominator ``n − 1``); the degrees of freedom are
    Welch–Satterthwaite's. ``None`` when ``n1 < 2`` or ``n2 < 2``. When both variances are 0 the
    answer is 1.0 if the means are equal, else 0.0.
    """
    if not (var1 >= 0.0 and var2 >= 0.0):
        raise ValueError(f"variances must be non-negative, got {var1!r}, {var2!r}")
    if n1 < 2 or n2 < 2:
        return None
    a1 = var1 / n1
    a2 = var2 / n2
    se2 = a1 + a2
    if se2 == 0.0:
        return 1.0 if mean1 == mean2 else 0.0
    t = (mean1 - mean2) / math.sqrt(se2)
    w1 = a1 / se2
    w2 = a2 / se2
    df = 1.0 / (w1 * w1 / (n1 - 1.0) + w2 * w2 / (n2 - 1.0))
    return 2.0 * student_t_cdf(-abs(t), df)


def _nps_moments(promoters: float, detractors: float, n: float) -> tuple[float, float]:
    """NPS in proportion units and its sampling variance ``(pP + pD − (pP − pD)²)/N``."""
    if promoters < 0 or detractors < 0 or promoters + detractors > n:
        raise ValueError(
            f"need 0 <= promoters, detractors and promoters + detractors <= n, got "
            f"{promoters!r}, {detractors!r}, {n!r}"
        )
    p_promoter = promoters / n
    p_detractor = detractors / n
    nps = p_promoter - p_detractor
    return nps, max(0.0, p_promoter + p_detractor - nps * nps) / n


def nps_difference_p_value(
    p1: int | float,
    d1: int | float,
    n1: int | float,
    p2: int | float,
    d2: int | float,
    n2: int | float,
) -> float | None:
    """Two-sided z-test of the difference of two NPS (promoters, detractors, total per group).

    ``z = (nps2 − nps1)/√(v1 + v2)`` with ``nps = (P − D)/N`` and
    ``v = (pP + pD − (pP − pD)²)/N``. ``None`` when ``n1`` or ``n2`` is below 2. When
    ``v1 + v2 == 0`` the answer is 1.0 if the two NPS are equal, else 0.0.
    """
    if n1 < 2 or n2 < 2:
        return None
    nps1, v1 = _nps_moments(p1, d1, n1)
    nps2, v2 = _nps_moments(p2, d2, n2)
    variance = v1 + v2
    if variance == 0.0:
        return 1.0 if nps1 == nps2 else 0.0
    return _two_sided_normal_p((nps2 - nps1) / math.sqrt(variance))


def nps_welch_p_value(
    p1: int | float,
    d1: int | float,
    n1: int | float,
    p2: int | float,
    d2: int | float,
    n2: int | float,
) -> float | None:
    """Two-sided Welch t-test of two NPS on the scores +1 (promoter), 0, −1 (detractor).

    The score mean is ``(P − D)/N`` and its sample variance ``(P + D − N·mean²)/(N − 1)``.
    Unlike the z-test it holds its level at small ``N`` (docs/metrics.md). ``None`` when
    ``n1`` or ``n2`` is below 2 or both variances are 0 (the statistic is undefined).
    """
    if n1 < 2 or n2 < 2:
        return None
    _nps_moments(p1, d1, n1)
    _nps_moments(p2, d2, n2)
    mean1, mean2 = (p1 - d1) / n1, (p2 - d2) / n2
    var1 = max(0.0, (p1 + d1 - n1 * mean1 * mean1) / (n1 - 1.0))
    var2 = max(0.0, (p2 + d2 - n2 * mean2 * mean2) / (n2 - 1.0))
    if var1 + var2 == 0.0:
        return None
    return welch_p_value(n1, mean1, var1, n2, mean2, var2)


# --------------------------------------------------------------------------------------------
# Descriptive
# --------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    """Median (mean of the two middle values for an even count); ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    low, high = ordered[middle - 1], ordered[middle]
    return float(low) if low == high else (low + high) / 2.0


def kaplan_meier_median(times: Sequence[tuple[float, bool]]) -> float | None:
    """Median of a time to event from ``(time, observed)`` pairs, ``observed`` False for a
    right-censored time (the event had not happened by then); ``None`` when the estimate
    never falls to one half.

    Kaplan–Meier product limit ``S(t) = Π (1 − d_j/n_j)`` over the event times; at a tie,
    events come before censorings. The median is the smallest event time with
    ``S(t) <= 0.5``.
    """
    ordered = sorted(times, key=lambda item: (item[0], not item[1]))
    at_risk = len(ordered)
    survival = Fraction(1)  # exact: S(t) often lands on 1/2 itself
    i = 0
    while i < len(ordered):
        t = ordered[i][0]
        events = censored = 0
        while i < len(ordered) and ordered[i][0] == t:
            if ordered[i][1]:
                events += 1
            else:
                censored += 1
            i += 1
        if events:
            survival *= Fraction(at_risk - events, at_risk)
            if survival <= 0.5:
                return float(t)
        at_risk -= events + censored
    return None
