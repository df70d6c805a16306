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
from sklearn.utils.validation import check_is_fitted

from forecasting.calendar_features import calendar_features, calendar_grid
from forecasting.design import PooledDesign
from forecasting.features import balanced_training_rows
from forecasting.horizons import horizon_groups, predict_by_horizon
from forecasting.models import (
    DAY_STEPS,
    WEEK_STEPS,
    _check_panel,
    _check_request,
    limit_threads,
)
from forecasting.scaling import series_scales, to_modelled, to_power
from forecasting.solar import DEFAULT_SITE, GHI_STC_W_PER_M2, Site, best_shift_steps, clear_sky_g


class GlobalGBForecaster(BaseEstimator):
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

    def _lookback_steps(self) -> int:
        """Rows of history a forecast reads (the longest lag, season or window)."""
        profile = self.profile_days * DAY_STEPS + 1
        return max([*self.lags, *self.seasonal_lags, profile, DAY_STEPS + 1, 4]) + 1

    def _clear_sky(self, start: pd.Timestamp, n_rows: int, shift_steps: int) -> np.ndarray:
        """Clear-sky GHI / 1000 W/m^2 of ``n_rows`` intervals from ``start``, shifted [-]."""
        site = Site(self.latitude_deg, self.longitude_deg, self.altitude_m, self.tz)
        return clear_sky_g(start, n_rows, self.interval_s_, site, self.clearsky_model, shift_steps)

    def _night_g(self) -> float:
        """Clear-sky GHI / 1000 W/m^2 below which a PV interval is night [-]."""
        return self.min_clear_sky_ghi_w_per_m2 / GHI_STC_W_PER_M2

    def _normalise(self, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Power [MW] to the modelled quantity ``z`` (rows of ``g`` match rows of ``y``)."""
        return to_modelled(
            y, g, self.scale_mw_, self.solar_, self._night_g(), self.max_clear_sky_index
        )

    def _pooled_design(self) -> PooledDesign:
        return PooledDesign(
            self.kinds_, self.lags, self.seasonal_lags, self.profile_days, self.annual_features
        )

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

    def predict(
        self,
        Y_hist: np.ndarray,  # noqa: N803
        times_hist: pd.DatetimeIndex,
        horizon_steps: int,
    ) -> np.ndarray:
        """Forecast the ``horizon_steps`` intervals right after the last row of ``Y_hist``.

        Parameters
        ----------
        Y_hist : ndarray, shape (T_hist, n_series)
            Power [MW] up to the issue time, same series as in ``fit``.
        times_hist : DatetimeIndex, shape (T_hist,)
            UTC interval starts of ``Y_hist``.
        horizon_steps : int
            Number of intervals to forecast.

        Returns
        -------
        ndarray, shape (n_series, horizon_steps)
            Power [MW], load convention.
        """
        y = _check_panel(Y_hist, times_hist)
        origins = np.array([y.shape[0] - 1])
        return self.predict_origins(y, times_hist, origins, np.arange(1, int(horizon_steps) + 1))[0]

    def predict_origins(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Forecasts issued at the end of rows ``origins``, ``horizons`` steps ahead.

        Each forecast reads rows ``<= its origin`` of ``Y`` only (rows after the last origin
        are not even sliced in).

        Parameters
        ----------
        Y : ndarray, shape (T, n_series)
            Power [MW].
        times : DatetimeIndex, shape (T,)
            UTC interval starts of ``Y``.
        origins : ndarray of int, shape (n_origins,)
            Rows of ``Y`` at whose end the forecasts are issued.
        horizons : ndarray of int, shape (n_horizons,)
            Steps ahead (>= 1; horizons beyond ``max_horizon_steps`` extrapolate).
        series : ndarray of int, optional
            Columns of ``Y`` to forecast (default: all).

        Returns
        -------
        ndarray, shape (n_origins, n_series or len(series), n_horizons)
            Power [MW], load convention.
        """
        check_is_fitted(self, "models_")
        y, origins, horizons = _check_request(Y, times, self.n_series_, origins, horizons)
        cols = np.arange(self.n_series_) if series is None else np.asarray(series, dtype=np.int64)
        if len(origins) == 0 or len(horizons) == 0 or len(cols) == 0:
            return np.zeros((len(origins), len(cols), len(horizons)))
        n_o, n_s, n_h = len(origins), len(cols), len(horizons)
        o_grid, s_grid, h_grid = (
            a.ravel() for a in np.meshgrid(np.arange(n_o), cols, horizons, indexing="ij")
        )
        flat, g, local = self._forecast_rows(y, times, origins, o_grid, s_grid, h_grid)
        g_target = g[(local[:, None] + horizons[None, :])]  # (n_o, n_h)
        return self._to_power(flat.reshape(n_o, n_s, n_h), g_target, cols)

    def predict_blocks(
        self,
        Y: np.ndarray,  # noqa: N803
        times: pd.DatetimeIndex,
        origin: int,
        blocks: Sequence[tuple[np.ndarray, np.ndarray]],
    ) -> list[np.ndarray]:
        """Forecasts issued at the end of row ``origin``, of several (series, horizons) blocks
        in one pass.

        Block ``(series, horizons)`` gets the same floats as ``predict_origins(Y, times,
        [origin], horizons, series)[0]``: each row's features and trees are its own, so the
        blocks share the history's transforms, one feature matrix and one prediction call per
        horizon group (a dispatch policy wants the whole horizon of some series and a few
        steps of the others).

        Parameters
        ----------
        Y : ndarray, shape (T, n_series)
            Power [MW].
        times : DatetimeIndex, shape (T,)
            UTC interval starts of ``Y``.
        origin : int
            Row of ``Y`` at whose end the forecasts are issued.
        blocks : sequence of (ndarray of int, ndarray of int)
            Columns of ``Y`` and horizons [steps] (>= 1) of each block.

        Returns
        -------
        list of ndarray, shape (len(series), len(horizons)) each
            Power [MW], load convention.
        """
        check_is_fitted(self, "models_")
        wanted = [(np.asarray(s, dtype=np.int64), np.asarray(h, dtype=np.int64)) for s, h in blocks]
        every_h = np.concatenate([h for _, h in wanted]) if wanted else np.zeros(0, np.int64)
        y, origins, _ = _check_request(Y, times, self.n_series_, np.array([origin]), every_h)
        filled = [(s, h) for s, h in wanted if len(s) and len(h)]
        if not filled:
            return [np.zeros((len(s), len(h))) for s, h in wanted]
        s_grid = np.concatenate([np.repeat(s, len(h)) for s, h in filled])
        h_grid = np.concatenate([np.tile(h, len(s)) for s, h in filled])
        o_grid = np.zeros(len(s_grid), dtype=np.int64)
        flat, g, local = self._forecast_rows(y, times, origins, o_grid, s_grid, h_grid)
        out, at = [], 0
        for s, h in wanted:
            pred = flat[at : at + len(s) * len(h)].reshape(1, len(s), len(h))
            at += pred.size
            out.append(self._to_power(pred, g[local[:, None] + h[None, :]], s)[0])
        return out

    def _forecast_rows(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        o_index: np.ndarray,
        s_grid: np.ndarray,
        h_grid: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Forecasts of the modelled ``z`` of rows (``origins[o_index]``, ``s_grid``,
        ``h_grid``) of a checked panel ``y``; with the clear sky ``g`` of the rows read and
        the origins' rows in it (``local``)."""
        lo = max(0, int(origins.min()) - self._lookback_steps())
        hi = int(origins.max()) + 1
        y = y[lo:hi]  # nothing after the last origin is read
        local = origins - lo
        n_ext = hi - lo + int(h_grid.max())
        index = pd.DatetimeIndex(times)
        g = self._clear_sky(index[lo], n_ext, self.clearsky_shift_steps_)
        step = pd.Timedelta(seconds=self.interval_s_)
        first = int(local.min()) + int(h_grid.min())  # the calendar of the targets only
        calendar = calendar_grid(index[lo] + first * step, n_ext - first, self.interval_s_, self.tz)
        z = self._normalise(y, g[: hi - lo])
        X, baseline = self._pooled_design().rows(  # noqa: N806
            z, g, calendar, self.kind_codes_, local[o_index], s_grid, h_grid, first
        )
        flat = predict_by_horizon(
            self.models_, self.horizon_upper_steps_, X, h_grid, self.n_threads
        )
        if self.target == "delta":
            flat = flat + baseline
        return flat, g, local

    def _to_power(self, z_hat: np.ndarray, g_target: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Forecasts of ``z`` (n_origins, len(cols), n_h) of columns ``cols`` to power [MW]."""
        return to_power(
            z_hat,
            g_target,
            self.scale_mw_[cols],
            self.solar_[cols],
            self._night_g(),
            self.max_clear_sky_index,
        )
