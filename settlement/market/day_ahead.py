"""Dynamic retail prices (§41a EnWG): the day-ahead price passed through, plus fixed parts.

A day-ahead series is a list of rows, each a price [EUR/MWh] that holds from its start until
the next row's (hourly or quarter-hourly). On the market's intervals each interval takes the
time-weighted mean of the rows it overlaps. The retail price of an interval is

    retail = (day_ahead + network + levies + supplier_margin) * (1 + vat_share)

and the feed-in price stays the flat tariff, capped at the retail price where that falls
below it, so that the market's price range [feed-in, retail] is never empty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: Resolution the rows are laid on [s]: every row starts on a quarter hour.
SLOT_S = 900
DAY_S = 86_400


@dataclass(frozen=True)
class DayAheadSeries:
    """A validated day-ahead price series.

    Attributes
    ----------
    start_s : ndarray of int64, shape (row,)
        Each row's start [s since the Unix epoch, UTC], increasing, on quarter hours.
    end_s : ndarray of int64, shape (row,)
        Each row's end [s since the epoch]: the next row's start, the last row's its start
        plus its step (the step before it).
    eur_per_mwh : ndarray, shape (row,)
        Day-ahead price [EUR/MWh], finite.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    eur_per_mwh: np.ndarray

    def on_intervals(self, starts_s: np.ndarray, interval_s: int) -> np.ndarray:
        """The price of each interval [EUR/MWh]: mean of its quarter hours' prices.

        An interval past the series' end (the dispatch horizon beyond the run) takes the
        price of the same time on the last day the series covers (day-ahead persistence);
        one before its start, that of the first day it covers.

        Parameters
        ----------
        starts_s : ndarray of int64
            Interval starts [s since the epoch, UTC], on quarter hours.
        interval_s : int
            Interval length [s], a multiple of 900.
        """
        per = interval_s // SLOT_S
        slots = (np.asarray(starts_s, dtype=np.int64)[:, None] + SLOT_S * np.arange(per)).ravel()
        first, last = int(self.start_s[0]), int(self.end_s[-1])
        later = slots >= last
        slots[later] -= DAY_S * ((slots[later] - last) // DAY_S + 1)
        earlier = slots < first
        slots[earlier] += DAY_S * ((first - slots[earlier] - 1) // DAY_S + 1)
        row = np.searchsorted(self.start_s, slots, side="right") - 1
        row = np.clip(row, 0, len(self.start_s) - 1)
        return self.eur_per_mwh[row].reshape(-1, per).mean(axis=1)


@dataclass(frozen=True)
class FixedParts:
    """The parts of a dynamic retail price that do not follow the day-ahead market.

    Attributes
    ----------
    network_eur_per_mwh : float
        Network charges' energy price [EUR/MWh].
    levies_eur_per_mwh : float
        Electricity tax, concession fee and surcharges [EUR/MWh].
    supplier_margin_eur_per_mwh : float
        The supplier's procurement and sales margin [EUR/MWh].
    vat_share : float
        Value-added tax on the sum [-].
    """

    network_eur_per_mwh: float
    levies_eur_per_mwh: float
    supplier_margin_eur_per_mwh: float
    vat_share: float


def dynamic_retail(day_ahead_eur_per_mwh: np.ndarray, fixed: FixedParts) -> np.ndarray:
    """Retail price [EUR/MWh] of a dynamic tariff: day-ahead plus fixed parts, plus VAT."""
    parts = fixed.network_eur_per_mwh + fixed.levies_eur_per_mwh + fixed.supplier_margin_eur_per_mwh
    return (np.asarray(day_ahead_eur_per_mwh, dtype=float) + parts) * (1.0 + fixed.vat_share)


def capped_feed_in(retail_eur_per_mwh: np.ndarray, feed_in_eur_per_mwh: float) -> np.ndarray:
    """The flat feed-in price, capped at each interval's retail price [EUR/MWh]."""
    return np.minimum(float(feed_in_eur_per_mwh), np.asarray(retail_eur_per_mwh, dtype=float))


def day_ahead_digest(day_ahead_eur_per_mwh: np.ndarray) -> str:
    """SHA-256 of a day-ahead series' float64 values (hex)."""
    values = np.ascontiguousarray(np.asarray(day_ahead_eur_per_mwh, dtype="<f8"))
    return hashlib.sha256(values.tobytes()).hexdigest()
