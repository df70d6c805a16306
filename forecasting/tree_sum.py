"""Predictions of a fitted HistGradientBoostingRegressor summed straight from its trees.

scikit-learn's ``predict`` validates its input on every call (``validate_data``: about 0.15 ms,
as long as 30 small trees take) and is run under a thread limit; the forecaster's feature rows
are already a float64 matrix of the fitted width, predicted thousands of times a run.
:func:`sum_trees` adds the same trees' leaf values in the same order to the same baseline as
``_raw_predict`` and applies the same inverse link, so its predictions are the same floats
(tests: ``tests/test_forecasting.py``). A model it cannot take (a categorical preprocessor,
several trees an iteration, not a HistGradientBoostingRegressor) goes through ``predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from forecasting.models import limit_threads


def summable(model: Any) -> bool:
    """Whether :func:`sum_trees` can predict with ``model`` (else its ``predict`` must)."""
    return (
        isinstance(model, HistGradientBoostingRegressor)
        and hasattr(model, "_predictors")
        and getattr(model, "_preprocessor", None) is None
        and model.n_trees_per_iteration_ == 1
    )


def sum_trees(model: Any, X: np.ndarray, n_threads: int | None) -> np.ndarray:  # noqa: N803
    """``model.predict(X)``, the same floats, without scikit-learn's per-call checks.

    Parameters
    ----------
    model : HistGradientBoostingRegressor or regressor
        A fitted model (any other regressor: its ``predict``).
    X : ndarray, shape (m, n_features)
        Feature rows (NaN: missing).
    n_threads : int or None
        OpenMP threads (None: scikit-learn's default).

    Returns
    -------
    ndarray, shape (m,)
        The predictions.
    """
    if not summable(model):
        with limit_threads(n_threads):
            return np.asarray(model.predict(X))
    rows = np.asarray(X, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != model.n_features_in_:
        raise ValueError(
            f"X has shape {np.shape(X)}, the model was fit on {model.n_features_in_} features"
        )
    threads = _openmp_effective_n_threads(n_threads)
    known_categories, feature_map = model._bin_mapper.make_known_categories_bitsets()
    raw = np.zeros(len(rows), dtype=model._baseline_prediction.dtype)
    raw += model._baseline_prediction[0, 0]
    for (tree,) in model._predictors:  # in fit order, as _predict_iterations adds them
        raw += tree.predict(rows, known_categories, feature_map, threads)
    return np.asarray(model._loss.link.inverse(raw))
