"""The run's prices: the utility's retail and feed-in price of every interval, from the
time-of-use tariff or, with ``tariffs.day_ahead_csv``, the dynamic tariff (§41a EnWG).

One function for every reader (the battery and flex dispatch, the market, the bills), so
that dispatch plans against the prices the run settles at; the market writes them to the
``prices`` table, which ``gridtwin verify`` recomputes the bills from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from settlement.market.day_ahead import FixedParts, capped_feed_in, dynamic_retail
from settlement.market.tariff import tariff_prices
from twin.scenario import Scenario
from twin.scenario.day_ahead_csv import read_day_ahead_csv


@dataclass(frozen=True)
class RunPrices:
    """Prices of consecutive intervals from the run's start [EUR/MWh].

    Attributes
    ----------
    retail_eur_per_mwh, feed_in_eur_per_mwh : ndarray, shape (interval,)
        The utility's import and export price.
    day_ahead_eur_per_mwh : ndarray, shape (interval,)
        The day-ahead price the retail price passes through (NaN under the ToU tariff).
    """

    retail_eur_per_mwh: np.ndarray
    feed_in_eur_per_mwh: np.ndarray
    day_ahead_eur_per_mwh: np.ndarray


def fixed_parts(scenario: Scenario) -> FixedParts:
    """The dynamic tariff's fixed parts of ``[tariffs]``."""
    t = scenario.tariffs
    return FixedParts(
        network_eur_per_mwh=t.network_eur_per_mwh,
        levies_eur_per_mwh=t.levies_eur_per_mwh,
        supplier_margin_eur_per_mwh=t.supplier_margin_eur_per_mwh,
        vat_share=t.vat_share,
    )


def run_prices(scenario: Scenario, n_intervals: int) -> RunPrices:
    """Prices of the first ``n_intervals`` intervals from ``run.start`` (past the run's end
    too: the dispatch horizon).

    Raises
    ------
    ScenarioError
        The day-ahead CSV is missing or invalid (see :mod:`twin.scenario.day_ahead_csv`).
    """
    run, tariffs = scenario.run, scenario.tariffs
    times = pd.date_range(
        pd.Timestamp(run.start), periods=n_intervals, freq=pd.Timedelta(seconds=run.interval_s)
    )
    if tariffs.day_ahead_csv is None:
        retail, feed_in = tariff_prices(times.hour.to_numpy(), tariffs)
        return RunPrices(retail, feed_in, np.full(n_intervals, np.nan))
    fixed = fixed_parts(scenario)
    series = read_day_ahead_csv(
        tariffs.day_ahead_csv, run.start, run.n_intervals * run.interval_s, fixed
    )
    starts_s = times.asi8 // 1_000_000_000
    day_ahead = series.on_intervals(starts_s, run.interval_s)
    retail = dynamic_retail(day_ahead, fixed)
    return RunPrices(retail, capped_feed_in(retail, tariffs.feed_in_eur_per_mwh), day_ahead)
