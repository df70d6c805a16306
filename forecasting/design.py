"""The feature rows of the pooled gradient-boosting forecaster (:mod:`forecasting.boosting`):
one row per (series, origin, horizon), built from the history up to the origin only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecasting.calendar_features import CALENDAR_COLUMNS
from forecasting.features import (
    daily_profile,
    lag_features,
    lag_names,
    lagged,
    seasonal_rows,
    window_mean,
    window_sum_table,
)
from forecasting.models import DAY_STEPS


@dataclass(frozen=True)
class PooledDesign:
    """Which features a pooled forecaster's rows carry.

    Features of a row, target row ``t = origin + h``: the kind (one-hot); the horizon ``h``;
    lags back from the issue time (``lags``); seasonal lags back from the target time
    (``seasonal_lags``), their differences to the last value and the change over the same
    stretch one season earlier; the last change; the last value minus the value a day earlier;
    means over the last hour and the last day; the typical profile of the target's time of day
    over ``profile_days`` days; calendar features of the target time on the local clock; the
    clear-sky GHI at the target time. Only rows ``<= origin`` are read.

    Attributes
    ----------
    kinds : ndarray of str
        The kinds of series (one-hot columns, in this order).
    lags, seasonal_lags : tuple of int
        Lags back from the issue time, and back from the target time [steps].
    profile_days : int
        Days in the typical-profile feature.
    annual_features : bool
        Add the day of the year to the calendar features.
    """

    kinds: np.ndarray
    lags: tuple[int, ...]
    seasonal_lags: tuple[int, ...]
    profile_days: int
    annual_features: bool

    def names(self) -> list[str]:
        """The feature names, in column order."""
        return [
            *[f"kind={k}" for k in self.kinds],
            "horizon_steps",
            *lag_names(self.lags, self.seasonal_lags),
            *[f"seasonal_lag_{s}_minus_last" for s in self.seasonal_lags],
            *[f"seasonal_ramp_{s}" for s in self.seasonal_lags],
            "last_minus_previous",
            "last_minus_day_ago",
            "mean_last_hour",
            "mean_last_day",
            "daily_profile",
            *(CALENDAR_COLUMNS if self.annual_features else CALENDAR_COLUMNS[:3]),
            "clear_sky_ghi_kw_per_m2",
        ]

    def rows(
        self,
        z: np.ndarray,
        g: np.ndarray,
        calendar: np.ndarray,
        kind_codes: np.ndarray,
        origins: np.ndarray,
        series: np.ndarray,
        horizons: np.ndarray,
        calendar_start: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feature matrix and persistence baseline of forecast rows.

        ``z`` (T, n_series) is read at rows ``<= origins`` only; ``g`` and ``calendar`` are
        functions of time alone, indexed by row (they extend past ``T`` for the targets);
        ``calendar`` starts at row ``calendar_start`` (it is read at the targets only).
        ``kind_codes`` gives each series' index into :attr:`kinds`.
        """
        targets = origins + horizons
        lags = lag_features(z, origins, series, horizons, self.lags, self.seasonal_lags)
        last = z[origins, series]
        seasonal = lagged(z, seasonal_rows(origins, horizons, DAY_STEPS), series)
        baseline = np.where(np.isfinite(last), last, np.nan_to_num(seasonal))
        seasonal_values = lags[:, len(self.lags) :]
        season_diff = seasonal_values - baseline[:, None]
        # the change over the same stretch one season earlier (the daily ramps recur)
        season_ramp = (
            seasonal_values
            - np.column_stack([lagged(z, origins - s, series) for s in self.seasonal_lags])
            if self.seasonal_lags
            else seasonal_values
        )
        day_ago = lagged(z, origins - DAY_STEPS, series)
        table = window_sum_table(z)
        columns = [
            np.eye(len(self.kinds))[kind_codes[series]],  # the kind, one-hot
            horizons.astype(float)[:, None],
            lags,
            season_diff,
            season_ramp,
            (last - lagged(z, origins - 1, series))[:, None],
            (last - day_ago)[:, None],
            window_mean(table, origins, series, 4)[:, None],
            window_mean(table, origins, series, DAY_STEPS)[:, None],
            daily_profile(z, origins, series, horizons, self.profile_days)[:, None],
            calendar[targets - calendar_start, : None if self.annual_features else 3],
            g[targets][:, None],
        ]
        return np.hstack(columns), baseline
