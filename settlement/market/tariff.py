"""Settlement with the utility at tariff: the supplier and buyer of last resort.

Energy and money are integers here: energy in Wh, money in micro-euro. A price in EUR/MWh is
numerically a price in micro-euro per Wh.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Tariffs(Protocol):
    """The utility's prices: a time-of-use retail price and a flat feed-in price [EUR/MWh]."""

    retail_eur_per_mwh: float
    peak_eur_per_mwh: float
    peak_hours_utc: tuple[int, int]
    offpeak_eur_per_mwh: float
    offpeak_hours_utc: tuple[int, int]
    feed_in_eur_per_mwh: float


def tariff_prices(hour_utc: np.ndarray, tariffs: Tariffs) -> tuple[np.ndarray, np.ndarray]:
    """Import (retail) and export (feed-in) price of each interval [EUR/MWh].

    Parameters
    ----------
    hour_utc : ndarray of int
        Hour of day (UTC) of each interval start.
    tariffs : Tariffs
        The price bands.
    """
    hour = np.asarray(hour_utc)
    retail = np.full(hour.shape, float(tariffs.retail_eur_per_mwh))
    for (start, end), price in (
        (tariffs.peak_hours_utc, tariffs.peak_eur_per_mwh),
        (tariffs.offpeak_hours_utc, tariffs.offpeak_eur_per_mwh),
    ):
        retail[(hour >= start) & (hour < end)] = price
    return retail, np.full(hour.shape, float(tariffs.feed_in_eur_per_mwh))


def utility_bill(
    net_wh: np.ndarray,
    import_eur_per_mwh: float | np.ndarray,
    export_eur_per_mwh: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Settle one interval's net positions with the utility.

    Parameters
    ----------
    net_wh : ndarray of int
        Each participant's net energy in the interval [Wh], import positive.
    import_eur_per_mwh, export_eur_per_mwh : float or ndarray
        The interval's retail and feed-in price [EUR/MWh] (= [micro-EUR/Wh]); arrays
        broadcast against ``net_wh`` (one row an interval).

    Returns
    -------
    import_wh, export_wh, cost_micro_eur : ndarray of int
        Energy bought from / sold to the utility [Wh] and the participant's cost
        [micro-euro] (negative: a credit).
    """
    net_wh = np.asarray(net_wh, dtype=np.int64)
    import_wh = np.maximum(net_wh, 0)
    export_wh = np.maximum(-net_wh, 0)
    cost = np.rint(import_wh * import_eur_per_mwh - export_wh * export_eur_per_mwh).astype(np.int64)
    return import_wh, export_wh, cost
