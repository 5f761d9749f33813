"""The drivers oracle checked against what is known of relative weights in closed form."""

from __future__ import annotations

import numpy as np

from tests.oracle import drivers as oracle


def test_relative_weights_sum_to_the_r_squared_of_least_squares() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 1))
    x = np.column_stack([z[:, 0] + rng.normal(size=200), z[:, 0] + rng.normal(size=200),
                         rng.normal(size=200)])  # fmt: skip
    y = x @ np.array([1.0, 0.5, 0.2]) + rng.normal(size=200)
    design = np.column_stack([np.ones(200), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r_squared = 1 - residual.var() / y.var()
    weights = oracle.johnson(x, y)
    assert abs(weights.sum() - r_squared) < 1e-12
    assert weights[0] > weights[1] > weights[2] > 0


def test_relative_weights_of_uncorrelated_drivers_are_their_squared_correlations() -> None:
    # A 4-run two-level design: the columns are exactly uncorrelated.
    x = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]] * 3)
    y = x @ np.array([2.0, 1.0]) + np.array([0.5, -0.5, -0.5, 0.5] * 3)  # noise ⟂ x
    r = [np.corrcoef(x[:, j], y)[0, 1] for j in range(2)]
    assert np.allclose(oracle.johnson(x, y), np.square(r), rtol=0, atol=1e-12)
