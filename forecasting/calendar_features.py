"""Calendar features of interval starts, on the local clock: hour, weekday, days off, season.

Germany's nationwide public holidays count as days off (SimBench is German); the clock's time
zone is the scenario's ``site.timezone``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

#: Time zone of the households' clocks (SimBench is German).
DEFAULT_TZ = "Europe/Berlin"

#: Columns of :func:`calendar_features`, in order.
CALENDAR_COLUMNS = (
    "hour_local_h",
    "day_of_week",
    "day_off",
    "day_of_year_sin",
    "day_of_year_cos",
)


def utc_index(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """``times`` as a DatetimeIndex; raises ValueError unless timezone-aware."""
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
    local = utc_index(times).tz_convert(tz)
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


def calendar_grid(
    start: pd.Timestamp, n_intervals: int, interval_s: int, tz: str = DEFAULT_TZ
) -> np.ndarray:
    """:func:`calendar_features` of ``n_intervals`` interval starts every ``interval_s`` [s]
    from ``start`` (timezone-aware), with holidays.

    A grid aligned to the UTC year whose step divides a day is sliced from whole UTC years
    computed once (a forecaster asks for a window every few intervals); other grids are
    computed directly. The values are the same either way (elementwise features).
    """
    first = pd.Timestamp(start)
    if first.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC at the edges)")
    first = first.tz_convert("UTC")
    step_ns = int(interval_s) * 10**9
    offset_ns = (first - pd.Timestamp(year=first.year, month=1, day=1, tz="UTC")).value
    if n_intervals < 1 or 86_400 % int(interval_s) or offset_ns % step_ns:
        grid = pd.date_range(first, periods=n_intervals, freq=pd.Timedelta(seconds=interval_s))
        return calendar_features(grid, tz)
    k, year, parts, need = offset_ns // step_ns, first.year, [], n_intervals
    while need > 0:
        rows = _calendar_year(year, int(interval_s), tz)[k : k + need]
        parts.append(rows)
        need, year, k = need - len(rows), year + 1, 0
    return np.concatenate(parts)


@lru_cache(maxsize=8)
def _calendar_year(year: int, interval_s: int, tz: str) -> np.ndarray:
    """:func:`calendar_features` (n, 5) of every ``interval_s`` interval start of a UTC year;
    read-only (shared by every caller)."""
    grid = pd.date_range(
        pd.Timestamp(year=year, month=1, day=1, tz="UTC"),
        pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC"),
        freq=pd.Timedelta(seconds=interval_s),
        inclusive="left",
    )
    table = calendar_features(grid, tz)
    table.flags.writeable = False
    return table


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
