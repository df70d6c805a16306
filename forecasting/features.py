"""Features of the history for the forecasters: lags, windows, daily profiles, training rows;
pure, numpy-vectorised functions (calendar features: :mod:`forecasting.calendar_features`,
clear sky: :mod:`forecasting.solar`).

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

from collections.abc import Sequence

import numpy as np


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
