"""Settlement with the utility at tariff: the supplier and buyer of last resort.

Energy and money are integers here: energy in Wh, money in micro-euro. A price in EUR/MWh is
numerically a price in micro-euro per Wh.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Tariffs(Protocol):
    """The utility's prices."""

    retail_eur_per_mwh: float
    feed_in_eur_per_mwh: float


def utility_bill(net_wh: np.ndarray, tariffs: Tariffs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Settle net positions with the utility.

    Parameters
    ----------
    net_wh : ndarray of int
        Each participant's net energy in one interval [Wh], import positive.
    tariffs : Tariffs
        Retail (import) and feed-in (export) price [EUR/MWh].

    Returns
    -------
    import_wh, export_wh, cost_micro_eur : ndarray of int
        Energy bought from / sold to the utility [Wh] and the participant's cost
        [micro-euro] (negative: a credit).
    """
    net_wh = np.asarray(net_wh, dtype=np.int64)
    import_wh = np.maximum(net_wh, 0)
    export_wh = np.maximum(-net_wh, 0)
    cost = np.rint(
        import_wh * tariffs.retail_eur_per_mwh - export_wh * tariffs.feed_in_eur_per_mwh
    ).astype(np.int64)
    return import_wh, export_wh, cost
