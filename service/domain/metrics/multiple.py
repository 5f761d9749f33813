"""Many groups, one answer: each breakdown group against the rest, or each trend period
against the previous one, with the p-values adjusted across the tests (docs/metrics.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

from service.domain.metrics.formulas import MetricValue, Sample
from service.domain.metrics.significance import MEANS, PROPORTIONS, directions_differ, p_value
from service.domain.model import MetricKind

ALPHA = 0.05


class Against(Enum):
    VS_REST = "VS_REST"
    VS_PREVIOUS = "VS_PREVIOUS"


class Adjustment(Enum):
    HOLM = "HOLM"
    BENJAMINI_HOCHBERG = "BENJAMINI_HOCHBERG"


class Withheld(Enum):
    LOW_SAMPLE = "LOW_SAMPLE"  # the result (or the one it is tested against) is lowSample
    NO_TEST = "NO_TEST"  # the kind has no test (RESPONSE_COUNT, CLV, RETENTION_RATE_NET)
    UNDEFINED = "UNDEFINED"  # n < 2 on a side, or the statistic is 0/0
    NO_PREVIOUS = "NO_PREVIOUS"  # the first period of a trend
    INCOMPATIBLE_SCALES = "INCOMPATIBLE_SCALES"  # the groups' answers are on several scales
    # CES answers of both directions (high = easy, high = hard) in the total, or CES means of
    # opposite directions in two periods
    INCOMPATIBLE_DIRECTIONS = "INCOMPATIBLE_DIRECTIONS"


@dataclass(frozen=True)
class Outcome:
    """What a test needs of one result."""

    value: MetricValue
    low_sample: bool


@dataclass(frozen=True)
class GroupTest:
    against: Against
    adjustment: Adjustment
    p_value: float | None = None
    adjusted_p_value: float | None = None
    significant: bool | None = None
    withheld: Withheld | None = None


def testable(kind: MetricKind) -> bool:
    return kind in PROPORTIONS or kind in MEANS or kind is MetricKind.NPS


def _minus(total: Sample, group: Sample) -> Sample | None:
    """The rest of a total once a group is taken out: counts subtract; a mean and variance
    through the sums Σx and Σx²."""
    n = total.n - group.n
    if n <= 0:
        return None
    if total.successes is not None and group.successes is not None:
        return Sample(n=n, successes=total.successes - group.successes)
    if total.promoters is not None and group.promoters is not None:
        assert total.detractors is not None and group.detractors is not None
        return Sample(n=n, promoters=total.promoters - group.promoters,
                      detractors=total.detractors - group.detractors)  # fmt: skip
    if total.mean is None or group.mean is None:
        return None

    def sums(s: Sample, mean: float) -> tuple[float, float]:
        squares = (s.n - 1) * (s.variance or 0.0) + s.n * mean * mean
        return s.n * mean, squares

    (t_sum, t_sq), (g_sum, g_sq) = sums(total, total.mean), sums(group, group.mean)
    mean = (t_sum - g_sum) / n
    if n < 2:
        return Sample(n=n, mean=mean)
    variance = max(0.0, (t_sq - g_sq - n * mean * mean) / (n - 1))
    return Sample(n=n, mean=mean, variance=variance)


def vs_rest(
    kind: MetricKind,
    total: Outcome | None,
    groups: list[Outcome],
    adjustment: Adjustment,
    no_total: Withheld = Withheld.INCOMPATIBLE_SCALES,
) -> list[GroupTest]:
    """Each group against the total without it. ``total`` is None when the groups' answers
    do not share one scale (their total is INCOMPATIBLE_SCALES) or direction (``no_total``
    then says INCOMPATIBLE_DIRECTIONS)."""
    tests: list[tuple[float | None, Withheld | None]] = []
    for group in groups:
        if not testable(kind):
            tests.append((None, Withheld.NO_TEST))
        elif total is None:
            tests.append((None, no_total))
        elif group.low_sample:
            tests.append((None, Withheld.LOW_SAMPLE))
        else:
            g, t = group.value, total.value
            rest = _minus(t.sample, g.sample) if t.sample and g.sample else None
            # one total, one scale: the group and its rest share it
            p = p_value(kind, replace(t, sample=rest), g) if rest is not None else None
            tests.append((p, None if p is not None else Withheld.UNDEFINED))
    return _adjusted(Against.VS_REST, adjustment, tests)


def vs_previous(kind: MetricKind, points: list[Outcome], adjustment: Adjustment
                ) -> list[GroupTest]:  # fmt: skip
    """Each trend period against the one before it."""
    tests: list[tuple[float | None, Withheld | None]] = []
    for i, point in enumerate(points):
        if not testable(kind):
            tests.append((None, Withheld.NO_TEST))
        elif i == 0:
            tests.append((None, Withheld.NO_PREVIOUS))
        elif point.low_sample or points[i - 1].low_sample:
            tests.append((None, Withheld.LOW_SAMPLE))
        else:
            a, b = points[i - 1].value, point.value
            scales_differ = bool(a.n and b.n) and (a.scale_min, a.scale_max) != (
                b.scale_min, b.scale_max
            )  # fmt: skip
            turned = directions_differ(kind, a, b)
            p = None if scales_differ or turned else p_value(kind, a, b)
            reason = (Withheld.INCOMPATIBLE_SCALES if scales_differ
                      else Withheld.INCOMPATIBLE_DIRECTIONS if turned
                      else Withheld.UNDEFINED)  # fmt: skip
            tests.append((p, None if p is not None else reason))
    return _adjusted(Against.VS_PREVIOUS, adjustment, tests)


def _adjusted(
    against: Against, adjustment: Adjustment, tests: list[tuple[float | None, Withheld | None]]
) -> list[GroupTest]:
    ps = [p for p, _ in tests if p is not None]
    adjusted = iter(adjust(ps, adjustment))
    out = []
    for p, withheld in tests:
        if p is None:
            out.append(GroupTest(against, adjustment, withheld=withheld))
            continue
        q = next(adjusted)
        out.append(GroupTest(against, adjustment, p, q, q < ALPHA))
    return out


def adjust(ps: list[float], method: Adjustment) -> list[float]:
    """Holm's step-down (family-wise error) or Benjamini–Hochberg's step-up (false discovery
    rate) adjusted p-values, in the order given."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [math.nan] * m
    if method is Adjustment.HOLM:
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * ps[i]))
            out[i] = running
        return out
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m * ps[i] / (rank + 1))
        out[i] = running
    return out
