"""Forecasting at the edge: every device fits and runs a small model of its own.

:class:`EdgeForecasters` holds one clone of a forecaster per series (per device), each fitted on
that series alone; it has the ``fit`` / ``predict_origins`` of the array API of
:mod:`forecasting.models`, so the dispatch policy treats it as it treats the central pooled
model. Upstream go the forecasts, not the readings.

The edge model (:func:`forecasting.factory.edge_gb`) is the central model's class,
:class:`~forecasting.boosting.GlobalGBForecaster`, on one series, made small enough for a
Raspberry-Pi-class meter: about :data:`~forecasting.factory.EDGE_MAX_SAMPLES` training rows (a
pooled model shares its rows among all series: each of the default community's 58 series gets
about 500 of 30,000), shallow trees (:data:`~forecasting.factory.EDGE_MAX_LEAF_NODES` leaves)
and the scenario's number of trees. The same features and
the same model family as the central model: the comparison measures where the model runs and
what it learns from (one device's history, or the pool's), not a change of model. Fitting one
device's model takes a few tens of milliseconds on one core here (``make bench``: the edge
benchmark), and its pickle a few hundred kB at most: within a Pi's reach once a month, and
its prediction (a few hundred rows four times a day) far more so.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from forecasting.models import _check_panel, _check_request


class EdgeForecasters(BaseEstimator):
    """One forecaster per series, each fitted on its own series only.

    Parameters
    ----------
    estimator : forecaster
        The model each device runs (cloned once per series); any forecaster of the array API
        of :mod:`forecasting.models`.

    Attributes
    ----------
    n_series_ : int
        Number of series (devices).
    estimators_ : list of forecaster
        The fitted model of each series, in column order.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        kind: Sequence[str] | np.ndarray | None = None,
        scale_mw: np.ndarray | None = None,
    ) -> Self:
        """Fit each series' model on that series' history, its kind and scale alone (the
        arguments of :meth:`forecasting.boosting.GlobalGBForecaster.fit`); returns self."""
        if self.estimator is None:
            raise ValueError("EdgeForecasters needs an estimator")
        y = _check_panel(Y, times)
        n_series = y.shape[1]
        kinds = None if kind is None else np.asarray(kind, dtype=str)
        self.estimators_ = []
        for i in range(n_series):
            model = clone(self.estimator)
            model.fit(
                y[:, i : i + 1],
                times,
                kind=None if kinds is None else kinds[i : i + 1],
                scale_mw=None if scale_mw is None else np.asarray(scale_mw)[i : i + 1],
            )
            self.estimators_.append(model)
        self.n_series_ = n_series
        return self

    def predict_origins(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each series forecast by its own model from its own history (rows <= origin).

        Returns
        -------
        ndarray, shape (n_origins, n_series or len(series), n_horizons)
            Power [MW], load convention.
        """
        check_is_fitted(self, "estimators_")
        y, origins, horizons = _check_request(Y, times, self.n_series_, origins, horizons)
        cols = np.arange(self.n_series_) if series is None else np.asarray(series, dtype=np.int64)
        out = np.zeros((len(origins), len(cols), len(horizons)))
        if len(origins) == 0 or len(horizons) == 0:
            return out
        for j, c in enumerate(cols):  # one device at a time: each runs on its own meter
            own = y[:, c : c + 1]
            out[:, j] = self.estimators_[c].predict_origins(own, times, origins, horizons)[:, 0]
        return out


def model_bytes(forecaster: Any) -> list[int]:
    """Pickled size of the fitted model(s) [bytes]: one entry per device at the edge, one
    for a central model; none for a forecaster that is no estimator (perfect foresight)."""
    if isinstance(forecaster, EdgeForecasters):
        return [len(pickle.dumps(m)) for m in getattr(forecaster, "estimators_", [])]
    if isinstance(forecaster, BaseEstimator):
        return [len(pickle.dumps(forecaster))]
    return []
