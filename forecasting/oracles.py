"""Forecasters that know the future, for bounds: perfect foresight, and perfect foresight of
some sources only (the forecaster a scenario names: :mod:`forecasting.factory`).

:class:`SeriesForecaster` is what the dispatch policy needs of any forecaster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd


class SeriesForecaster(Protocol):
    """What the policy needs of a forecaster (the ``fit`` / ``predict`` part of
    :class:`forecasting.models.Forecaster`)."""

    def fit(self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None) -> Any:
        """Learn from actuals ``y`` (interval, series) [MW] at ``times``; ``kind`` per series."""
        ...

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Forecasts issued at the end of rows ``origins`` of ``y``, ``horizons`` steps ahead,
        of the columns ``series`` (default all).

        Returns an array of shape (origin, series, horizon) [MW].
        """
        ...


@runtime_checkable
class BlockForecaster(Protocol):
    """A forecaster that also forecasts several (series, horizons) blocks of one issue in one
    pass (:meth:`forecasting.boosting.GlobalGBForecaster.predict_blocks`)."""

    def predict_blocks(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origin: int,
        blocks: Sequence[tuple[np.ndarray, np.ndarray]],
    ) -> list[np.ndarray]:
        """Forecasts issued at the end of row ``origin`` of ``y``: of each block ``(series,
        horizons)`` an array (series, horizon) [MW], the floats of ``predict_origins(y, times,
        [origin], horizons, series)[0]``."""
        ...


class PerfectForesight:
    """The actual future, for the bound on what forecasting can be worth.

    Parameters
    ----------
    actual : ndarray, shape (interval, series)
        The actual power of every series over warm-up + run [MW].
    times : DatetimeIndex
        Interval starts of ``actual``.
    """

    def __init__(self, actual: np.ndarray, times: pd.DatetimeIndex) -> None:
        self.actual = actual
        self.times = times

    def fit(
        self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None
    ) -> PerfectForesight:
        """Nothing to learn."""
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """The actual values ``horizons`` after each origin (the last one repeated past the
        end)."""
        start = self.times.searchsorted(times[np.asarray(origins)])
        idx = np.minimum(start[:, None] + np.asarray(horizons)[None, :], len(self.actual) - 1)
        out = self.actual[idx].transpose(0, 2, 1)  # (origin, series, horizon)
        return out if series is None else out[:, series]


class PartlyPerfect:
    """One forecaster for most series, the actual future for some: what a perfect forecast of
    one source (consumers, PV or wind) would be worth, the others forecast as usual.

    Parameters
    ----------
    forecaster : SeriesForecaster
        Forecasts the series not in ``perfect``.
    oracle : PerfectForesight
        The actual future.
    perfect : ndarray of bool, shape (series,)
        The series forecast by ``oracle``.
    """

    def __init__(
        self, forecaster: SeriesForecaster, oracle: PerfectForesight, perfect: np.ndarray
    ) -> None:
        self.forecaster = forecaster
        self.oracle = oracle
        self.perfect = np.asarray(perfect, dtype=bool)

    def fit(
        self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None
    ) -> PartlyPerfect:
        """Fit the forecaster (on every series: a pooled model learns from all)."""
        self.forecaster.fit(y, times, kind=kind)
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """The forecaster's forecasts, the actual future where ``perfect``."""
        chosen = np.arange(len(self.perfect)) if series is None else np.asarray(series)
        out = self.forecaster.predict_origins(y, times, origins, horizons, series)
        exact = self.perfect[chosen]
        if exact.any():
            truth = self.oracle.predict_origins(y, times, origins, horizons, chosen[exact])
            out[:, exact] = truth
        return out
