"""Settlement with the utility at a time-of-use tariff: integer energy and money."""

from __future__ import annotations

import numpy as np
import pytest

from settlement.market.tariff import tariff_prices, utility_bill
from twin.scenario import TariffsConfig


def test_time_of_use_bands() -> None:
    tariffs = TariffsConfig()
    retail, feed_in = tariff_prices(np.arange(24), tariffs)
    assert retail[0] == retail[4] == tariffs.offpeak_eur_per_mwh
    assert retail[5] == retail[15] == retail[20] == tariffs.retail_eur_per_mwh
    assert retail[16] == retail[19] == tariffs.peak_eur_per_mwh
    assert (feed_in == tariffs.feed_in_eur_per_mwh).all()
    assert (retail >= feed_in).all()


def test_flat_tariff_by_empty_bands() -> None:
    flat = TariffsConfig(peak_hours_utc=(0, 0), offpeak_hours_utc=(0, 0))
    retail, _ = tariff_prices(np.arange(24), flat)
    assert (retail == flat.retail_eur_per_mwh).all()


def test_overlapping_bands_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        TariffsConfig(peak_hours_utc=(4, 8), offpeak_hours_utc=(0, 5))


def test_bill_is_integer_and_signed() -> None:
    imp, exp, cost = utility_bill(np.array([1000, -500, 0]), 320.0, 80.0)
    assert imp.dtype == exp.dtype == cost.dtype == np.int64
    assert imp.tolist() == [1000, 0, 0]
    assert exp.tolist() == [0, 500, 0]
    # 1 kWh at 320 EUR/MWh = 0.32 EUR = 320,000 micro-EUR; 0.5 kWh credited at 80 EUR/MWh
    assert cost.tolist() == [320_000, -40_000, 0]
