"""Features for the forecasters: calendar, clear sky, lags; pure, numpy-vectorised functions.

Glossary
--------
series
    One column of a ``(time, series)`` array, e.g. one node's power ``p_mw`` in load
    convention (consumption positive, generation negative).
origin
    Row index of the last observed interval of a forecast: the forecast is issued at the end
    of that interval and may use rows ``<= origin`` only.
horizon ``h`` [steps]
    The target of horizon ``h`` is row ``origin + h`` (``h = 1``: the next interval).
lag ``k`` [steps]
    Counted back from the issue time: lag 1 is row ``origin`` (the interval that ended at the
    issue time), lag ``k`` is row ``origin - k + 1``.
seasonal lag ``s`` [steps]
    Counted back from the target time: row ``target - s`` (``s = 96`` at 15 min: the same
    time the day before), moved back by whole seasons while it lies after the origin.

Every function here takes whole arrays and gathers with fancy indexing: no Python loop over
series, origins or horizons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

#: Time zone of the households' clocks (SimBench is German).
DEFAULT_TZ = "Europe/Berlin"
#: Default site of the clear-sky model: the middle of Germany [deg].
LATITUDE_DEG = 52.5
LONGITUDE_DEG = 10.5
ALTITUDE_M = 100.0
#: Global horizontal irradiance of the standard test conditions [W/m^2].
GHI_STC_W_PER_M2 = 1000.0

#: Columns of :func:`calendar_features`, in order.
CALENDAR_COLUMNS = (
    "hour_local_h",
    "day_of_week",
    "day_off",
    "day_of_year_sin",
    "day_of_year_cos",
)


def _as_utc_index(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        raise ValueError("times must be timezone-aware (UTC at the edges)")
    return index


def easter_sunday(years: np.ndarray) -> np.ndarray:
    """Gregorian Easter Sunday of each year (anonymous Gregorian algorithm).

    Parameters
    ----------
    years : ndarray of int
        Calendar years.

    Returns
    -------
    ndarray of datetime64[D]
        The dates of Easter Sunday.
    """
    y = np.asarray(years, dtype=np.int64)
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    first = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    return (first + (month - 1)).astype("datetime64[D]") + (day - 1)


def german_public_holidays(years: Iterable[int]) -> np.ndarray:
    """Germany's nationwide public holidays of ``years``.

    New Year, Good Friday, Easter Monday, Labour Day, Ascension, Whit Monday, German Unity
    Day, Christmas Day and Boxing Day (regional holidays are left out).

    Returns
    -------
    ndarray of datetime64[D]
        Sorted holiday dates.
    """
    y = np.unique(np.asarray(list(years), dtype=np.int64))
    january = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    month_day = ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))
    fixed = [(january + (mo - 1)).astype("datetime64[D]") + (da - 1) for mo, da in month_day]
    easter = easter_sunday(y)
    moving = [easter + offset for offset in (-2, 1, 39, 50)]
    return np.sort(np.concatenate(fixed + moving))


def calendar_features(
    times: pd.DatetimeIndex, tz: str = DEFAULT_TZ, holidays: bool = True
) -> np.ndarray:
    """Calendar features of interval starts, on the local clock.

    Parameters
    ----------
    times : DatetimeIndex, shape (n,)
        Timezone-aware interval starts.
    tz : str
        Time zone of the clock people live by (daylight saving included).
    holidays : bool
        Count Germany's nationwide public holidays as days off.

    Returns
    -------
    ndarray, shape (n, 5)
        Columns :data:`CALENDAR_COLUMNS`: local hour of day [h] (fractional), day of week
        (0 = Monday), day off (1.0 on Saturday, Sunday or a public holiday), and the day of
        the year as a point on the unit circle.
    """
    local = _as_utc_index(times).tz_convert(tz)
    hour_h = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    dow = local.dayofweek.to_numpy()
    day_off = dow >= 5
    if holidays:
        dates = local.tz_localize(None).to_numpy().astype("datetime64[D]")
        day_off = day_off | np.isin(dates, german_public_holidays(np.unique(local.year)))
    angle = 2.0 * np.pi * (local.dayofyear.to_numpy() - 1 + hour_h / 24.0) / 365.25
    return np.column_stack(
        [hour_h, dow.astype(float), day_off.astype(float), np.sin(angle), np.cos(angle)]
    )


class CalendarFeatures(TransformerMixin, BaseEstimator):
    """Calendar features as a scikit-learn transformer (stateless).

    Parameters
    ----------
    tz : str
        Time zone of the local clock.
    holidays : bool
        Count Germany's nationwide public holidays as days off.

    Examples
    --------
    >>> times = pd.date_range("2016-01-01", periods=4, freq="15min", tz="UTC")
    >>> CalendarFeatures().fit_transform(times).shape
    (4, 5)
    """

    def __init__(self, tz: str = DEFAULT_TZ, holidays: bool = True) -> None:
        self.tz = tz
        self.holidays = holidays

    def fit(self, X: pd.DatetimeIndex, y: object = None) -> CalendarFeatures:  # noqa: N803
        """Nothing to learn; returns self."""
        self.n_features_out_ = len(CALENDAR_COLUMNS)
        return self

    def transform(self, X: pd.DatetimeIndex) -> np.ndarray:  # noqa: N803
        """The calendar features of the interval starts ``X``, shape (n, 5)."""
        return calendar_features(pd.DatetimeIndex(np.ravel(X)), self.tz, self.holidays)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output columns."""
        return np.asarray(CALENDAR_COLUMNS, dtype=object)


def clear_sky_ghi(
    times: pd.DatetimeIndex,
    latitude_deg: float = LATITUDE_DEG,
    longitude_deg: float = LONGITUDE_DEG,
    altitude_m: float = ALTITUDE_M,
    model: str = "ineichen",
) -> np.ndarray:
    """Clear-sky global horizontal irradiance at the middle of each interval (pvlib).

    Parameters
    ----------
    times : DatetimeIndex, shape (n,)
        Timezone-aware interval starts on a regular grid (at least two).
    latitude_deg, longitude_deg : float
        Site [deg].
    altitude_m : float
        Site altitude [m].
    model : {"ineichen", "haurwitz", "simplified_solis"}
        pvlib clear-sky model; ``ineichen`` reads the Linke turbidity climatology shipped
        inside pvlib (no download), ``haurwitz`` needs the sun position only.

    Returns
    -------
    ndarray, shape (n,)
        Clear-sky GHI [W/m^2], zero at night.
    """
    index = _as_utc_index(times)
    if len(index) == 0:
        return np.zeros(0)
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    step_s = int(step.total_seconds())
    site = (float(latitude_deg), float(longitude_deg), float(altitude_m), model, step_s)
    # whole UTC years computed once and cached: forecasters ask for overlapping windows
    # every few intervals, and pvlib's solar position costs milliseconds per call
    years = range(index[0].year, index[-1].year + 1)
    ghi = np.concatenate([_clear_sky_year(year, *site) for year in years])
    first = pd.Timestamp(year=years[0], month=1, day=1, tz="UTC")
    offset_s = (index - first).total_seconds().to_numpy()
    if np.any(offset_s % step_s):
        raise ValueError("times must lie on a grid aligned to the UTC hour")
    return ghi[(offset_s // step_s).astype(np.int64)]


@lru_cache(maxsize=16)
def _clear_sky_year(
    year: int,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    model: str,
    step_s: int,
) -> np.ndarray:
    """Clear-sky GHI of every ``step_s`` interval of a UTC year, at the interval middle."""
    from pvlib.location import Location

    step = pd.Timedelta(seconds=step_s)
    start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    grid = pd.date_range(
        start, pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"), freq=step, inclusive="left"
    )
    site = Location(latitude_deg, longitude_deg, tz="UTC", altitude=altitude_m)
    frame = site.get_clearsky(grid + step / 2, model=model)
    return np.nan_to_num(frame["ghi"].to_numpy(dtype=float), nan=0.0).clip(min=0.0)


def best_shift_steps(y: np.ndarray, reference: np.ndarray, max_shift_steps: int) -> int:
    """The shift of ``reference`` that correlates best with ``y``.

    Used to align a clear-sky curve with a measured PV series whose clock or orientation
    moves its daily peak (SimBench's PV profiles peak about an hour before solar noon at
    10.5 deg E).

    Parameters
    ----------
    y : ndarray, shape (n,) or (n, k)
        Observed series (several columns are summed).
    reference : ndarray, shape (n,)
        Curve to shift (e.g. clear-sky GHI).
    max_shift_steps : int
        Largest shift tried either way [steps].

    Returns
    -------
    int
        ``s`` such that ``reference[t + s]`` matches ``y[t]`` best (negative: ``y`` leads).
    """
    obs = np.abs(np.nan_to_num(np.asarray(y, dtype=float)))
    if obs.ndim == 2:
        obs = obs.sum(axis=1)
    n = len(obs)
    shifts = np.arange(-max_shift_steps, max_shift_steps + 1)
    if n <= 2 * max_shift_steps + 1 or not obs.any():
        return 0
    core = slice(max_shift_steps, n - max_shift_steps)
    rows = np.arange(n)[core][None, :] + shifts[:, None]
    ref = reference[rows]
    obs_c = obs[core] - obs[core].mean()
    ref_c = ref - ref.mean(axis=1, keepdims=True)
    denom = np.sqrt((ref_c**2).sum(axis=1) * (obs_c**2).sum()) + 1e-300
    return int(shifts[np.argmax((ref_c @ obs_c) / denom)])


def lagged(z: np.ndarray, rows: np.ndarray, series: np.ndarray) -> np.ndarray:
    """``z[rows, series]``, NaN where ``rows`` falls before the first row.

    Parameters
    ----------
    z : ndarray, shape (T, n_series)
        Series values.
    rows, series : ndarray of int, same shape
        Row and column of each value to gather.
    """
    valid = rows >= 0
    out = z[np.where(valid, rows, 0), series]
    return np.where(valid, out, np.nan)


def seasonal_rows(origins: np.ndarray, horizons: np.ndarray, season_steps: int) -> np.ndarray:
    """Row of the seasonal lag: ``target - k * season`` with the smallest ``k >= 1`` that
    lands at or before the origin.

    Parameters
    ----------
    origins, horizons : ndarray of int, broadcastable
        Origin rows and horizons [steps].
    season_steps : int
        Season length [steps] (96: a day at 15 min; 672: a week).
    """
    k = -(-np.asarray(horizons) // season_steps)
    return np.asarray(origins) + horizons - k * season_steps


def window_sum_table(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums of the finite values of ``z`` and of their count, row 0 being zeros.

    Returns
    -------
    sums, counts : ndarray, shape (T + 1, n_series)
        For :func:`window_mean`.
    """
    finite = np.isfinite(z)
    sums = np.zeros((z.shape[0] + 1, z.shape[1]))
    counts = np.zeros_like(sums)
    np.cumsum(np.where(finite, z, 0.0), axis=0, out=sums[1:])
    np.cumsum(finite, axis=0, out=counts[1:])
    return sums, counts


def window_mean(
    table: tuple[np.ndarray, np.ndarray],
    origins: np.ndarray,
    series: np.ndarray,
    window_steps: int,
) -> np.ndarray:
    """Mean of the finite values in rows ``origin - window + 1 .. origin`` of each series.

    Parameters
    ----------
    table : tuple of ndarray
        :func:`window_sum_table` of the series.
    origins, series : ndarray of int, same shape
        Origin row and column of each value.
    window_steps : int
        Window length [steps].

    Returns
    -------
    ndarray
        The window means, NaN where the window holds no finite value.
    """
    sums, counts = table
    hi = origins + 1
    lo = np.maximum(hi - window_steps, 0)
    total = sums[hi, series] - sums[lo, series]
    count = counts[hi, series] - counts[lo, series]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def lag_names(lags: Sequence[int], seasonal_lags: Sequence[int]) -> list[str]:
    """Column names of the lag features of :func:`lag_features`."""
    return [f"lag_{k}" for k in lags] + [f"seasonal_lag_{s}" for s in seasonal_lags]


def lag_features(
    z: np.ndarray,
    origins: np.ndarray,
    series: np.ndarray,
    horizons: np.ndarray,
    lags: Sequence[int] = (1, 2, 3, 4, 96, 672),
    seasonal_lags: Sequence[int] = (96, 672),
) -> np.ndarray:
    """Lag features of forecast rows; only rows ``<= origin`` are read.

    Parameters
    ----------
    z : ndarray, shape (T, n_series)
        Series values (any unit).
    origins, series, horizons : ndarray of int, shape (m,)
        Origin row, column and horizon [steps] of each forecast row.
    lags : sequence of int
        Lags counted back from the issue time [steps] (lag 1 = the origin row).
    seasonal_lags : sequence of int
        Seasons counted back from the target time [steps] (see :func:`seasonal_rows`).

    Returns
    -------
    ndarray, shape (m, len(lags) + len(seasonal_lags))
        Columns :func:`lag_names`; NaN where the history is too short.
    """
    cols = [lagged(z, origins - (k - 1), series) for k in lags]
    cols += [lagged(z, seasonal_rows(origins, horizons, s), series) for s in seasonal_lags]
    return np.column_stack(cols) if cols else np.empty((len(origins), 0))


def daily_profile(
    z: np.ndarray,
    origins: np.ndarray,
    series: np.ndarray,
    horizons: np.ndarray,
    days: int,
    day_steps: int = 96,
    half_width_steps: int = 1,
) -> np.ndarray:
    """Mean of the target's time of day over the last ``days`` days, read up to the origin.

    For each forecast row, the values at ``target - k * day ± half_width`` (``k = 1 ..
    days`` counted from the last day whose target time is observed) that lie at or before
    the origin are averaged: a smoothed typical profile, robust to a spiky day.

    Parameters
    ----------
    z : ndarray, shape (T, n_series)
        Series values.
    origins, series, horizons : ndarray of int, shape (m,)
        Forecast rows.
    days : int
        Days averaged.
    day_steps : int
        Steps in a day.
    half_width_steps : int
        Neighbouring intervals averaged on either side [steps].

    Returns
    -------
    ndarray, shape (m,)
        The means (NaN without any observed value).
    """
    base = seasonal_rows(origins, horizons, day_steps)
    total = np.zeros(len(origins))
    count = np.zeros(len(origins))
    for k in range(days):  # a handful of gathers, each vectorised over all rows
        for d in range(-half_width_steps, half_width_steps + 1):
            rows = base - k * day_steps + d
            ok = (rows >= 0) & (rows <= origins)
            value = z[np.where(ok, rows, 0), series]
            ok &= np.isfinite(value)
            total += np.where(ok, value, 0.0)
            count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def balanced_training_rows(
    z: np.ndarray,
    kind_codes: np.ndarray,
    lookback_steps: int,
    h_lo: int,
    h_hi: int,
    n_samples: int,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training (origin, series, horizon) triples with ``h_lo <= h <= h_hi``.

    Only triples whose target is known (finite ``z``; PV: not night) are kept. Kinds are
    drawn equally often, then series of a kind and origins uniformly: one wind turbine in a
    pool of forty households still gets its share of the rows.

    Parameters
    ----------
    z : ndarray, shape (T, n_series)
        The modelled (normalised) series [-].
    kind_codes : ndarray of int, shape (n_series,)
        Kind of each series.
    lookback_steps : int
        History a row's features need [steps].
    h_lo, h_hi : int
        Horizon range [steps].
    n_samples : int
        Rows wanted.
    rng : numpy.random.RandomState
        Randomness.
    """
    n_rows = z.shape[0]
    first = lookback_steps if n_rows - lookback_steps > h_hi + 1 else 0
    n_draw = int(n_samples * 1.6) + 16
    origins = rng.randint(first, n_rows - 1, size=n_draw)
    n_kinds = int(kind_codes.max()) + 1
    members = np.argsort(kind_codes, kind="stable")
    count = np.bincount(kind_codes, minlength=n_kinds)
    first_member = np.concatenate([[0], np.cumsum(count)[:-1]])
    drawn = rng.randint(0, n_kinds, size=n_draw)
    offset = np.floor(rng.uniform(size=n_draw) * count[drawn]).astype(np.int64)
    series = members[first_member[drawn] + offset]
    horizons = rng.randint(h_lo, h_hi + 1, size=n_draw).astype(np.int64)
    targets = origins + horizons
    keep = targets < n_rows
    keep[keep] = np.isfinite(z[targets[keep], series[keep]])
    take = np.flatnonzero(keep)[:n_samples]
    if len(take) == 0:
        raise ValueError("no training row: the history is too short or all NaN")
    return origins[take], series[take], horizons[take]
