"""Time series for the nodes: SimBench's year of 15-minute profiles, in UTC.

SimBench stamps its profiles in German local time with daylight saving: on 2016-03-27 the
clock jumps from 01:45 to 03:00, and on 2016-10-30 the hour 02:00-02:45 appears twice (summer
time first). :func:`simbench_times_to_utc` turns those stamps into a strictly increasing,
timezone-aware UTC index.

Profiles are relative (per unit of an element's reference power); scaling to an element is
``profile * p_mw`` as in SimBench's own ``get_absolute_values``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from grid.cache import cached_frames

#: The SimBench profile tables gridtwin uses.
TABLES = ("load", "renewables")

#: Timezone of SimBench's profile stamps.
SIMBENCH_TZ = "Europe/Berlin"


def simbench_times_to_utc(stamps: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Convert SimBench's local ``"dd.mm.YYYY HH:MM"`` stamps to a UTC index.

    Parameters
    ----------
    stamps : Series or Index of str
        Stamps in German local time with daylight saving, in file order.

    Returns
    -------
    DatetimeIndex
        Timezone-aware UTC stamps, strictly increasing.

    Raises
    ------
    ValueError
        If the stamps cannot be placed in UTC unambiguously (a stamp in the spring gap, or a
        repeated hour that is not in order).
    """
    local = pd.DatetimeIndex(pd.to_datetime(pd.Series(stamps), format="%d.%m.%Y %H:%M"))
    # In a repeated hour, the first occurrence is summer time (DST), the second winter time;
    # 'infer' relies on the file order, which SimBench keeps.
    aware = local.tz_localize(SIMBENCH_TZ, ambiguous="infer", nonexistent="raise")
    utc = aware.tz_convert("UTC")
    if not utc.is_monotonic_increasing or utc.has_duplicates:
        raise ValueError("SimBench stamps are not strictly increasing once in UTC")
    return pd.DatetimeIndex(utc, name="time")


@lru_cache(maxsize=4)
def profile_library(scenario: int = 0) -> dict[str, pd.DataFrame]:
    """All SimBench profiles of a SimBench scenario (0, 1, 2), indexed by UTC time.

    Returns
    -------
    dict of str to DataFrame
        ``load`` (columns ``<type>_pload`` / ``<type>_qload``) and ``renewables``
        (``PV1``.., ``WP1``..); relative values, float64.
    """

    def read() -> dict[str, pd.DataFrame]:
        import simbench

        raw = simbench.get_all_simbench_profiles(scenario)
        out: dict[str, pd.DataFrame] = {}
        for key, frame in raw.items():
            if key not in TABLES:
                continue
            values = frame.drop(columns="time").astype("float64")
            values.index = simbench_times_to_utc(frame["time"])
            out[key] = values
        return out

    return cached_frames(f"profiles-{'-'.join(TABLES)}-{scenario}", read)


def window(
    frame: pd.DataFrame, start: pd.Timestamp, n_intervals: int, interval_s: int
) -> pd.DataFrame:
    """Select ``n_intervals`` intervals of ``interval_s`` from ``start``, averaging finer steps.

    SimBench's profiles describe one typical year: a window that runs past the year's end
    wraps around to its start (the returned index keeps counting forward in time).

    Parameters
    ----------
    frame : DataFrame
        A profile table on a regular UTC index.
    start : Timestamp
        First interval start (UTC) on the profile grid; outside the profile year it maps
        into it by whole years of the profiles' length.
    n_intervals : int
        Number of intervals (at most a profile year).
    interval_s : int
        Interval length [s], a multiple of the profile step.

    Raises
    ------
    ValueError
        If ``start`` is off the profile grid or the window is longer than the profiles.
    """
    step_s = int((frame.index[1] - frame.index[0]).total_seconds())
    per = interval_s // step_s
    offset_s = int((start - frame.index[0]).total_seconds())
    steps = n_intervals * per
    if offset_s % step_s or steps > len(frame):
        raise ValueError(f"window {start} + {n_intervals} x {interval_s} s is outside the profiles")
    first = (offset_s // step_s) % len(frame)  # a typical year: wraps both ways
    rows = (first + np.arange(steps)) % len(frame)
    values = frame.to_numpy()[rows]
    if per > 1:
        values = values.reshape(n_intervals, per, -1).mean(axis=1)
    index = pd.date_range(start, periods=n_intervals, freq=pd.Timedelta(seconds=interval_s))
    return pd.DataFrame(values, index=index.rename("time"), columns=frame.columns)
