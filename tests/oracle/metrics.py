"""The CX metrics of docs/metrics.md, computed with pandas and scipy from the raw records.

Every public function takes a `Dataset` and returns plain Python values. Windows are pairs of
timezone-aware datetimes, half-open `[from, to)`. A result is a dict with the keys of
`RESULT_KEYS`. Where docs/metrics.md leaves room for more than one reading, the most literal
one is taken and the spot is marked `CHOICE:`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy import stats

from tests.oracle import calendars
from tests.oracle.dataset import Dataset

Window = tuple[datetime, datetime]
Result = dict[str, Any]

RESULT_KEYS = (
    "value",
    "n",
    "numerator",
    "denominator",
    "scaleMin",
    "scaleMax",
    "low",
    "high",
    "marginOfError",
    "lowSample",
    "distribution",
    "highIsEasy",
)

# kind -> the answer `metric` it reads
ANSWER_METRIC = {
    "NPS": "NPS",
    "NPS_MEAN_LIKELIHOOD": "NPS",
    "CSAT": "CSAT",
    "CSAT_SCORE_PERCENT": "CSAT",
    "CES": "CES",
    "CES_PERCENT_EASY": "CES",
    "EMOTION": "EMOTION",
    "VALUE_FOR_EFFORT": "VALUE_FOR_EFFORT",
    "COMPONENT_SCORE": "COMPONENT",
}
MEAN_KINDS = frozenset(
    {
        "NPS_MEAN_LIKELIHOOD",
        "CSAT_SCORE_PERCENT",
        "CES",
        "EMOTION",
        "VALUE_FOR_EFFORT",
        "COMPONENT_SCORE",
    }
)
TOP_TWO_KINDS = frozenset({"CSAT", "CES_PERCENT_EASY"})
# kinds whose value is in the units of the answer scale
SCALE_UNIT_KINDS = frozenset(
    {"CES", "EMOTION", "VALUE_FOR_EFFORT", "CSAT_SCORE_PERCENT", "NPS_MEAN_LIKELIHOOD"}
)
CUSTOMER_KINDS = frozenset({"RETENTION_RATE", "RETENTION_RATE_NET", "CHURN_RATE", "CLV"})
PROPORTION_TEST_KINDS = frozenset(
    {"CSAT", "CES_PERCENT_EASY", "FCR", "RETENTION_RATE", "CHURN_RATE"}
)
KINDS = frozenset(ANSWER_METRIC) | CUSTOMER_KINDS | {"FCR", "RESPONSE_COUNT"}

FILTER_KEYS = ("segments", "journeys", "stages", "channels", "components", "questions")
# the answer filters: they select answers within a response
ANSWER_FILTER_COLUMNS = {"components": "component", "questions": "question"}
DIMENSIONS = ("SEGMENT", "JOURNEY", "STAGE", "CHANNEL", "COMPONENT")
# dimension -> the unit frames' column holding its value
DIMENSION_COLUMN = {
    "SEGMENT": "segments",
    "JOURNEY": "journey",
    "STAGE": "stage",
    "CHANNEL": "channel",
    "COMPONENT": "component",
}

Z95 = float(stats.norm.ppf(0.975))
MAX_WINDOW = timedelta(days=400)  # CX_MAX_WINDOW_DAYS default
RECONTACT_DAYS = 7  # CX_FCR_RECONTACT_DAYS default


class IncompatibleScales(Exception):
    """Answers of more than one scale met in one result (INCOMPATIBLE_SCALES)."""

    def __init__(self, scales: Sequence[tuple[int, int]]) -> None:
        self.scales = sorted(scales)
        super().__init__(f"incompatible scales: {self.scales}")


class IncompatibleDirections(Exception):
    """CES answers where a high value means easy and answers where it means hard met in one
    result (INCOMPATIBLE_DIRECTIONS)."""


class ScaleTooShort(Exception):
    """A top-2-box share asked of answers on a scale of fewer than 4 points (SCALE_TOO_SHORT)."""


class BadUserInput(Exception):
    """A filter or dimension that does not apply to the kind (BAD_USER_INPUT)."""


# --------------------------------------------------------------------------- inputs


def _window(window: Window) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, end = window
    for bound in (start, end):
        if bound.tzinfo is None or bound.utcoffset() is None:
            raise ValueError(f"a window bound needs a UTC offset: {bound!r}")
    # in UTC: aware datetimes of one tzinfo compare and subtract as wall clocks in Python
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if not start < end:
        raise BadUserInput("the window is empty")
    if end - start > MAX_WINDOW:
        raise BadUserInput("the window is longer than 400 days")
    return pd.Timestamp(start), pd.Timestamp(end)


def _filter(flt: Mapping[str, Any] | None) -> dict[str, frozenset[Any] | None]:
    flt = dict(flt or {})
    unknown = set(flt) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown filter keys: {sorted(unknown)}")
    # CHOICE: a filter list that is absent or None does not filter; an EMPTY list is a list
    # matched as "any of" nothing, so it matches nothing.
    return {k: None if flt.get(k) is None else frozenset(flt[k]) for k in FILTER_KEYS}


def _in_window(times: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    return (times >= start) & (times < end)


def _any_of(values: pd.Series, allowed: frozenset[Any] | None) -> pd.Series:
    if allowed is None:
        return pd.Series(True, index=values.index, dtype=bool)
    # a missing value (None) never matches a filter list
    return values.map(lambda v: v is not None and v in allowed).astype(bool)


def _segments_match(values: pd.Series, allowed: frozenset[Any] | None) -> pd.Series:
    if allowed is None:
        return pd.Series(True, index=values.index, dtype=bool)
    return values.map(lambda segs: not allowed.isdisjoint(segs)).astype(bool)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")


# --------------------------------------------------------------------------- the units


def _answers(
    ds: Dataset,
    kind: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    flt: dict[str, Any],
    per_component: bool = False,
) -> pd.DataFrame:
    """The respondents a survey kind reads: one row per response (per response and component
    with `per_component`, for a COMPONENT breakdown) whose `value` is the mean of the
    response's answers of the kind's metric that the filter selects.

    CHOICE: the answers averaged also share a scale and a direction (`highIsEasy`): a
    response answering on two scales gives one row per scale (and the result then fails
    with IncompatibleScales anyway)."""
    a = ds.answers
    mask = (
        (a["metric"] == ANSWER_METRIC[kind])
        & _in_window(a["submittedAt"], start, end)
        & _segments_match(a["segments"], flt["segments"])
        & _any_of(a["journey"], flt["journeys"])
        & _any_of(a["stage"], flt["stages"])
        & _any_of(a["channel"], flt["channels"])
        & _any_of(a["component"], flt["components"])
        & _any_of(a["question"], flt["questions"])
    )
    selected = a.loc[mask]
    keys = ["response", "scaleMin", "scaleMax", "highIsEasy"]
    if per_component:
        keys.append("component")
    # one row per unit: its first answer's row (the response's own fields are the same on
    # each of its answers) with the mean value of the unit's answers
    means = selected.groupby(keys, sort=False, dropna=False)["value"].transform("mean")
    units = selected.assign(value=means).drop_duplicates(subset=keys, keep="first")
    if not per_component:
        units = units.assign(component=None)  # not a dimension of a whole response
    return units.reset_index(drop=True)


def _responses(
    ds: Dataset, start: pd.Timestamp, end: pd.Timestamp, flt: dict[str, Any]
) -> pd.DataFrame:
    """The responses RESPONSE_COUNT counts, each with the components it is grouped by."""
    r = ds.responses
    mask = (
        _in_window(r["submittedAt"], start, end)
        & _segments_match(r["segments"], flt["segments"])
        & _any_of(r["journey"], flt["journeys"])
        & _any_of(r["stage"], flt["stages"])
        & _any_of(r["channel"], flt["channels"])
    )
    r = r.loc[mask].copy()
    allowed = flt["components"]
    if flt["questions"] is not None:
        # CHOICE: with a questions filter a response counts when one of its answers is to one
        # of those questions (and of one of the components asked for, if any); it is grouped
        # by the components of its answers to those questions (null when they have none).
        a = ds.answers
        asked = a.loc[_any_of(a["question"], flt["questions"])]
        components: dict[Any, set[Any]] = {}
        for response, component in zip(asked["response"], asked["component"], strict=True):
            components.setdefault(response, set()).add(component)
        own = r["key"].map(lambda key: components.get(key))
        r = r.loc[own.map(lambda comps: comps is not None).astype(bool)].copy()
        r["components"] = own.loc[r.index].map(frozenset)
    if allowed is None:
        # A response whose answers carry no component (or that has no answers) falls in the
        # null COMPONENT group.
        r["component"] = r["components"].map(
            lambda comps: sorted(c for c in comps if c is not None) or [None]
        )
        return r
    # CHOICE: the `components` filter narrows the response's answers to those components: a
    # response counts when at least one answer has one of them, and in a COMPONENT breakdown
    # it is grouped by those matching components only (not by its other answers' components).
    r["component"] = r["components"].map(
        lambda comps: sorted((c for c in comps if c is not None and c in allowed), key=_sort_key)
    )
    return r.loc[r["component"].map(bool).astype(bool)]


def _cases(
    ds: Dataset,
    start: pd.Timestamp,
    end: pd.Timestamp,
    flt: dict[str, Any],
    recontact_days: int = RECONTACT_DAYS,
) -> pd.DataFrame:
    """The support cases FCR reads: one row per case whose first contact (all time) is in
    the window, carrying that contact's dimensions and whether the case was resolved at first
    contact (that contact resolved, and no other contact within `recontact_days` of it)."""
    if flt["questions"] is not None:
        raise BadUserInput("the questions filter selects survey answers: not for FCR")
    t = ds.touchpoints
    # CHOICE: a case is identified by its caseId alone (not per source or per customer); only
    # a missing (None) caseId means "no case".
    t = t.loc[t["caseId"].map(lambda c: c is not None).astype(bool)]
    # CHOICE: contacts at the same instant are ordered as they were sent; the first of them
    # is the case's first contact (and the others are re-contacts, 0 s after it).
    t = t.sort_values(["occurredAt", "order"], kind="stable")
    columns = ["caseId", "customer", "segments", "journey", "stage", "channel", "component"]
    first = t.drop_duplicates("caseId", keep="first")[[*columns, "resolved", "occurredAt"]]
    first = first.set_index("caseId", drop=False)
    # the second contact of each case, if any: the earliest re-contact
    second = t.loc[t.duplicated("caseId", keep="first")].drop_duplicates("caseId")
    second_at = second.set_index("caseId")["occurredAt"].reindex(first.index)
    recontacted = second_at.notna() & (
        second_at - first["occurredAt"] < pd.Timedelta(days=recontact_days)
    )
    cases = first.assign(
        resolvedAtFirstContact=first["resolved"].map(lambda v: v is True).astype(bool)
        & ~recontacted.astype(bool)
    )
    mask = (
        _in_window(cases["occurredAt"], start, end)
        & _segments_match(cases["segments"], flt["segments"])
        & _any_of(cases["journey"], flt["journeys"])
        & _any_of(cases["stage"], flt["stages"])
        & _any_of(cases["channel"], flt["channels"])
        & _any_of(cases["component"], flt["components"])
    )
    return cases.loc[mask].reset_index(drop=True)


def _customers(ds: Dataset, flt: dict[str, Any]) -> pd.DataFrame:
    """The (non-stub) customers, filtered by their current segments."""
    for key in ("journeys", "stages", "channels", "components", "questions"):
        if flt[key] is not None:
            # CHOICE: any list given for another filter (even an empty one) is an error.
            raise BadUserInput(f"the filter {key!r} does not apply to customer metrics")
    c = ds.customers
    return c.loc[_segments_match(c["segments"], flt["segments"])]


# --------------------------------------------------------------------------- results


def _result(**fields: Any) -> Result:
    result: Result = dict.fromkeys(RESULT_KEYS)
    result.update(fields)
    return result


def _t_interval(samples: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(low, high, half-width) of the t-interval of the mean; null with fewer than 2."""
    n = len(samples)
    if n < 2:
        return None, None, None
    mean = float(samples.mean())
    s = float(samples.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * s / math.sqrt(n)
    return mean - half, mean + half, half


def _wilson(k: int, n: int) -> tuple[float | None, float | None, float | None]:
    """(low, high, half-width) of the Wilson score interval × 100; null when n = 0."""
    if n == 0:
        return None, None, None
    z = Z95
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return 100 * (centre - half), 100 * (centre + half), 100 * half


def _scale(answers: pd.DataFrame) -> tuple[int | None, int | None]:
    # CHOICE: "scales are never pooled" holds for COMPONENT_SCORE too, although its values are
    # normalized to 0–100 before averaging; and it holds per MetricResult: per breakdown group,
    # per trend period, per compare side.
    scales = sorted(
        {
            (int(lo), int(hi))
            for lo, hi in zip(answers["scaleMin"], answers["scaleMax"], strict=True)
        }
    )
    if len(scales) > 1:
        raise IncompatibleScales(scales)
    return scales[0] if scales else (None, None)


def _samples(kind: str, answers: pd.DataFrame, lo: int | None, hi: int | None) -> np.ndarray:
    """The answers of a mean kind in the units of its value (the numbers averaged)."""
    x = answers["value"].to_numpy(dtype=float)
    if kind == "NPS_MEAN_LIKELIHOOD":
        return x * 100
    if kind == "CSAT_SCORE_PERCENT":
        assert hi is not None or len(x) == 0
        return x * 100 / hi if len(x) else x
    if kind == "COMPONENT_SCORE":
        if not len(x):
            return x
        assert lo is not None and hi is not None
        return 100 * (x - lo) / (hi - lo)
    return x


def _direction(answers: pd.DataFrame) -> bool | None:
    """Whether a high value means easy in every answer read; None with no answers."""
    directions = {bool(e) for e in answers["highIsEasy"]}
    if len(directions) > 1:
        raise IncompatibleDirections("CES answers of both directions")
    return directions.pop() if directions else None


CES_KINDS = frozenset({"CES", "CES_PERCENT_EASY"})


def _survey_result(kind: str, answers: pd.DataFrame, min_sample: int) -> Result:
    lo, hi = _scale(answers)
    # CHOICE: directions are checked after scales (two scales fail as INCOMPATIBLE_SCALES)
    high_is_easy = _direction(answers)
    x = answers["value"].to_numpy(dtype=float)
    n = len(x)
    common = {"n": n, "scaleMin": lo, "scaleMax": hi, "lowSample": n < min_sample}
    if kind in CES_KINDS:
        common["highIsEasy"] = high_is_easy
    if kind == "NPS":
        promoters = int(((x >= 9) & (x <= 10)).sum())
        detractors = int(((x >= 0) & (x <= 6)).sum())
        # CHOICE: "promoters = answers 9–10, detractors = answers 0–6" read as the closed
        # ranges 9 ≤ x ≤ 10 and 0 ≤ x ≤ 6; every other answer (7, 8, also 6.5 or 8.5) is a
        # passive. With n = 0 the distribution is all zeros.
        distribution = {
            "promoters": promoters,
            "passives": n - promoters - detractors,
            "detractors": detractors,
        }
        if n == 0:
            return _result(numerator=0, denominator=0, distribution=distribution, **common)
        low = high = moe = None
        if n >= 2:
            # Adjusted Wald (Rocks 2016): n + 3 answers, promoters and detractors + 3/4 each;
            # the Wald interval of that adjusted NPS, clipped to [−100, 100].
            n_adj = n + 3
            q_p, q_d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
            centre = q_p - q_d
            moe = 100 * Z95 * math.sqrt((q_p + q_d - centre**2) / n_adj)
            low, high = max(100 * centre - moe, -100.0), min(100 * centre + moe, 100.0)
        return _result(
            value=100 * (promoters - detractors) / n,
            numerator=promoters - detractors,
            denominator=n,
            low=low,
            high=high,
            marginOfError=moe,
            distribution=distribution,
            **common,
        )
    if kind in TOP_TWO_KINDS:
        # "top two" of a 1–2 scale is every answer, of 1–3 two thirds of it: refused.
        if n and hi - lo + 1 < 4:
            raise ScaleTooShort(f"{kind} on {lo}-{hi}")
        # The two "easy" points of CES on an effort scale (highIsEasy false) are the bottom
        # two, x ≤ lo + 1; otherwise the top two, x ≥ hi − 1.
        if kind == "CES_PERCENT_EASY" and high_is_easy is False:
            k = int((x <= lo + 1).sum()) if n else 0
        else:
            k = int((x >= hi - 1).sum()) if n else 0
        low, high, half = _wilson(k, n)
        return _result(
            value=100 * k / n if n else None,
            numerator=k,
            denominator=n,
            low=low,
            high=high,
            marginOfError=half,
            **common,
        )
    assert kind in MEAN_KINDS
    samples = _samples(kind, answers, lo, hi)
    low, high, half = _t_interval(samples)
    # Σx, except for COMPONENT_SCORE: Σ 100·(x − lo)/(hi − lo)
    numerator = float(samples.sum()) if kind == "COMPONENT_SCORE" else float(x.sum())
    # CHOICE: with n = 0 the numerator and denominator are the empty sums, 0 (value null).
    denominator: float | int = n * hi if kind == "CSAT_SCORE_PERCENT" and n else n
    if low is not None and high is not None:
        # Every interval is clipped to the range the value can take: the scale for plain
        # means, 100·scale for NPS_MEAN_LIKELIHOOD, [100·lo/hi, 100] for CSAT_SCORE_PERCENT,
        # [0, 100] for COMPONENT_SCORE; the margin of error stays the unclipped half-width.
        assert lo is not None and hi is not None
        floor, ceiling = {
            "NPS_MEAN_LIKELIHOOD": (100 * lo, 100 * hi),
            "CSAT_SCORE_PERCENT": (100 * lo / hi, 100),
            "COMPONENT_SCORE": (0, 100),
        }.get(kind, (lo, hi))
        low, high = float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling))
    return _result(
        value=float(samples.mean()) if n else None,
        numerator=numerator,
        denominator=denominator,
        low=low,
        high=high,
        marginOfError=half,
        **common,
    )


def _response_count_result(responses: pd.DataFrame, min_sample: int) -> Result:
    n = len(responses)
    # CHOICE: the general rule "value is null when n = 0" holds for RESPONSE_COUNT too.
    # RESPONSE_COUNT reads no answer values, so it has no scale (null scaleMin/scaleMax) and
    # never fails with INCOMPATIBLE_SCALES.
    return _result(value=n if n else None, n=n, numerator=n, lowSample=n < min_sample)


def _fcr_result(cases: pd.DataFrame, min_sample: int) -> Result:
    n = len(cases)
    k = int(cases["resolvedAtFirstContact"].sum())
    low, high, half = _wilson(k, n)
    return _result(
        value=100 * k / n if n else None,
        n=n,
        numerator=k,
        denominator=n,
        low=low,
        high=high,
        marginOfError=half,
        lowSample=n < min_sample,
    )


def _customer_counts(
    customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> dict[str, pd.Series]:
    signed, churned = customers["signedUpAt"], customers["churnedAt"]
    # A customer without signedUpAt counts as signed up before any window.
    signed_before_from = signed.isna() | (signed < start)
    signed_before_to = signed.isna() | (signed < end)
    churned_before_from = churned.notna() & (churned < start)
    churned_before_to = churned.notna() & (churned < end)
    active_start = signed_before_from & ~churned_before_from
    return {
        "S": active_start,
        "E": signed_before_to & ~churned_before_to,
        "Nw": signed.notna() & (signed >= start) & (signed < end),
        "C": active_start & churned.notna() & (churned >= start) & (churned < end),
    }


def _customer_result(
    kind: str, customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, min_sample: int
) -> Result:
    sets = _customer_counts(customers, start, end)
    s, e, nw, c = (int(sets[name].sum()) for name in ("S", "E", "Nw", "C"))
    common = {"n": s, "lowSample": s < min_sample}
    if kind == "RETENTION_RATE":
        # cohort retention: the customers of S still active at the end (S minus C)
        still = int((sets["S"] & ~sets["C"]).sum())
        low, high, half = _wilson(still, s)
        return _result(
            value=100 * still / s if s else None,
            numerator=still,
            denominator=s,
            low=low,
            high=high,
            marginOfError=half,
            **common,
        )
    if kind == "RETENTION_RATE_NET":
        # the textbook (E − Nw)/S: not a share of S, so no interval (and no test)
        return _result(
            value=100 * (e - nw) / s if s else None, numerator=e - nw, denominator=s, **common
        )
    if kind == "CHURN_RATE":
        low, high, half = _wilson(c, s)
        return _result(
            value=100 * c / s if s else None,
            numerator=c,
            denominator=s,
            low=low,
            high=high,
            marginOfError=half,
            **common,
        )
    assert kind == "CLV"
    # One time base: revenue is reported to date, so it covers a known span only for the
    # customers who have churned (whenever): from signedUpAt to churnedAt. ARPC is read from
    # those closed lifetimes of S; the expected lifetime is S/C periods of the window.
    members = customers.loc[sets["S"]]
    closed = members["signedUpAt"].notna() & members["churnedAt"].notna()
    period = end - start
    # CHOICE: a closed lifetime without revenue counts with revenue 0.
    r = np.where(closed, members["revenue"].fillna(0.0).astype(float), 0.0)
    lifetime = (members["churnedAt"] - members["signedUpAt"]) / period
    t = np.where(closed, lifetime.fillna(0.0).astype(float), 0.0)
    churned = sets["C"].loc[members.index].to_numpy(dtype=float)
    revenue, tenure = float(r.sum()), float(t.sum())
    value = low = high = half = None
    if s and c and tenure > 0:
        value = (revenue / tenure) * (s / c)
    if value and s >= 2:
        # delta method for log(r̄ / (t̄ · c̄)): influence r/r̄ − t/t̄ − c/c̄
        influence = r / r.mean() - t / t.mean() - churned / churned.mean()
        se = float(influence.std(ddof=1)) / math.sqrt(s)
        low, high = math.exp(math.log(value) - Z95 * se), math.exp(math.log(value) + Z95 * se)
        half = (high - low) / 2
    return _result(
        value=value,
        numerator=revenue,
        denominator=tenure,
        low=low,
        high=high,
        marginOfError=half,
        **common,
    )


# --------------------------------------------------------------------------- metric


def _units(
    ds: Dataset,
    kind: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    flt: dict[str, Any],
    per_component: bool = False,
) -> pd.DataFrame:
    if kind in ANSWER_METRIC:
        return _answers(ds, kind, start, end, flt, per_component)
    if kind == "RESPONSE_COUNT":
        return _responses(ds, start, end, flt)
    if kind == "FCR":
        return _cases(ds, start, end, flt)
    return _customers(ds, flt)


def _evaluate(
    kind: str, units: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, min_sample: int
) -> Result:
    if kind in ANSWER_METRIC:
        return _survey_result(kind, units, min_sample)
    if kind == "RESPONSE_COUNT":
        return _response_count_result(units, min_sample)
    if kind == "FCR":
        return _fcr_result(units, min_sample)
    return _customer_result(kind, units, start, end, min_sample)


def metric(
    ds: Dataset,
    kind: str,
    window: Window,
    filter: Mapping[str, Any] | None = None,  # the GraphQL argument's name
    min_sample: int = 30,
) -> Result:
    """One MetricResult (without definition, level, computedAt, dataVersion)."""
    _check_kind(kind)
    start, end = _window(window)
    flt = _filter(filter)
    return _evaluate(kind, _units(ds, kind, start, end, flt), start, end, min_sample)


# --------------------------------------------------------------------------- breakdown


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def _group_values(kind: str, dimension: str, value: Any) -> list[Any]:
    """The groups one unit falls in along one dimension."""
    if dimension == "SEGMENT":
        # a unit in two segments counts in each; one in none, in the null group
        return list(value) if value else [None]
    if dimension == "COMPONENT" and kind == "RESPONSE_COUNT":
        return list(value)  # already the list of the response's (matching) components
    return [value]


def breakdown(
    ds: Dataset,
    kind: str,
    by: Sequence[str],
    window: Window,
    filter: Mapping[str, Any] | None = None,
    min_sample: int = 30,
) -> dict[tuple[Any, ...], Result]:
    """Results per group, keyed by the tuple of the group's values in `by` order."""
    _check_kind(kind)
    by = list(by)
    if not 1 <= len(by) <= 2 or len(set(by)) != len(by):
        raise BadUserInput("break down by one or two distinct dimensions")
    for dimension in by:
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        if kind in CUSTOMER_KINDS and dimension != "SEGMENT":
            raise BadUserInput(f"{kind} breaks down by SEGMENT only")
    start, end = _window(window)
    flt = _filter(filter)
    units = _units(ds, kind, start, end, flt, "COMPONENT" in by)
    if kind in CUSTOMER_KINDS:
        # CHOICE: a customer group "has data in the window" when at least one of its customers
        # is active at some instant of the window (in S, or signed up in the window).
        sets = _customer_counts(units, start, end)
        with_data = sets["S"] | sets["Nw"]
    else:
        with_data = pd.Series(True, index=units.index, dtype=bool)

    # CHOICE: the filter selects units and the breakdown then groups them by all their values:
    # with `segments: ["a"]` and `by: [SEGMENT]`, a response in segments a and b (it matches)
    # counts in group "a" and in group "b".
    positions: dict[tuple[Any, ...], list[int]] = {}
    columns = [units[DIMENSION_COLUMN[d]].tolist() for d in by]
    for position, values in enumerate(zip(*columns, strict=True)):
        per_dimension = [_group_values(kind, d, v) for d, v in zip(by, values, strict=True)]
        for key in itertools.product(*per_dimension):
            positions.setdefault(key, []).append(position)

    results: dict[tuple[Any, ...], Result] = {}
    for key in sorted(positions, key=lambda k: tuple(_sort_key(v) for v in k)):
        group = units.iloc[positions[key]]
        if not with_data.iloc[positions[key]].any():
            continue
        results[key] = _evaluate(kind, group, start, end, min_sample)
    return results


# --------------------------------------------------------------------------- trend


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a calendar day in `zone` (local midnight, or the end of a DST
    gap that swallows midnight), as an aware datetime in `zone`."""
    wall = datetime.combine(day, time(0), tzinfo=zone)  # fold=0: before any transition
    return wall.astimezone(UTC).astimezone(zone)


def _period_first_day(day: date, granularity: str, calendar: str, week_start: str) -> date:
    if granularity == "DAY":
        return day
    if granularity == "WEEK":
        return calendars.week_first_day(day, week_start)  # ISO weeks: MONDAY
    if granularity == "MONTH":
        return calendars.month_first_day(day, calendar)
    raise ValueError(f"unknown granularity {granularity!r}")


def _next_first_day(day: date, granularity: str, calendar: str) -> date:
    if granularity == "DAY":
        return day + timedelta(days=1)
    if granularity == "WEEK":
        return day + timedelta(days=7)
    return calendars.next_month_first_day(day, calendar)


def period_table(
    granularity: str,
    window: Window,
    timezone: str,
    calendar: str = "GREGORIAN",
    week_start: str = "MONDAY",
) -> list[dict[str, Any]]:
    """Each calendar period of `timezone` that meets the window: `start` and `end` (the
    period's own bounds in `timezone`, even when the window cuts it), `label` (its name in
    `calendar`), and the cut `[cutStart, cutEnd)` in UTC."""
    _window(window)
    # Aware datetimes sharing one tzinfo compare and subtract as wall clocks in Python, so
    # every comparison here is made in UTC.
    start, end = (bound.astimezone(UTC) for bound in window)
    zone = ZoneInfo(timezone)
    day = _period_first_day(start.astimezone(zone).date(), granularity, calendar, week_start)
    out: list[dict[str, Any]] = []
    while True:
        period_start = _local_start(day, zone)
        if period_start.astimezone(UTC) >= end:
            break
        following = _next_first_day(day, granularity, calendar)
        period_end = _local_start(following, zone)
        out.append({"start": period_start, "end": period_end,
                    "label": calendars.label(day, granularity, calendar),
                    "cutStart": max(period_start.astimezone(UTC), start),
                    "cutEnd": min(period_end.astimezone(UTC), end)})  # fmt: skip
        day = following
    return out


def periods(
    granularity: str,
    window: Window,
    timezone: str,
    calendar: str = "GREGORIAN",
    week_start: str = "MONDAY",
) -> list[tuple[datetime, datetime, datetime]]:
    """(periodStart, cut start, cut end) of each calendar period of `timezone` that meets the
    window; periodStart is the period's calendar start in `timezone` even when the window cuts
    it; the cut bounds are in UTC."""
    return [(p["start"], p["cutStart"], p["cutEnd"])
            for p in period_table(granularity, window, timezone, calendar, week_start)]  # fmt: skip


def trend(
    ds: Dataset,
    kind: str,
    granularity: str,
    window: Window,
    timezone: str,
    filter: Mapping[str, Any] | None = None,
    min_sample: int = 30,
    calendar: str = "GREGORIAN",
    week_start: str = "MONDAY",
) -> list[tuple[datetime, Result]]:
    """(periodStart, result over [max(periodStart, from), min(periodEnd, to))) per period."""
    _check_kind(kind)
    return [
        (period_start, metric(ds, kind, (cut_start, cut_end), filter, min_sample))
        for period_start, cut_start, cut_end in periods(
            granularity, window, timezone, calendar, week_start
        )
    ]


# --------------------------------------------------------------------------- compare


def _side(
    ds: Dataset, kind: str, side: Mapping[str, Any], min_sample: int
) -> tuple[Result, pd.DataFrame]:
    _check_kind(kind)
    start, end = _window(side["window"])
    flt = _filter(side.get("filter"))
    units = _units(ds, kind, start, end, flt)
    return _evaluate(kind, units, start, end, min_sample), units


def _two_sided(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def _pooled_z(k1: int, n1: int, k2: int, n2: int) -> float | None:
    # CHOICE: a count outside [0, n] (retention's E − Nw can be) has no test: null p-value.
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    # CHOICE: with both shares 0 % or both 100 % the test statistic is 0/0: null p-value.
    if se == 0:
        return None
    return _two_sided((k2 / n2 - k1 / n1) / se)


def _welch(a: np.ndarray, b: np.ndarray) -> float | None:
    sa, sb = float(a.std(ddof=1)), float(b.std(ddof=1))
    # CHOICE: with no variance on either side the t statistic is undefined: null p-value.
    if sa == 0 and sb == 0:
        return None
    result = stats.ttest_ind_from_stats(
        float(a.mean()), sa, len(a), float(b.mean()), sb, len(b), equal_var=False
    )
    return float(result.pvalue)


def _nps_scores(units: pd.DataFrame) -> np.ndarray:
    x = units["value"].to_numpy(dtype=float)
    return np.where(x >= 9, 1.0, np.where(x <= 6, -1.0, 0.0))


def _nps_welch(a: pd.DataFrame, b: pd.DataFrame) -> float | None:
    # Welch's t-test on the promoter +1 / passive 0 / detractor −1 scores of each answer.
    return _welch(_nps_scores(a), _nps_scores(b))


def _p_value(
    kind: str, result_a: Result, units_a: pd.DataFrame, result_b: Result, units_b: pd.DataFrame
) -> float | None:
    """The two-sided p-value of the kind's test between two results and their units."""
    p_value = None
    if result_a["n"] >= 2 and result_b["n"] >= 2:
        if kind in PROPORTION_TEST_KINDS:
            p_value = _pooled_z(
                result_a["numerator"],
                result_a["denominator"],
                result_b["numerator"],
                result_b["denominator"],
            )
        elif kind in MEAN_KINDS:
            p_value = _welch(
                _samples(kind, units_a, result_a["scaleMin"], result_a["scaleMax"]),
                _samples(kind, units_b, result_b["scaleMin"], result_b["scaleMax"]),
            )
        elif kind == "NPS":
            p_value = _nps_welch(units_a, units_b)
        # RESPONSE_COUNT, CLV: no test
    return p_value


def compare(
    ds: Dataset,
    kind: str,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    min_sample: int = 30,
) -> dict[str, Any]:
    """Both results, b.value − a.value and the two-sided p-value of the kind's test.

    Scales are checked per side (each side is one result). Two sides on different scales
    are compared only for kinds whose values do not depend on the scale's units: the shares
    and COMPONENT_SCORE (0–100). Means in scale units fail with IncompatibleScales.
    """
    result_a, units_a = _side(ds, kind, a, min_sample)
    result_b, units_b = _side(ds, kind, b, min_sample)
    # CHOICE: a CES mean where high is easy and one where high is hard are not compared
    # (CES_PERCENT_EASY counts each side's easy points, so its shares are).
    directions = {r["highIsEasy"] for r in (result_a, result_b) if r["n"]}
    if kind == "CES" and len(directions) > 1:
        raise IncompatibleDirections("CES means of opposite directions")
    scales = {(r["scaleMin"], r["scaleMax"]) for r in (result_a, result_b) if r["n"]}
    if kind in SCALE_UNIT_KINDS and len(scales) > 1:
        raise IncompatibleScales(sorted(scales))
    difference = None
    if result_a["value"] is not None and result_b["value"] is not None:
        difference = result_b["value"] - result_a["value"]
    p_value = _p_value(kind, result_a, units_a, result_b, units_b)
    # CHOICE: without a p-value, `significant` is null too.
    significant = None if p_value is None else p_value < 0.05
    return {
        "a": result_a,
        "b": result_b,
        "difference": difference,
        "pValue": p_value,
        "significant": significant,
    }


# --------------------------------------------------------------------------- many groups

TESTED_KINDS = PROPORTION_TEST_KINDS | MEAN_KINDS | {"NPS"}


def _adjust(ps: list[float], adjustment: str) -> list[float]:
    if not ps:
        return []
    p = np.asarray(ps, dtype=float)
    if adjustment == "BENJAMINI_HOCHBERG":
        return [float(x) for x in stats.false_discovery_control(p, method="bh")]
    assert adjustment == "HOLM"
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return [float(x) for x in out]


def _finish(tests: list[tuple[float | None, str | None]], adjustment: str) -> list[dict[str, Any]]:
    adjusted = iter(_adjust([p for p, _ in tests if p is not None], adjustment))
    out = []
    for p, withheld in tests:
        q = next(adjusted) if p is not None else None
        out.append(
            {
                "pValue": p,
                "adjustedPValue": q,
                "significant": None if q is None else q < 0.05,
                "withheld": withheld,
            }
        )
    return out


def breakdown_tests(
    ds: Dataset,
    kind: str,
    by: Sequence[str],
    window: Window,
    filter: Mapping[str, Any] | None = None,
    adjustment: str = "HOLM",
    min_sample: int = 30,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """`breakdown(significance: VS_REST)`: each group's units against every other unit of
    the filtered population, p-values adjusted across the groups that have one."""
    groups = breakdown(ds, kind, by, window, filter, min_sample)
    start, end = _window(window)
    units = _units(ds, kind, start, end, _filter(filter), "COMPONENT" in by)
    keys = list(groups)
    tests: list[tuple[float | None, str | None]] = []
    mixed = None
    try:
        _evaluate(kind, units, start, end, min_sample)  # one scale over all groups?
    except IncompatibleScales:
        mixed = "INCOMPATIBLE_SCALES"
    except IncompatibleDirections:
        mixed = "INCOMPATIBLE_DIRECTIONS"
    for key in keys:
        if kind not in TESTED_KINDS:
            tests.append((None, "NO_TEST"))
            continue
        if mixed is not None:
            tests.append((None, mixed))
            continue
        if groups[key]["lowSample"]:
            tests.append((None, "LOW_SAMPLE"))
            continue
        inside = pd.Series(
            [
                all(
                    value in _group_values(kind, d, v)
                    for d, value, v in zip(by, key, row, strict=True)
                )
                for row in zip(*(units[DIMENSION_COLUMN[d]].tolist() for d in by), strict=True)
            ],
            index=units.index,
            dtype=bool,
        )
        group_units, rest_units = units.loc[inside], units.loc[~inside]
        rest = _evaluate(kind, rest_units, start, end, min_sample)
        group = _evaluate(kind, group_units, start, end, min_sample)
        p = _p_value(kind, rest, rest_units, group, group_units) if rest["n"] else None
        tests.append((p, None if p is not None else "UNDEFINED"))
    return dict(zip(keys, _finish(tests, adjustment), strict=True))


def trend_tests(
    ds: Dataset,
    kind: str,
    granularity: str,
    window: Window,
    timezone: str,
    filter: Mapping[str, Any] | None = None,
    adjustment: str = "HOLM",
    min_sample: int = 30,
) -> list[dict[str, Any]]:
    """`trend(significance: VS_PREVIOUS)`: each period against the one before it."""
    flt = _filter(filter)
    sides = []
    for _, cut_start, cut_end in periods(granularity, window, timezone):
        start, end = _window((cut_start, cut_end))
        units = _units(ds, kind, start, end, flt)
        sides.append((_evaluate(kind, units, start, end, min_sample), units))
    tests: list[tuple[float | None, str | None]] = []
    for i, (result, units) in enumerate(sides):
        if kind not in TESTED_KINDS:
            tests.append((None, "NO_TEST"))
        elif i == 0:
            tests.append((None, "NO_PREVIOUS"))
        elif result["lowSample"] or sides[i - 1][0]["lowSample"]:
            tests.append((None, "LOW_SAMPLE"))
        elif (
            (result["scaleMin"], result["scaleMax"])
            != (
                sides[i - 1][0]["scaleMin"],
                sides[i - 1][0]["scaleMax"],
            )
            and result["n"]
            and sides[i - 1][0]["n"]
        ):
            tests.append((None, "INCOMPATIBLE_SCALES"))
        elif (
            kind == "CES"
            and result["n"]
            and sides[i - 1][0]["n"]
            and result["highIsEasy"] != sides[i - 1][0]["highIsEasy"]
        ):
            tests.append((None, "INCOMPATIBLE_DIRECTIONS"))
        else:
            before, before_units = sides[i - 1]
            p = _p_value(kind, before, before_units, result, units)
            tests.append((p, None if p is not None else "UNDEFINED"))
    return _finish(tests, adjustment)


# --------------------------------------------------------------------------- funnel


def _km_median(events: list[float], censored: list[float]) -> float | None:
    """Kaplan–Meier median (scipy.stats.ecdf on right-censored data): the first time the
    survival function is at or below one half; None when it never is."""
    if not events:
        return None
    sf = stats.ecdf(stats.CensoredData(uncensored=events, right=censored)).sf
    below = sf.quantiles[sf.probabilities <= 0.5 + 1e-12]  # S = 1/2 exactly, up to rounding
    return float(below[0]) if len(below) else None


def funnel(
    ds: Dataset,
    journey: str,
    window: Window,
    filter: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per stage of the journey, in order, for the cohort that entered its first stage in
    the window: customers of the cohort reaching it, conversion, median hours to the next."""
    if journey not in ds.journeys:
        raise KeyError(journey)
    start, end = _window(window)
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    flt = _filter(filter)
    # CHOICE: only `segments` and `channels` apply (to the touchpoints); the other filter
    # lists are ignored, not an error. Stubs count: a funnel counts customers with touchpoints.
    t = ds.touchpoints
    t = t.loc[
        (t["journey"] == journey)
        & _segments_match(t["segments"], flt["segments"])
        & _any_of(t["channel"], flt["channels"])
    ]
    t = t.assign(customerKey=t["customer"].map(repr))
    stage_keys = [stage["key"] for stage in ds.journeys[journey]["stages"]]
    # the cohort: customers whose first visit ever to the first stage is in the window
    entry = t.loc[t["stage"] == stage_keys[0]].groupby("customerKey")["occurredAt"].min()
    reached = entry[(entry >= start) & (entry < end)]
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for index, stage in enumerate(stage_keys):
        following: pd.Series | None = None
        if index + 1 < len(stage_keys):
            # reaching the next stage: the first visit to it at or after reaching this one
            nxt = t.loc[t["stage"] == stage_keys[index + 1], ["customerKey", "occurredAt"]]
            nxt = nxt.loc[nxt["customerKey"].isin(reached.index)]
            if len(nxt):
                nxt = nxt.loc[nxt["occurredAt"] >= nxt["customerKey"].map(reached)]
            following = nxt.groupby("customerKey")["occurredAt"].min()
        median = None
        if following is not None and len(reached):
            hours = (following - reached[following.index]) / pd.Timedelta(hours=1)
            waiting = reached.drop(following.index)
            open_hours = ((now_ts - waiting) / pd.Timedelta(hours=1)).clip(lower=0)
            median = _km_median(hours.tolist(), open_hours.tolist())
        out.append(
            {
                "stage": stage,
                "customers": len(reached),
                "conversionFromPrevious": (100 * len(reached) / previous if previous else None),
                "medianHoursToNextStage": median,
            }
        )
        previous = len(reached)
        if following is not None:
            reached = following
    return out


# --------------------------------------------------------------------------- segments


def segments(ds: Dataset) -> dict[str, int]:
    """Segment -> number of (non-stub) customers in it."""
    exploded = ds.customers["segments"].explode().dropna()
    return {str(k): int(v) for k, v in exploded.value_counts().sort_index().items()}
