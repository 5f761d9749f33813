"""Which test a comparison runs per kind, and its two-sided p-value (docs/metrics.md)."""

from __future__ import annotations

from service.domain.metrics import stats
from service.domain.metrics.formulas import MetricValue
from service.domain.metrics.query import IncompatibleDirections, IncompatibleScales
from service.domain.model import MetricKind

# RETENTION_RATE_NET is not a proportion (its numerator can leave [0, S]): no test.
PROPORTIONS = frozenset({MetricKind.CSAT, MetricKind.CES_PERCENT_EASY, MetricKind.FCR,
                         MetricKind.RETENTION_RATE, MetricKind.CHURN_RATE})  # fmt: skip
MEANS = frozenset({MetricKind.CES, MetricKind.EMOTION, MetricKind.VALUE_FOR_EFFORT,
                   MetricKind.COMPONENT_SCORE, MetricKind.CSAT_SCORE_PERCENT,
                   MetricKind.NPS_MEAN_LIKELIHOOD})  # fmt: skip

# Kinds whose value is in the units of the answer scale: a 1–5 mean and a 1–7 mean are not
# the same quantity. NPS is always 0–10; COMPONENT_SCORE and the shares are on 0–100.
UNSCALED = frozenset({MetricKind.CES, MetricKind.EMOTION, MetricKind.VALUE_FOR_EFFORT,
                      MetricKind.CSAT_SCORE_PERCENT, MetricKind.NPS_MEAN_LIKELIHOOD})  # fmt: skip


def directions_differ(kind: MetricKind, a: MetricValue, b: MetricValue) -> bool:
    """Two CES means of opposite directions: a high mean is good on one and bad on the other
    (CES_PERCENT_EASY counts the easy points of each, so its shares compare)."""
    return (
        kind is MetricKind.CES
        and None not in (a.high_is_easy, b.high_is_easy)
        and (a.high_is_easy != b.high_is_easy)
    )


def check_comparable(kind: MetricKind, a: MetricValue, b: MetricValue) -> None:
    """Refuse to compare a kind in scale units across two scales (INCOMPATIBLE_SCALES), and
    CES means across directions (INCOMPATIBLE_DIRECTIONS)."""
    if directions_differ(kind, a, b):
        raise IncompatibleDirections(kind)
    if kind not in UNSCALED or a.scale_max is None or b.scale_max is None:
        return  # a side without answers has no scale
    assert a.scale_min is not None and b.scale_min is not None
    scale_a, scale_b = (a.scale_min, a.scale_max), (b.scale_min, b.scale_max)
    if scale_a != scale_b:
        raise IncompatibleScales(kind, [scale_a, scale_b])


def p_value(kind: MetricKind, a: MetricValue, b: MetricValue) -> float | None:
    """The fitting test's two-sided p-value; null where its statistic is 0/0 (docs)."""
    sa, sb = a.sample, b.sample
    if sa is None or sb is None or sa.n < 2 or sb.n < 2:
        return None
    if kind in PROPORTIONS:
        k1, k2 = sa.successes, sb.successes
        if k1 is None or k2 is None or not (0 <= k1 <= sa.n and 0 <= k2 <= sb.n):
            return None
        if (k1 + k2) in (0, sa.n + sb.n):  # pooled share 0 or 1
            return None
        return stats.two_proportion_p_value(k1, sa.n, k2, sb.n)
    if kind in MEANS:
        m1, v1, m2, v2 = sa.mean, sa.variance, sb.mean, sb.variance
        if m1 is None or v1 is None or m2 is None or v2 is None or v1 + v2 == 0:
            return None
        return stats.welch_p_value(sa.n, m1, v1, sb.n, m2, v2)
    if kind is MetricKind.NPS:
        p1, d1, p2, d2 = sa.promoters, sa.detractors, sb.promoters, sb.detractors
        if p1 is None or d1 is None or p2 is None or d2 is None:
            return None
        # Welch on the −1/0/+1 scores: the z-test's false-positive rate is 8–12% at n ≤ 10.
        return stats.nps_welch_p_value(p1, d1, sa.n, p2, d2, sb.n)
    return None
