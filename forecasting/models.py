"""Forecasters of node power: the shared array API, thread limits and the baselines.

The global gradient-boosting model is :class:`forecasting.boosting.GlobalGBForecaster`.

All forecasters share one array API (scikit-learn estimators, but on a panel of series rather
than on ``X, y``):

``fit(Y, times, kind=None, scale_mw=None) -> self``
    ``Y`` : ndarray, shape (T, n_series), power [MW] in load convention (consumption
    positive, generation negative), NaN for a missing reading; ``times`` : the UTC interval
    starts of the rows, a regular grid.
``predict(Y_hist, times_hist, horizon_steps) -> ndarray, shape (n_series, horizon_steps)``
    Power [MW] of the ``horizon_steps`` intervals right after the last row of ``Y_hist``,
    from ``Y_hist`` only.
``predict_origins(Y, times, origins, horizons) -> ndarray, shape (n_origins, n_series, n_h)``
    The same for many issue times at once (backtests): the forecast issued at the end of row
    ``origins[j]`` for row ``origins[j] + horizons[k]`` reads rows ``<= origins[j]`` of ``Y``
    only, whatever the later rows hold (the no-look-ahead tests check this).

``predict(Y_hist, times_hist, H)`` equals ``predict_origins(Y_hist, times_hist,
[len(Y_hist) - 1], 1..H)[0]``.

Threads: :class:`GlobalGBForecaster` fits (HistGradientBoosting) under :func:`limit_threads`
with ``n_threads`` threads and hands its trees the same count when predicting
(:func:`forecasting.tree_sum.sum_trees`); an oversubscribed OpenMP pool next to Dask or numba
workers has made runs 40x slower.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from forecasting.features import (
    seasonal_rows,
)

#: Steps in a day and in a week at 15 min.
DAY_STEPS = 96
WEEK_STEPS = 672


class Forecaster(Protocol):
    """The array API every forecaster here follows (see the module docstring)."""

    def fit(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        kind: Sequence[str] | np.ndarray | None = None,
        scale_mw: np.ndarray | None = None,
    ) -> Any:
        """Learn from the history ``Y`` (T, n_series) [MW]; returns self."""

    def predict(
        self,
        Y_hist: np.ndarray,  # noqa: N803
        times_hist: pd.DatetimeIndex,
        horizon_steps: int,
    ) -> np.ndarray:
        """Forecast (n_series, horizon_steps) [MW] after the last row of ``Y_hist``."""

    def predict_origins(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Forecasts (n_origins, n_series, n_h) [MW]; each reads rows <= its origin only.

        ``series``: the columns of ``Y`` to forecast (default all; the result has as many).
        """


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    # Created once, after sklearn has loaded its OpenMP runtime (inspecting the loaded
    # libraries costs milliseconds; limiting through a ready controller is cheap).
    return ThreadpoolController()


@contextmanager
def limit_threads(n_threads: int | None) -> Iterator[None]:
    """Limit the OpenMP thread pools (HistGradientBoosting's) to ``n_threads`` in a block.

    Parameters
    ----------
    n_threads : int or None
        Threads allowed; None leaves the pools as they are.
    """
    if n_threads is None:
        yield
        return
    with _controller().limit(limits=int(n_threads), user_api="openmp"):
        yield


def _check_panel(Y: np.ndarray, times: pd.DatetimeIndex | None) -> np.ndarray:  # noqa: N803
    arr = np.asarray(Y, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"Y must be 2-D (time, series), got shape {np.shape(Y)}")
    if times is not None and len(times) != arr.shape[0]:
        raise ValueError(f"times has {len(times)} rows, Y has {arr.shape[0]}")
    return arr


def _check_request(
    Y: np.ndarray,  # noqa: N803
    times: pd.DatetimeIndex | None,
    n_series: int,
    origins: np.ndarray,
    horizons: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked panel, origins and horizons of a ``predict_origins`` call."""
    arr = _check_panel(Y, times)
    if arr.shape[1] != n_series:
        raise ValueError(f"Y has {arr.shape[1]} series, the forecaster was fit on {n_series}")
    origins = np.asarray(origins, dtype=np.int64)
    horizons = np.asarray(horizons, dtype=np.int64)
    _check_origins(origins, horizons, arr.shape[0])
    return arr, origins, horizons


def _check_origins(origins: np.ndarray, horizons: np.ndarray, n_rows: int) -> None:
    if len(origins) and (origins.min() < 0 or origins.max() >= n_rows):
        raise ValueError(f"origins must be rows of Y (0 .. {n_rows - 1})")
    if len(horizons) and horizons.min() < 1:
        raise ValueError("horizons must be >= 1 step")


class _Baseline(BaseEstimator):
    """Shared fit / predict of the baselines; subclasses implement ``_rows``."""

    def fit(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex | None = None,
        kind: Sequence[str] | np.ndarray | None = None,
        scale_mw: np.ndarray | None = None,
    ) -> Self:
        """Record the number of series (a baseline learns nothing else); returns self."""
        self.n_series_ = _check_panel(Y, times).shape[1]
        return self

    def predict(
        self,
        Y_hist: np.ndarray,  # noqa: N803
        times_hist: pd.DatetimeIndex | None = None,
        horizon_steps: int = 1,
    ) -> np.ndarray:
        """Forecast the ``horizon_steps`` intervals after the last row of ``Y_hist``.

        Returns
        -------
        ndarray, shape (n_series, horizon_steps)
            Power [MW]; NaN where the history is too short.
        """
        arr = _check_panel(Y_hist, times_hist)
        origins = np.array([arr.shape[0] - 1])
        horizons = np.arange(1, int(horizon_steps) + 1)
        return self.predict_origins(arr, times_hist, origins, horizons)[0]

    def predict_origins(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex | None,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Forecasts issued at the end of rows ``origins`` for ``horizons`` steps ahead.

        Returns
        -------
        ndarray, shape (n_origins, n_series or len(series), n_horizons)
            Power [MW]; NaN where the history is too short.
        """
        check_is_fitted(self, "n_series_")
        arr, origins, horizons = _check_request(Y, times, self.n_series_, origins, horizons)
        if series is not None:
            arr = arr[:, np.asarray(series, dtype=np.int64)]
        rows = self._rows(origins[:, None], horizons[None, :])  # (n_o, n_h), all <= origin
        valid = rows >= 0
        out = arr[np.where(valid, rows, 0)]  # (n_o, n_h, n_series)
        out = np.where(valid[:, :, None], out, np.nan)
        return np.ascontiguousarray(out.transpose(0, 2, 1))

    def _rows(self, origins: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Persistence(_Baseline):
    """The last observed value, for every horizon."""

    def _rows(self, origins: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        return np.broadcast_to(origins, np.broadcast_shapes(origins.shape, horizons.shape))


class SeasonalNaive(_Baseline):
    """The value one season before the target (yesterday's, or last week's, same interval).

    Parameters
    ----------
    period_steps : int
        Season length [steps]: 96 (a day at 15 min) or 672 (a week). Horizons longer than a
        season repeat the last observed season.
    """

    def __init__(self, period_steps: int = DAY_STEPS) -> None:
        self.period_steps = period_steps

    def _rows(self, origins: np.ndarray, horizons: np.ndarray) -> np.ndarray:
        if self.period_steps < 1:
            raise ValueError("period_steps must be >= 1")
        return seasonal_rows(origins, horizons, int(self.period_steps))
