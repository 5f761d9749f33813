"""The pure key-driver statistics: the quadrant rule, Johnson's weights, the deadline."""

from __future__ import annotations

import time

import numpy as np
import pytest

from service.domain.metrics import drivers
from service.domain.metrics.drivers import BudgetSpent, Quadrant


def test_the_quadrant_splits_at_the_average_share_and_the_mean_score() -> None:
    # Three placed (a share and a score): important at a share ≥ 100/3, performing at a
    # score ≥ 50 (their mean); a driver without a share or a score has no quadrant.
    shares = [50.0, 100 / 3, 16.0, None, 0.7]
    scores = [40.0, 60.0, 50.0, 90.0, None]
    assert drivers.quadrants(shares, scores) == [
        Quadrant.FIX_FIRST, Quadrant.KEEP_UP, Quadrant.POSSIBLE_OVERKILL, None, None]  # fmt: skip
    assert drivers.quadrants([10.0, 90.0], [30.0, 70.0]) == [
        Quadrant.LOW_PRIORITY, Quadrant.KEEP_UP]  # fmt: skip
    assert drivers.quadrants([None], [None]) == [None]


def test_johnson_weights_of_uncorrelated_drivers_are_their_squared_correlations() -> None:
    rxx = np.eye(3)[None]
    rxy = np.array([[0.5, 0.3, -0.2]])
    assert np.allclose(drivers.johnson(rxx, rxy), [[0.25, 0.09, 0.04]], rtol=0, atol=1e-15)


def test_johnson_weights_of_two_correlated_drivers_sum_to_r_squared() -> None:
    r12, r1y, r2y = 0.6, 0.5, 0.4
    rxx = np.array([[[1.0, r12], [r12, 1.0]]])
    rxy = np.array([[r1y, r2y]])
    r2 = (r1y**2 + r2y**2 - 2 * r1y * r2y * r12) / (1 - r12**2)
    weights = drivers.johnson(rxx, rxy)[0]
    assert abs(weights.sum() - r2) < 1e-12 and weights[0] > weights[1] > 0


def test_a_computation_past_its_deadline_stops() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, size=(50, 2)).astype(float)
    with pytest.raises(BudgetSpent):
        drivers.analyse(x[:, 0] + x[:, 1], x, deadline=time.monotonic() - 1)


def test_no_rows_give_no_statistics() -> None:
    fit = drivers.analyse(np.empty(0), np.empty((0, 3)))
    assert (fit.respondents, fit.complete, fit.r_squared) == (0, 0, None)
    assert {(d.n, d.mean, d.pearson, d.importance, d.in_model) for d in fit.drivers} == {
        (0, None, None, None, False)}  # fmt: skip
