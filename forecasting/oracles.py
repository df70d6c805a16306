"""Forecasters that know the future, for bounds: perfect foresight, and perfect foresight of
some sources only; and the factory of the forecaster a scenario names.

:class:`SeriesForecaster` is what the dispatch policy needs of any forecaster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from forecasting.solar import DEFAULT_SITE, Site


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


def make_forecaster(
    model: str,
    actual: np.ndarray | None,
    times: pd.DatetimeIndex,
    seed: int,
    training_samples: int = 30_000,
    trees: int = 30,
    learning_rate: float = 0.2,
    perfect_kinds: Sequence[str] = (),
    kinds: np.ndarray | None = None,
    site: Site = DEFAULT_SITE,
    placement: str = "central",
) -> SeriesForecaster:
    """The forecaster named in ``forecasting.model``.

    Parameters
    ----------
    model : {"gb", "seasonal_naive", "perfect"}
        Which forecaster.
    actual : ndarray or None
        The actual series over warm-up + run, for ``perfect``.
    times : DatetimeIndex
        Interval starts of warm-up + run.
    seed : int
        The run's seed (the model's ``random_state``).
    training_samples, trees : int
        Rows sampled for training and boosting iterations of ``gb``.
    learning_rate : float
        Gradient boosting's learning rate [-].
    perfect_kinds : sequence of str
        Node kinds forecast perfectly (:class:`PartlyPerfect`); needs ``actual`` and ``kinds``.
    kinds : ndarray of str, optional
        Forecasting kind of each series (:func:`node_kinds`).
    site : Site
        Where the community is (``gb``: its clear sky and its local clock).
    placement : {"central", "edge"}
        ``central``: one model of all series; ``edge``: one small model per series, fitted on
        that series alone (:class:`forecasting.edge.EdgeForecasters`).
    """
    if perfect_kinds and model != "perfect":
        if actual is None or kinds is None:
            raise ValueError("perfect_kinds needs the actual series and their kinds")
        base = np.char.partition(np.asarray(kinds, dtype=str), ":")[:, 0]
        inner = make_forecaster(
            model,
            None,
            times,
            seed,
            training_samples,
            trees,
            learning_rate,
            site=site,
            placement=placement,
        )
        return PartlyPerfect(
            inner, PerfectForesight(actual, times), np.isin(base, list(perfect_kinds))
        )
    from forecasting.boosting import at_site
    from forecasting.edge import EdgeForecasters, edge_gb
    from forecasting.models import SeasonalNaive

    if placement not in ("central", "edge"):
        raise ValueError(f"unknown forecasting placement {placement!r}")
    if placement == "edge":
        if model == "seasonal_naive":
            return EdgeForecasters(SeasonalNaive())
        if model == "gb":
            return EdgeForecasters(edge_gb(trees, learning_rate, site, seed))
        raise ValueError(f"forecasting model {model!r} cannot run at the edge")
    if model == "perfect":
        if actual is None:
            raise ValueError("perfect foresight needs the actual series")
        return PerfectForesight(actual, times)
    if model == "seasonal_naive":
        return SeasonalNaive()
    if model == "gb":
        return at_site(
            site, seed, max_samples=training_samples, max_iter=trees, learning_rate=learning_rate
        )
    raise ValueError(f"unknown forecasting model {model!r}")
