"""Key-driver analysis of docs/metrics.md ("Drivers"), computed another way from raw records.

Nothing comes from the service. The relative weights follow Johnson (2000) literally: the
standardised drivers' singular value decomposition X = P·Δ·Qᵀ gives their closest orthogonal
counterparts Z = P·Qᵀ; the outcome is regressed on Z (β, by least squares) and so are the
drivers (Λ); driver j's weight is Σ_k Λ_jk²·β_k². The service instead takes the eigenvectors
of the correlation matrix and weighted sums. Correlations come from scipy.stats, and the
bootstrap resamples are rebuilt as row copies (``numpy.repeat``) rather than weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats

DRIVERS = ("COMMUNICATIONS", "PRODUCT", "PROCESSES", "CHANNELS", "PEOPLE", "PRICE", "EMOTION",
           "VALUE_FOR_EFFORT")  # fmt: skip
FAMILY = {"NPS": "NPS", "NPS_MEAN_LIKELIHOOD": "NPS", "CSAT": "CSAT", "CSAT_SCORE_PERCENT": "CSAT",
          "CES": "CES", "CES_PERCENT_EASY": "CES", "EMOTION": "EMOTION",
          "VALUE_FOR_EFFORT": "VALUE_FOR_EFFORT"}  # fmt: skip
RESAMPLES, SEED, LEVEL = 1000, 20260711, 0.95  # docs/metrics.md states them


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def table(
    responses: Sequence[Mapping[str, Any]],
    window: tuple[datetime, datetime],
    outcome: str,
    segments_of: Mapping[str, Sequence[str]] | None = None,
    flt: Mapping[str, Sequence[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(y, x, driver names): one row per response in the window and filter that answered
    the outcome, ordered by (submittedAt, source, externalId); NaN = not answered."""
    family = FAMILY[outcome]
    names = tuple(d for d in DRIVERS if d != family)
    flt = flt or {}
    rows = []
    for r in responses:
        when = _when(r["submittedAt"])
        if not window[0] <= when < window[1]:
            continue
        segments = set((segments_of or {}).get(r["customer"]["externalId"], ()))
        if "segments" in flt and not segments & set(flt["segments"]):
            continue
        if any(key in flt and r.get(field) not in flt[key]
               for key, field in (("journeys", "journey"), ("stages", "stage"),
                                  ("channels", "channel"))):  # fmt: skip
            continue
        own = [a["value"] for a in r["answers"] if a["metric"] == family]
        if not own:
            continue
        scores: dict[str, list[float]] = {}
        for a in r["answers"]:
            name = a.get("component") if a["metric"] == "COMPONENT" else a["metric"]
            if name in names:
                scores.setdefault(name, []).append(a["value"])
        x = [np.mean(scores[d]) if d in scores else np.nan for d in names]
        rows.append(((when, r["source"], r["externalId"]), np.mean(own), x))
    rows.sort(key=lambda row: row[0])
    y = np.array([row[1] for row in rows], dtype=float)
    x = np.array([row[2] for row in rows], dtype=float).reshape(len(rows), len(names))
    return y, x, names


def johnson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Johnson's relative weights of the columns of ``x`` for ``y`` (complete rows)."""
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    ys = (y - y.mean()) / y.std()
    p, _, qt = np.linalg.svd(xs, full_matrices=False)
    z = np.sqrt(len(xs)) * (p @ qt)  # the drivers' orthogonal counterparts, scaled like xs
    beta = np.linalg.lstsq(z, ys, rcond=None)[0]
    lam = np.linalg.lstsq(z, xs, rcond=None)[0]  # lam[k, j]: driver j on counterpart k
    weights: np.ndarray = (lam.T**2) @ (beta**2)
    return weights


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.pearsonr(x, y).statistic)


def _model(x: np.ndarray, y: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The drivers in the model and the complete rows (docs/metrics.md's rule, step by step)."""
    present = ~np.isnan(x)
    model = [j for j in range(x.shape[1])
             if present[:, j].sum() >= max(3, len(y) / 2) and np.ptp(x[present[:, j], j]) > 0
             and np.ptp(y[present[:, j]]) > 0]  # fmt: skip
    complete = present[:, model].all(axis=1)
    model = [j for j in model if complete.sum() > 1 and np.ptp(x[complete, j]) > 0]
    complete = present[:, model].all(axis=1)
    if not model or complete.sum() < len(model) + 2 or np.ptp(y[complete]) == 0:
        return [], np.zeros(len(y), dtype=bool)
    return model, complete


def statistics(x: np.ndarray, y: np.ndarray, model: list[int], complete: np.ndarray) -> np.ndarray:
    """Pearson per driver, then the relative weight per driver (NaN where undefined)."""
    p = x.shape[1]
    out = np.full(2 * p, np.nan)
    for j in range(p):
        rows = ~np.isnan(x[:, j])
        out[j] = _pearson(x[rows, j], y[rows])
    if model:
        xc, yc = x[complete][:, model], y[complete]
        if len(yc) >= len(model) + 2 and np.ptp(xc, axis=0).min() > 0 and np.ptp(yc) > 0:
            out[[p + j for j in model]] = johnson(xc, yc)
    return out


def analyse(y: np.ndarray, x: np.ndarray) -> dict[str, Any]:
    n, p = x.shape
    model, complete = _model(x, y)
    point = statistics(x, y, model, complete)
    rng = np.random.default_rng(SEED)
    boot = []
    for _ in range(RESAMPLES):
        idx = rng.integers(0, n, size=n)
        copies = np.bincount(idx, minlength=n)
        xb, yb, cb = (np.repeat(a, copies, axis=0) for a in (x, y, complete))
        boot.append(statistics(xb, yb, model, cb))
    samples = np.array(boot)
    tail = 100 * (1 - LEVEL) / 2
    intervals = []
    for column in samples.T:
        finite = column[np.isfinite(column)]
        intervals.append(tuple(np.percentile(finite, [tail, 100 - tail])) if finite.size else None)
    r2 = float(np.nansum(point[p:])) if model else None
    drivers = []
    for j in range(p):
        rows = ~np.isnan(x[:, j])
        xs, ys = x[rows, j], y[rows]
        spearman = (float(stats.spearmanr(xs, ys).statistic)
                    if xs.size >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0 else None)  # fmt: skip
        weight = float(point[p + j]) if j in model else None
        drivers.append({
            "n": int(rows.sum()),
            "mean": float(xs.mean()) if rows.any() else None,
            "pearson": None if np.isnan(point[j]) else float(point[j]),
            "pearsonInterval": intervals[j],
            "spearman": spearman,
            "inModel": j in model,
            "importance": weight,
            "importanceInterval": intervals[p + j] if j in model else None,
            "importanceShare": 100 * weight / r2 if weight is not None and r2 else None,
        })  # fmt: skip
    return {"respondents": n, "n": int(complete.sum()) if model else 0, "rSquared": r2,
            "drivers": drivers}  # fmt: skip


def quadrants(shares: list[float | None], scores: list[float | None]) -> list[str | None]:
    """docs/metrics.md: important = share ≥ 100/k; performing = score ≥ the mean score."""
    placed = [i for i in range(len(shares)) if shares[i] is not None and scores[i] is not None]
    out: list[str | None] = [None] * len(shares)
    if not placed:
        return out
    mean_score = sum(scores[i] for i in placed) / len(placed)  # type: ignore[misc]
    for i in placed:
        important = shares[i] >= 100 / len(placed)  # type: ignore[operator]
        performing = scores[i] >= mean_score  # type: ignore[operator]
        out[i] = {(True, False): "FIX_FIRST", (True, True): "KEEP_UP",
                  (False, False): "LOW_PRIORITY",
                  (False, True): "POSSIBLE_OVERKILL"}[(important, performing)]  # fmt: skip
    return out
