"""The ``prices`` table against the scenario: each interval's retail and feed-in price.

The bills are recomputed from the ``prices`` table (:func:`twin.verify_market.verify_bills`),
so a price edited together with the bills it priced would pass there. Here every row is
derived again: the time-of-use tariff of ``[tariffs]`` by the interval's hour, or, with
``tariffs.day_ahead_csv``, the dynamic tariff (day-ahead plus the fixed parts, plus VAT; the
feed-in price capped at retail), and the day-ahead column against the digest the run wrote
to its manifest (``tariffs.day_ahead_sha256``: SHA-256 of the column's float64 values), so
the user's file need not be at hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from settlement.market.day_ahead import FixedParts, capped_feed_in, day_ahead_digest, dynamic_retail
from settlement.market.tariff import tariff_prices
from twin.checks import Check, row_check
from twin.scenario.settlement import TariffsConfig

#: Prices are stored as float64; a derived price equal to the float's last bits.
_TOLERANCE_EUR_PER_MWH = 1e-9


def verify_prices(
    prices: pd.DataFrame, config: dict[str, Any], manifest: dict[str, Any]
) -> list[Check]:
    """Each ``prices`` row derived again from ``config`` (the manifest's scenario)."""
    tariffs = TariffsConfig.model_validate(config["tariffs"])
    retail = prices["retail_eur_per_mwh"].to_numpy(dtype=np.float64)
    feed_in = prices["feed_in_eur_per_mwh"].to_numpy(dtype=np.float64)
    day_ahead = prices["day_ahead_eur_per_mwh"].to_numpy(dtype=np.float64, na_value=np.nan)
    checks = []
    if tariffs.day_ahead_csv is None:
        hours = pd.DatetimeIndex(prices["time"]).hour.to_numpy()
        want_retail, want_feed_in = tariff_prices(hours, tariffs)
        how = "the time-of-use tariff"
        extra = ~np.isnan(day_ahead)
    else:
        fixed = FixedParts(
            network_eur_per_mwh=tariffs.network_eur_per_mwh,
            levies_eur_per_mwh=tariffs.levies_eur_per_mwh,
            supplier_margin_eur_per_mwh=tariffs.supplier_margin_eur_per_mwh,
            vat_share=tariffs.vat_share,
        )
        want_retail = dynamic_retail(day_ahead, fixed)
        want_feed_in = capped_feed_in(want_retail, tariffs.feed_in_eur_per_mwh)
        how = "day-ahead + fixed parts, plus VAT"
        extra = np.isnan(day_ahead)
        stored = manifest.get("tariffs", {}).get("day_ahead_sha256")
        digest = day_ahead_digest(day_ahead)
        checks.append(
            Check(
                "prices: the day-ahead column = the series the run read (manifest digest)",
                stored == digest,
                f"{len(prices):,} intervals"
                + ("" if stored == digest else f"; digest {digest[:12]}..., run {stored}"),
            )
        )
    bad = (
        extra
        | ~np.isclose(retail, want_retail, rtol=0, atol=_TOLERANCE_EUR_PER_MWH)
        | ~np.isclose(feed_in, want_feed_in, rtol=0, atol=_TOLERANCE_EUR_PER_MWH)
    )
    checks.insert(
        0,
        row_check(
            f"prices: each interval's retail and feed-in = {how}",
            "prices",
            bad,
            lambda i: (
                f"{prices['time'].iat[i]}: retail {retail[i]:.4f}, feed-in {feed_in[i]:.4f} "
                f"EUR/MWh; the tariff gives {want_retail[i]:.4f}, {want_feed_in[i]:.4f}"
            ),
        ),
    )
    return checks
