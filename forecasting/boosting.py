"""One gradient-boosting model pooled over many series, direct multi-horizon (the array API
of :mod:`forecasting.models`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils import check_random_state

from forecasting.calendar_features import calendar_features
from forecasting.features import balanced_training_rows
from forecasting.horizons import horizon_groups
from forecasting.models import (
    DAY_STEPS,
    WEEK_STEPS,
    _check_panel,
    limit_threads,
)
from forecasting.pooled_forecast import PooledForecast
from forecasting.scaling import series_scales
from forecasting.solar import DEFAULT_SITE, best_shift_steps


class GlobalGBForecaster(PooledForecast, BaseEstimator):
    """One gradient-boosting model pooled over many series, direct multi-horizon.

    Each training row is one (series, origin, horizon) triple sampled from the history. Each
    series is normalised by a scale of its own (:mod:`forecasting.scaling`), so households, the
    feeder aggregate and generators share one model, ``kind`` being a one-hot feature (a kind
    may carry a class, e.g. ``consumer:H0-B`` for a SimBench household profile). PV series
    (``kind`` in ``solar_kinds``) are forecast as their clear-sky index: the clear-sky GHI from
    pvlib at the site (:func:`forecasting.solar.clear_sky`), its curve shifted in time to match
    the data (fitted, ``clearsky_shift_steps_``); the power is ``index * p_clear``, 0 at night.

    A row's features (``feature_names_``) read rows ``<= origin`` only
    (:class:`forecasting.design.PooledDesign`). Horizons are split into groups at
    ``horizon_edges`` (default 1 | 2-4 | 5-16 | 17-96 steps), one model per group
    (:mod:`forecasting.horizons`). With ``target="delta"`` the trees learn ``z[t] -
    z[origin]`` (a correction to persistence), with ``"level"`` ``z[t]``.

    This module fits; the forecasts (``predict``, ``predict_origins``, ``predict_blocks``)
    and the transforms fit and forecasts share are
    :class:`forecasting.pooled_forecast.PooledForecast`'s.

    Parameters
    ----------
    max_horizon_steps : int
        Longest horizon trained [steps] (longer ones use the last group's model).
    lags : tuple of int
        Lags back from the issue time [steps] (1 = the last observed interval).
    seasonal_lags : tuple of int
        Seasonal lags back from the target time [steps].
    profile_days : int
        Days in the typical-profile feature (mean of the target's time of day +- 1 step
        over the last days, :func:`~forecasting.features.daily_profile`).
    horizon_edges : tuple of int
        Last horizon of each horizon group but the last [steps].
    target : {"delta", "level"}
        What the trees learn (see above).
    max_samples : int
        Training rows, shared equally by the horizon groups: kinds drawn equally often,
        series of a kind, origins and horizons of a group uniformly. Fit time grows with it
        (about 4 s for 100 000 rows on one thread), not with the history's length.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization, loss, max_bins
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingRegressor` (no early
        stopping; ``absolute_error`` aims at MAE and resists spiky households).
    solar_kinds : tuple of str
        Kinds forecast through the clear-sky index.
    latitude_deg, longitude_deg, altitude_m : float
        Site of the clear-sky model [deg], [deg], [m].
    clearsky_model : str
        pvlib clear-sky model (``ineichen``, ``haurwitz``, ``simplified_solis``).
    clearsky_shift_steps : int or None
        Shift of the clear-sky curve [steps]; None fits it to the PV series (up to 2 h).
        SimBench's PV profiles run about an hour ahead of the sun at 10.5 deg E (fitted: 4-5).
    min_clear_sky_ghi_w_per_m2 : float
        Clear-sky GHI below which a PV interval is night: forecast 0 [W/m^2].
    max_clear_sky_index : float
        Clear-sky index clip (sensor or dawn outliers).
    tz : str
        Time zone of the calendar features.
    annual_features : bool
        Add the day of the year to the calendar features. Off by default: a model fit on
        less than a year meets days of the year it has never seen and extrapolates them
        badly (the lags and the clear-sky GHI carry the season).
    n_threads : int or None
        OpenMP threads during fit and predict (None: leave the pools alone). One by
        default: two threads gain about 20 % on an idle 2-core machine but lose 3-40x when
        another process holds a core (OpenMP barriers wait for the descheduled thread).
    random_state : int, RandomState or None
        Seeds the row sampling and the trees.

    Attributes
    ----------
    n_series_ : int
        Number of series.
    kinds_ : ndarray of str
        The distinct kinds, in code order.
    kind_codes_ : ndarray of int, shape (n_series,)
        Kind code of each series.
    scale_mw_ : ndarray, shape (n_series,)
        Signed normalisation of each series [MW] (the clear-sky peak for PV series).
    solar_ : ndarray of bool, shape (n_series,)
        Series forecast through the clear-sky index.
    clearsky_shift_steps_ : int
        Shift of the clear-sky curve used [steps].
    interval_s_ : int
        Row length [s].
    feature_names_ : list of str
        Columns of the feature matrix.
    models_ : list of HistGradientBoostingRegressor
        One model per horizon group.
    horizon_upper_steps_ : ndarray of int
        Last horizon of each group [steps].
    """

    def __init__(
        self,
        max_horizon_steps: int = DAY_STEPS,
        lags: tuple[int, ...] = (1, 2, 3, 4, DAY_STEPS, WEEK_STEPS),
        seasonal_lags: tuple[int, ...] = (DAY_STEPS, WEEK_STEPS),
        profile_days: int = 7,
        horizon_edges: tuple[int, ...] = (1, 4, 16),
        target: str = "delta",
        max_samples: int = 100_000,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        l2_regularization: float = 0.0,
        loss: str = "absolute_error",
        max_bins: int = 255,
        solar_kinds: tuple[str, ...] = ("solar", "pv"),
        latitude_deg: float = DEFAULT_SITE.latitude_deg,
        longitude_deg: float = DEFAULT_SITE.longitude_deg,
        altitude_m: float = DEFAULT_SITE.altitude_m,
        clearsky_model: str = "ineichen",
        clearsky_shift_steps: int | None = None,
        min_clear_sky_ghi_w_per_m2: float = 10.0,
        max_clear_sky_index: float = 2.0,
        tz: str = DEFAULT_SITE.timezone,
        annual_features: bool = False,
        n_threads: int | None = 1,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.max_horizon_steps = max_horizon_steps
        self.lags = lags
        self.seasonal_lags = seasonal_lags
        self.profile_days = profile_days
        self.horizon_edges = horizon_edges
        self.target = target
        self.max_samples = max_samples
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.loss = loss
        self.max_bins = max_bins
        self.solar_kinds = solar_kinds
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.altitude_m = altitude_m
        self.clearsky_model = clearsky_model
        self.clearsky_shift_steps = clearsky_shift_steps
        self.min_clear_sky_ghi_w_per_m2 = min_clear_sky_ghi_w_per_m2
        self.max_clear_sky_index = max_clear_sky_index
        self.tz = tz
        self.annual_features = annual_features
        self.n_threads = n_threads
        self.random_state = random_state

    # -- API -----------------------------------------------------------------------------

    def fit(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        kind: Sequence[str] | np.ndarray | None = None,
        scale_mw: np.ndarray | None = None,
    ) -> Self:
        """Fit the pooled model on the history ``Y``.

        Parameters
        ----------
        Y : ndarray, shape (T, n_series)
            Power [MW], load convention; NaN for missing readings.
        times : DatetimeIndex, shape (T,)
            UTC interval starts, a regular grid.
        kind : sequence of str, shape (n_series,), optional
            Kind of each series (``consumer``, ``aggregate``, ``solar``, ``wind`` ...); one
            kind for all if omitted.
        scale_mw : ndarray, shape (n_series,), optional
            Normalisation of the non-PV series [MW] (e.g. their reference power); their
            training mean of ``|p|`` if omitted.

        Returns
        -------
        GlobalGBForecaster
            self
        """
        if self.target not in ("delta", "level"):
            raise ValueError(f"target must be 'delta' or 'level', got {self.target!r}")
        y = _check_panel(Y, times)
        index = pd.DatetimeIndex(times)
        n_rows, n_series = y.shape
        if n_rows < 3:
            raise ValueError("need at least 3 rows of history to fit")
        self.interval_s_ = int((index[1] - index[0]).total_seconds())
        kinds = np.asarray(["series"] * n_series if kind is None else kind, dtype=str)
        if kinds.shape != (n_series,):
            raise ValueError(f"kind must have one entry per series ({n_series})")
        self.kinds_, self.kind_codes_ = np.unique(kinds, return_inverse=True)
        self.solar_ = np.isin(kinds, self.solar_kinds)
        self.n_series_ = n_series

        g0 = self._clear_sky(index[0], n_rows, 0)
        shift = self.clearsky_shift_steps
        if shift is None:
            shift = best_shift_steps(y[:, self.solar_], g0, 8) if self.solar_.any() else 0
        self.clearsky_shift_steps_ = int(shift)
        g = g0 if shift == 0 else self._clear_sky(index[0], n_rows, self.clearsky_shift_steps_)

        self.scale_mw_ = series_scales(y, g, self.solar_, scale_mw)
        self.feature_names_ = self._pooled_design().names()

        z = self._normalise(y, g)
        calendar = calendar_features(index, self.tz)
        rng = check_random_state(self.random_state)
        bounds = self._horizon_bounds()
        design = self._pooled_design()
        self.models_ = []
        for h_lo, h_hi in bounds:  # a few horizon groups, not a loop over series
            origins, series, horizons = balanced_training_rows(
                z,
                self.kind_codes_,
                self._lookback_steps(),
                h_lo,
                h_hi,
                int(self.max_samples) // len(bounds),
                rng,
            )
            X, baseline = design.rows(  # noqa: N806
                z, g, calendar, self.kind_codes_, origins, series, horizons
            )
            # a feature with no value in any training row (e.g. a lag shorter than an hourly
            # step) carries nothing, and scikit-learn's binning fails on it: a constant instead
            X[:, np.isnan(X).all(axis=0)] = 0.0
            goal = z[origins + horizons, series]
            if self.target == "delta":
                goal = goal - baseline
            model = HistGradientBoostingRegressor(
                loss=self.loss,
                learning_rate=self.learning_rate,
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                max_bins=self.max_bins,
                categorical_features=None,  # kind one-hot: the categorical encoder cost 35 %
                early_stopping=False,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
            with limit_threads(self.n_threads):
                model.fit(X, goal)
            self.models_.append(model)
        self.horizon_upper_steps_ = np.array([hi for _, hi in bounds])
        return self

    def _horizon_bounds(self) -> list[tuple[int, int]]:
        """First and last horizon [steps] of each horizon group."""
        return horizon_groups(self.max_horizon_steps, self.horizon_edges)
