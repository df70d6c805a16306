"""The sun at the site: clear-sky irradiance, computed by one function, and what derives from it.

:func:`clear_sky` is the one clear-sky model of gridtwin (pvlib, at the middle of each
interval, whole UTC years cached). Everything else is a transform of its output:

- the forecaster's clear-sky index divides PV power by ``ghi`` (:mod:`forecasting.boosting`);
- the DePIN fraud check's ceiling is :func:`clear_sky_ceiling_w_per_m2`,
  ``max over +- window of (dni + dhi + albedo * ghi)``, the most any module can see.

The site (:class:`Site`) comes from the scenario's ``[site]``; :data:`DEFAULT_SITE` is the
middle of Germany, where SimBench's profiles were measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from forecasting.calendar_features import DEFAULT_TZ, utc_index

#: Global horizontal irradiance of the standard test conditions [W/m^2].
GHI_STC_W_PER_M2 = 1000.0
#: Components of :class:`ClearSky`, as pvlib names them.
COMPONENTS = ("ghi", "dni", "dhi")


@dataclass(frozen=True)
class Site:
    """Where the community is: the clear-sky model's site and the households' clock.

    Attributes
    ----------
    latitude_deg, longitude_deg : float
        Site [deg] (north and east positive).
    altitude_m : float
        Site altitude [m].
    timezone : str
        IANA time zone of the clock people live by (calendar features).
    """

    latitude_deg: float = 52.5
    longitude_deg: float = 10.5
    altitude_m: float = 100.0
    timezone: str = DEFAULT_TZ


#: The middle of Germany (SimBench is German).
DEFAULT_SITE = Site()


class ClearSky(NamedTuple):
    """Clear-sky irradiance of each interval [W/m^2], >= 0 (NaN: not given by the model)."""

    ghi_w_per_m2: np.ndarray
    dni_w_per_m2: np.ndarray
    dhi_w_per_m2: np.ndarray


def clear_sky(
    times: pd.DatetimeIndex, site: Site = DEFAULT_SITE, model: str = "ineichen"
) -> ClearSky:
    """Clear-sky irradiance at the middle of each interval (pvlib): the one clear-sky function.

    Parameters
    ----------
    times : DatetimeIndex, shape (n,)
        Timezone-aware interval starts on a regular grid (at least two; one is taken as 15 min).
    site : Site
        Where.
    model : {"ineichen", "haurwitz", "simplified_solis"}
        pvlib clear-sky model; ``ineichen`` reads the Linke turbidity climatology shipped
        inside pvlib (no download), ``haurwitz`` needs the sun position only (GHI only: its
        ``dni`` and ``dhi`` are NaN).

    Returns
    -------
    ClearSky
        GHI, DNI and DHI [W/m^2], each shape (n,), zero at night.

    Notes
    -----
    Intervals on a grid aligned to the UTC year whose step divides a day are read from whole
    UTC years computed once and cached (forecasters ask for overlapping windows every few
    intervals, and pvlib's solar position costs milliseconds per call); other grids are
    computed directly, with the same values.
    """
    index = utc_index(times)
    if len(index) == 0:
        return ClearSky(np.zeros(0), np.zeros(0), np.zeros(0))
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    step_s = int(step.total_seconds())
    where = (float(site.latitude_deg), float(site.longitude_deg), float(site.altitude_m))
    years = range(index[0].year, index[-1].year + 1)
    first = pd.Timestamp(year=years[0], month=1, day=1, tz="UTC")
    offset_s = (index - first).total_seconds().to_numpy()
    if 86_400 % step_s or np.any(offset_s % step_s):
        values = _clear_sky_at(index + step / 2, *where, model)
    else:
        rows = np.concatenate([_clear_sky_year(year, *where, model, step_s) for year in years])
        values = rows[(offset_s // step_s).astype(np.int64)]
    return ClearSky(*(values[:, k] for k in range(len(COMPONENTS))))


def clear_sky_g(
    start: pd.Timestamp,
    n_intervals: int,
    interval_s: int,
    site: Site = DEFAULT_SITE,
    model: str = "ineichen",
    shift_steps: int = 0,
) -> np.ndarray:
    """Clear-sky GHI / 1000 W/m^2 [-] of ``n_intervals`` intervals of ``interval_s`` [s] from
    ``start``, the grid moved by ``shift_steps`` intervals: the scale a PV series is modelled
    against (:func:`forecasting.scaling.to_modelled`).

    A window on the cached grid (:func:`clear_sky`'s whole UTC years) is sliced from it
    without building its timestamps (forecasters ask for one every few intervals); other
    windows go through :func:`clear_sky`. The values are the same either way."""
    step = pd.Timedelta(seconds=interval_s)
    first = pd.Timestamp(start) + shift_steps * step
    if n_intervals >= 2 and first.tzinfo is not None and 86_400 % int(interval_s) == 0:
        first = first.tz_convert("UTC")
        offset_s = (first - pd.Timestamp(year=first.year, month=1, day=1, tz="UTC")).value
        step_ns = int(interval_s) * 10**9
        if offset_s % step_ns == 0:
            where = (float(site.latitude_deg), float(site.longitude_deg), float(site.altitude_m))
            k, year, parts, need = offset_s // step_ns, first.year, [], n_intervals
            while need > 0:
                ghi = _clear_sky_year(year, *where, model, int(interval_s))[k : k + need, 0]
                parts.append(ghi)
                need, year, k = need - len(ghi), year + 1, 0
            return np.concatenate(parts) / GHI_STC_W_PER_M2
    grid = pd.date_range(first, periods=n_intervals, freq=step)
    return clear_sky(grid, site, model).ghi_w_per_m2 / GHI_STC_W_PER_M2


@lru_cache(maxsize=16)
def _clear_sky_year(
    year: int,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    model: str,
    step_s: int,
) -> np.ndarray:
    """Clear sky (n, 3) of every ``step_s`` interval of a UTC year, at the interval middle."""
    step = pd.Timedelta(seconds=step_s)
    start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
    grid = pd.date_range(
        start, pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"), freq=step, inclusive="left"
    )
    return _clear_sky_at(grid + step / 2, latitude_deg, longitude_deg, altitude_m, model)


def _clear_sky_at(
    instants: pd.DatetimeIndex,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    model: str,
) -> np.ndarray:
    """pvlib's clear sky (n, 3) at ``instants``: NaN and negatives to 0, absent columns NaN."""
    from pvlib.location import Location

    site = Location(latitude_deg, longitude_deg, tz="UTC", altitude=altitude_m)
    frame = site.get_clearsky(instants, model=model)
    columns = [
        np.nan_to_num(frame[name].to_numpy(dtype=float), nan=0.0).clip(min=0.0)
        if name in frame.columns
        else np.full(len(frame), np.nan)
        for name in COMPONENTS
    ]
    return np.column_stack(columns)


def clear_sky_ceiling_w_per_m2(
    start: pd.Timestamp | str,
    n_intervals: int,
    interval_s: int,
    site: Site = DEFAULT_SITE,
    *,
    window_s: int = 3 * 3600,
    albedo: float = 0.25,
) -> np.ndarray:
    """Most irradiance any PV module can see in each interval under a clear sky [W/m^2].

    A transform of :func:`clear_sky` (Ineichen): the sun-tracking plane's irradiance
    ``dni + dhi + albedo * ghi`` (no fixed orientation sees more), then its maximum over
    ``+- window_s``. Clear-sky GHI alone is no ceiling for tilted roofs: SimBench's PV5
    profile exceeds ``p_max * ghi / 1000`` in ~2,300 intervals of 2016 (winter, low sun);
    and measured PV profiles run up to 2 h off the site's solar time (SimBench's do), which
    the window absorbs. All eight SimBench PV profiles of 2016 stay below 0.7 x this ceiling.

    Call once per run and index the result by interval number (``k`` is the interval that
    starts at ``start + k * interval_s``), as the DePIN physics checks do.

    Parameters
    ----------
    start : Timestamp or str
        Start of interval 0 (timezone-aware, UTC).
    n_intervals : int
        Number of intervals.
    interval_s : int
        Interval length [s].
    site : Site
        Where.
    window_s : int
        Half-width of the window the maximum is taken over [s].
    albedo : float
        Ground reflectance counted on top [-].

    Returns
    -------
    ndarray, shape (n_intervals,)
        Ceiling irradiance [W/m^2], >= 0.
    """
    first = pd.Timestamp(start)
    if first.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    step = pd.Timedelta(seconds=interval_s)
    pad = -(-int(window_s) // int(interval_s))
    times = pd.date_range(first - pad * step, periods=n_intervals + 2 * pad, freq=step)
    sky = clear_sky(times, site, model="ineichen")
    plane = sky.dni_w_per_m2 + sky.dhi_w_per_m2 + albedo * sky.ghi_w_per_m2
    plane = np.nan_to_num(plane, nan=0.0).clip(min=0.0)
    windows = np.lib.stride_tricks.sliding_window_view(plane, 2 * pad + 1)
    return np.asarray(windows.max(axis=1), dtype=np.float64)


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
