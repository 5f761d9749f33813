"""Key-driver analysis, pure: correlations, Johnson's relative weights, a bootstrap, and the
importance-vs-performance quadrant (docs/metrics.md "Drivers"; no I/O).

The input is one row per survey response that answered the outcome: ``y`` its outcome
score, ``x[:, j]`` its score on driver ``j`` (NaN where it did not answer that driver).

- Correlations (Pearson, Spearman) and ``n`` per driver are pairwise: the rows that
  answered both the outcome and that driver.
- Relative importance is Johnson's relative weights (Johnson 2000) over complete cases:
  the rows that answered the outcome and every driver in the model.
- Intervals are bootstrap percentiles: ``RESAMPLES`` resamples of all rows, drawn with
  ``numpy.random.default_rng(SEED)``, one ``rng.integers(0, n, size=n)`` call per resample
  in order. Every statistic of a resample is computed from weighted sums (weights: how often
  each row was drawn), so a whole chunk of resamples is one matrix product.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray
from scipy import stats

RESAMPLES = 1000
SEED = 20260711
LEVEL = 0.95
CHUNK = 50  # resamples per matrix product: bounds the weight matrix to CHUNK × n
MIN_PAIRS = 3  # a correlation of fewer rows is always ±1 or undefined
# A driver enters the relative-weights model when at least this share of the respondents
# answered it: a driver asked on few surveys would leave few complete cases for all.
MODEL_SHARE = 0.5

Array = NDArray[np.float64]


class BudgetSpent(Exception):
    """The computation passed its deadline (the caller answers TIMEOUT)."""


class Quadrant(Enum):
    """Importance-performance quadrant (Martilla & James 1977), split at the means."""

    FIX_FIRST = "FIX_FIRST"  # important, performing below the drivers' mean
    KEEP_UP = "KEEP_UP"  # important, performing above it
    LOW_PRIORITY = "LOW_PRIORITY"  # less important, performing below
    POSSIBLE_OVERKILL = "POSSIBLE_OVERKILL"  # less important, performing above


@dataclass(frozen=True)
class DriverStats:
    n: int  # rows that answered the outcome and this driver
    mean: float | None  # the driver's mean over those rows, on its own scale
    pearson: float | None
    pearson_low: float | None
    pearson_high: float | None
    spearman: float | None
    in_model: bool  # in the relative-weights model (enough rows, not constant)
    importance: float | None  # raw relative weight: its share of the outcome's variance
    importance_low: float | None
    importance_high: float | None
    importance_share: float | None  # 100 · importance / R²


@dataclass(frozen=True)
class Fit:
    respondents: int  # rows: responses that answered the outcome
    complete: int  # complete cases of the relative-weights model
    r_squared: float | None  # Σ relative weights = R² of the outcome on the model's drivers
    drivers: tuple[DriverStats, ...]


def analyse(y: Array, x: Array, deadline: float | None = None) -> Fit:
    """``deadline`` (time.monotonic()) is checked between bootstrap chunks."""
    n, p = x.shape
    present = ~np.isnan(x)
    pair_n = present.sum(axis=0)
    model = [
        j for j in range(p)
        if pair_n[j] >= max(MIN_PAIRS, MODEL_SHARE * n) and _varies(x[present[:, j], j])
        and _varies(y[present[:, j]])
    ]  # fmt: skip
    complete = _complete(present, model)
    # Drivers constant over the complete cases leave the model (their weight is undefined).
    model = [j for j in model if _varies(x[complete, j])]
    complete = _complete(present, model)
    k = len(model)
    fits_model = k > 0 and int(complete.sum()) >= k + 2 and _varies(y[complete])
    if not fits_model:
        model, k = [], 0

    features = _Features(y, x, present, complete, model)
    point = features.statistics(np.ones((1, n)))
    boot: list[Array] = []
    if n > 0:
        rng = np.random.default_rng(SEED)
        for start in range(0, RESAMPLES, CHUNK):
            if deadline is not None and time.monotonic() > deadline:
                raise BudgetSpent
            size = min(CHUNK, RESAMPLES - start)
            weights = np.stack(
                [np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(size)]
            ).astype(np.float64)
            boot.append(features.statistics(weights))
    resampled = np.concatenate(boot) if boot else np.empty((0, 2 * p))
    low, high = _percentiles(resampled)

    r_squared = _num(point[0, [p + j for j in model]].sum()) if k else None
    out = []
    for j in range(p):
        rows = present[:, j]
        weight = point[0, p + j] if j in model else None
        out.append(DriverStats(
            n=int(pair_n[j]),
            mean=float(x[rows, j].mean()) if pair_n[j] else None,
            pearson=_num(point[0, j]), pearson_low=low[j], pearson_high=high[j],
            spearman=_spearman(x[rows, j], y[rows]),
            in_model=j in model,
            importance=_num(weight),
            importance_low=low[p + j] if j in model else None,
            importance_high=high[p + j] if j in model else None,
            importance_share=(100 * float(weight) / r_squared
                              if weight is not None and r_squared else None),
        ))  # fmt: skip
    return Fit(respondents=n, complete=int(complete.sum()) if k else 0, r_squared=r_squared,
               drivers=tuple(out))  # fmt: skip


class _Features:
    """Columns whose weighted sums give every statistic: for each driver the pairwise
    moments of (driver, outcome), then the moments of the model's complete cases. Values
    are centred first (pairwise and complete-case means), so the sums of squares keep their
    precision."""

    def __init__(
        self, y: Array, x: Array, present: NDArray[np.bool_], complete: NDArray[np.bool_],
        model: list[int],
    ) -> None:  # fmt: skip
        n, self.p = x.shape
        self.model = model
        self.k = k = len(model)
        columns: list[Array] = []
        for j in range(self.p):
            m = present[:, j]
            xj = np.where(m, x[:, j] - (x[m, j].mean() if m.any() else 0.0), 0.0)
            yj = np.where(m, y - (y[m].mean() if m.any() else 0.0), 0.0)
            columns += [m.astype(np.float64), xj, yj, xj * xj, yj * yj, xj * yj]
        self.upper = np.triu_indices(k + 1)
        if k:
            z = np.column_stack([x[:, model], y])[complete]
            full = np.zeros((n, k + 1))
            full[complete] = z - z.mean(axis=0)
            columns += [complete.astype(np.float64), *full.T]
            columns += [full[:, a] * full[:, b] for a, b in zip(*self.upper, strict=True)]
        # Column-major: the product with a chunk of weights runs ~6× faster than row-major.
        self.matrix = np.stack(columns).T if columns else np.empty((n, 0))

    def statistics(self, weights: Array) -> Array:
        """Per row of ``weights`` (a resample): each driver's Pearson r, then each driver's
        relative weight (NaN where undefined or outside the model)."""
        sums = weights @ self.matrix
        b, p = weights.shape[0], self.p
        out = np.full((b, 2 * p), np.nan)
        pairs = sums[:, : 6 * p].reshape(b, p, 6)
        cnt, sx, sy, sxx, syy, sxy = (pairs[:, :, i] for i in range(6))
        with np.errstate(divide="ignore", invalid="ignore"):
            vx = sxx - sx * sx / cnt
            vy = syy - sy * sy / cnt
            r = (sxy - sx * sy / cnt) / np.sqrt(vx * vy)
        ok = (cnt >= MIN_PAIRS) & _positive(vx, sxx) & _positive(vy, syy)
        out[:, :p] = np.where(ok, np.clip(r, -1.0, 1.0), np.nan)
        if self.k:
            out[:, p:] = self._relative_weights(sums[:, 6 * p :])
        return out

    def _relative_weights(self, sums: Array) -> Array:
        k, b = self.k, sums.shape[0]
        cnt = sums[:, 0]
        first = sums[:, 1 : k + 2]
        second = np.zeros((b, k + 1, k + 1))
        second[:, self.upper[0], self.upper[1]] = sums[:, k + 2 :]
        second = second + np.triu(second, 1).transpose(0, 2, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = second - first[:, :, None] * first[:, None, :] / cnt[:, None, None]
            var = np.diagonal(cov, axis1=1, axis2=2)
            sd = np.sqrt(var)
            corr = cov / (sd[:, :, None] * sd[:, None, :])
        raw = np.diagonal(second, axis1=1, axis2=2)
        valid = (cnt >= k + 2) & _positive(var, raw).all(axis=1)
        result = np.full((b, self.p), np.nan)
        if valid.any():
            rows = np.flatnonzero(valid)
            result[np.ix_(rows, np.array(self.model, dtype=np.intp))] = johnson(
                corr[valid, :k, :k], corr[valid, :k, k]
            )
        return result


def johnson(rxx: Array, rxy: Array) -> Array:
    """Johnson's (2000) relative weights, batched: ``rxx`` (B, k, k) the drivers'
    correlations, ``rxy`` (B, k) theirs with the outcome. The drivers are replaced by their
    closest orthogonal counterparts Z = X·Rxx^(-1/2); the outcome is regressed on Z (β), Z on
    X gives Λ = Rxx^(1/2); driver j's weight is Σ_k Λ_jk² β_k², and the weights sum to R²."""
    lam, q = np.linalg.eigh(rxx)
    lam = np.clip(lam, 0.0, None)
    root = np.sqrt(lam)
    tol = 1e-10 * np.maximum(root.max(axis=1, keepdims=True), 1e-300)
    inv_root = np.where(root > tol, 1.0 / np.where(root > tol, root, 1.0), 0.0)
    qt = q.transpose(0, 2, 1)
    lam_half = (q * root[:, None, :]) @ qt
    lam_inv_half = (q * inv_root[:, None, :]) @ qt
    beta = np.einsum("bij,bj->bi", lam_inv_half, rxy)
    result: Array = np.einsum("bij,bj->bi", lam_half**2, beta**2)
    return result


def quadrants(
    shares: list[float | None], performances: list[float | None]
) -> list[Quadrant | None]:
    """Each driver in the model with a score: important when its share of R² is at least the
    average share (100/k), performing when its 0–100 score is at least the mean score of
    those drivers. Drivers outside the model have none."""
    placed = [i for i, (s, q) in enumerate(zip(shares, performances, strict=True))
              if s is not None and q is not None]  # fmt: skip
    out: list[Quadrant | None] = [None] * len(shares)
    if not placed:
        return out
    cut_share = 100.0 / len(placed)
    cut_score = float(np.mean([performances[i] for i in placed]))
    for i in placed:
        share, score = shares[i], performances[i]
        assert share is not None and score is not None
        important, performing = share >= cut_share, score >= cut_score
        out[i] = (
            (Quadrant.KEEP_UP if performing else Quadrant.FIX_FIRST)
            if important
            else (Quadrant.POSSIBLE_OVERKILL if performing else Quadrant.LOW_PRIORITY)
        )
    return out


def _complete(present: NDArray[np.bool_], model: list[int]) -> NDArray[np.bool_]:
    if not model:
        return np.zeros(present.shape[0], dtype=bool)
    result: NDArray[np.bool_] = np.all(present[:, model], axis=1)
    return result


def _positive(variance: Array, raw: Array) -> NDArray[np.bool_]:
    """A variance that is not rounding noise: a column constant in a resample leaves
    ``Σw·z² − (Σw·z)²/Σw`` at a few ulps of ``Σw·z²``, not at 0."""
    result: NDArray[np.bool_] = np.greater(variance, 1e-10 * raw)
    return result


def _varies(values: Array) -> bool:
    return values.size > 1 and bool(np.ptp(values) > 0)


def _num(value: float | np.floating | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def _spearman(x: Array, y: Array) -> float | None:
    if x.size < MIN_PAIRS or not _varies(x) or not _varies(y):
        return None
    return _num(stats.spearmanr(x, y).statistic)


def _percentiles(samples: Array) -> tuple[list[float | None], list[float | None]]:
    """Each column's percentile interval over its defined resamples (a resample in which a
    driver is constant defines neither its correlation nor the relative weights)."""
    tail = 100 * (1 - LEVEL) / 2
    low: list[float | None] = []
    high: list[float | None] = []
    for column in samples.T:
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            low.append(None)
            high.append(None)
            continue
        lo, hi = np.percentile(finite, [tail, 100 - tail])
        low.append(float(lo))
        high.append(float(hi))
    return low, high
