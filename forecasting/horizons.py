"""Direct multi-horizon forecasting in horizon groups: one model per group of horizons.

Horizons ``1 .. max_horizon_steps`` are split at ``edges`` (the last horizon of each group
but the last); a group's model has the horizon as a feature, so the 15-minute model is not
diluted by day-ahead rows. Horizons past the last group's end go to the last group's model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from forecasting.tree_sum import sum_trees


class Regressor(Protocol):
    """A fitted regressor (scikit-learn's ``predict``)."""

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Predictions of the rows of ``X``."""
        ...


def horizon_groups(max_horizon_steps: int, edges: Sequence[int]) -> list[tuple[int, int]]:
    """First and last horizon [steps] of each horizon group.

    Parameters
    ----------
    max_horizon_steps : int
        Longest horizon trained [steps], >= 1.
    edges : sequence of int
        Last horizon of each group but the last [steps]; edges outside ``1 ..
        max_horizon_steps - 1`` are ignored.
    """
    max_h = int(max_horizon_steps)
    if max_h < 1:
        raise ValueError("max_horizon_steps must be >= 1")
    kept = sorted({int(e) for e in edges if 1 <= int(e) < max_h})
    uppers = [*kept, max_h]
    lowers = [1, *(e + 1 for e in kept)]
    return list(zip(lowers, uppers, strict=True))


def predict_by_horizon(
    models: Sequence[Regressor],
    upper_steps: np.ndarray,
    X: np.ndarray,  # noqa: N803
    horizons: np.ndarray,
    n_threads: int | None,
) -> np.ndarray:
    """Each row of ``X`` predicted by the model of its horizon's group.

    Parameters
    ----------
    models : sequence of regressors
        One fitted model per group.
    upper_steps : ndarray of int
        Last horizon of each group [steps].
    X : ndarray, shape (m, n_features)
        Feature rows.
    horizons : ndarray of int, shape (m,)
        Horizon of each row [steps].
    n_threads : int or None
        OpenMP threads while predicting (None: scikit-learn's default).

    A fitted HistGradientBoostingRegressor's rows are summed from its trees
    (:func:`forecasting.tree_sum.sum_trees`, the same floats as its ``predict``).
    """
    group = np.minimum(np.searchsorted(upper_steps, horizons), len(models) - 1)
    flat = np.empty(len(horizons))
    for k, model in enumerate(models):
        rows = group == k
        if rows.any():
            flat[rows] = sum_trees(model, X[rows], n_threads)
    return flat
