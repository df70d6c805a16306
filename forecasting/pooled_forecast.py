"""The prediction side of the pooled gradient-boosting forecaster: the transforms a fitted
model shares with its fit (clear sky, normalisation, feature design) and the forecasts it
issues (:class:`forecasting.boosting.GlobalGBForecaster` fits; this class predicts)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from forecasting.calendar_features import calendar_grid
from forecasting.design import PooledDesign
from forecasting.horizons import predict_by_horizon
from forecasting.models import DAY_STEPS, _check_panel, _check_request
from forecasting.scaling import to_modelled, to_power
from forecasting.solar import GHI_STC_W_PER_M2, Site, clear_sky_g


class PooledForecast:
    """Forecasts of a fitted pooled model, and the transforms its fit uses too.

    A mixin: the estimator (:class:`forecasting.boosting.GlobalGBForecaster`) holds the
    parameters and sets the fitted attributes declared here; their meaning is documented
    there.
    """

    # parameters (set by the estimator's __init__)
    lags: tuple[int, ...]
    seasonal_lags: tuple[int, ...]
    profile_days: int
    target: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    clearsky_model: str
    min_clear_sky_ghi_w_per_m2: float
    max_clear_sky_index: float
    tz: str
    annual_features: bool
    n_threads: int | None
    # fitted attributes (set by fit)
    n_series_: int
    kinds_: np.ndarray
    kind_codes_: np.ndarray
    scale_mw_: np.ndarray
    solar_: np.ndarray
    clearsky_shift_steps_: int
    interval_s_: int
    models_: list[HistGradientBoostingRegressor]
    horizon_upper_steps_: np.ndarray

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
