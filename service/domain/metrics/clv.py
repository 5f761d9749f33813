"""Customer lifetime value on one time base, with a delta-method interval (docs/metrics.md).

Revenue is reported to date, so its span is known only for customers who have churned:
from sign-up to churn. ARPC (revenue per customer per period) is read from those closed
lifetimes; the expected lifetime from the window's churn rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.domain.metrics import formulas, stats
from service.domain.metrics.formulas import MetricValue
from service.domain.model import MetricKind


@dataclass(frozen=True)
class Member:
    """One customer of S: revenue and tenure (periods) over a closed lifetime, else 0."""

    revenue: float
    tenure: float
    churned_in_window: bool


def clv(members: list[Member]) -> MetricValue:
    n = len(members)
    if n == 0:
        return formulas.empty(MetricKind.CLV)
    revenue = math.fsum(m.revenue for m in members)
    tenure = math.fsum(m.tenure for m in members)
    churned = sum(m.churned_in_window for m in members)
    value = None
    if churned and tenure > 0:
        value = (revenue / tenure) * (n / churned)
    low, high = _interval(members, revenue, tenure, churned) if value else (None, None)
    return MetricValue(
        kind=MetricKind.CLV, value=value, n=n, numerator=revenue, denominator=tenure,
        ci_low=low, ci_high=high,
        margin_of_error=(high - low) / 2 if low is not None and high is not None else None,
    )  # fmt: skip


def _interval(
    members: list[Member], revenue: float, tenure: float, churned: int
) -> tuple[float | None, float | None]:
    """exp(log CLV ± z·SE): CLV = r̄/(t̄·c̄) is a smooth function of three means, so by the
    delta method log CLV has the standard error sd(zᵢ)/√n with the influence
    zᵢ = rᵢ/r̄ − tᵢ/t̄ − cᵢ/c̄. On the log scale the interval stays positive."""
    n = len(members)
    if n < 2:
        return None, None
    r_bar, t_bar, c_bar = revenue / n, tenure / n, churned / n
    z = [m.revenue / r_bar - m.tenure / t_bar - m.churned_in_window / c_bar for m in members]
    mean = math.fsum(z) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in z) / (n - 1))
    centre = math.log(revenue / tenure * n / churned)
    half = stats.Z95 * sd / math.sqrt(n)
    return math.exp(centre - half), math.exp(centre + half)
