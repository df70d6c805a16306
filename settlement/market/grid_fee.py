"""Grid fees by electrical distance: a zonal, two-stage clearing on top of :func:`clear`.

Participants sit in voltage zones: the parts of the grid between transformers (an LV feeder
behind its secondary substation, the MV ring, ...). A trade pays the grid operator
``fee_per_level`` [EUR/MWh] for every transformer between its seller's zone and its buyer's
zone (``levels``): nothing inside one LV feeder, two levels from one LV feeder to another
through the MV grid.

1. **Inside each zone** the orders clear fee-free, by ``mechanism``.
2. **Across zones** what is left clears once more, with every ask raised by the highest fee a
   trade can carry (``fee_per_level * levels.max()``) and asks that would then exceed retail
   withdrawn. Each stage-2 trade's fee is its own distance's; the buyer pays the trade's price
   and the seller receives that price less the fee, so every seller still nets at least its
   ask and no buyer pays above its bid: local energy is traded locally first and distance
   costs what the grid operator charges for it.

Money: buyer payments = seller receipts + fees, so net payments including the grid operator's
fees sum to zero.

§14a EnWG (:func:`fee_reduction_micro_eur`): a controllable device the grid operator may dim
earns its owner a flat annual grid-fee reduction, pro rata to the run; the operator pays it
out of its fee revenue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from settlement.market.auction import Clearing, Orders, clear
from settlement.units import MICRO_EUR_PER_EUR, MicroEur


@dataclass(frozen=True, eq=False)
class FeeClearing:
    """A clearing with a grid fee per trade.

    Attributes
    ----------
    clearing : Clearing
        The trades of both stages; ``price_eur_per_mwh`` and ``payment_micro_eur`` are what
        the buyer pays.
    fee_eur_per_mwh : ndarray of float64
        Each trade's grid fee [EUR/MWh], deducted from what its seller receives.
    """

    clearing: Clearing
    fee_eur_per_mwh: np.ndarray


def _concat(parts: list[Clearing]) -> Clearing:
    traded = [c for c in parts if len(c)]
    energy = (
        np.concatenate([c.energy_wh for c in traded]) if traded else np.zeros(0, dtype=np.int64)
    )
    price = np.concatenate([c.price_eur_per_mwh for c in traded]) if traded else np.zeros(0)
    total = int(energy.sum())
    return Clearing(
        seller=np.concatenate([c.seller for c in traded]) if traded else energy.copy(),
        buyer=np.concatenate([c.buyer for c in traded]) if traded else energy.copy(),
        energy_wh=energy,
        price_eur_per_mwh=price,
        payment_micro_eur=(
            np.concatenate([c.payment_micro_eur for c in traded]) if traded else energy.copy()
        ),
        clearing_price_eur_per_mwh=float(price @ energy) / total if total else float("nan"),
    )


def clear_with_grid_fee(
    orders: Orders,
    zone: np.ndarray,
    levels: np.ndarray,
    fee_per_level: float,
    retail_eur_per_mwh: float,
    feed_in_eur_per_mwh: float,
    mechanism: str = "uniform",
) -> FeeClearing:
    """Clear one interval zone by zone, then across zones with a fee per level crossed.

    Parameters
    ----------
    orders : Orders
        The interval's orders (see :func:`settlement.market.auction.clear`).
    zone : ndarray of int
        Each participant's zone.
    levels : ndarray of int, shape (zone, zone)
        Transformers between two zones (0 on the diagonal).
    fee_per_level : float
        Grid fee per transformer crossed [EUR/MWh], >= 0.
    retail_eur_per_mwh, feed_in_eur_per_mwh : float
        The utility's prices in the interval [EUR/MWh].
    mechanism : {"uniform", "pay_as_bid"}
        Settlement rule of both stages.
    """
    if not np.isfinite(fee_per_level) or fee_per_level < 0:
        raise ValueError(f"fee_per_level must be finite and >= 0, got {fee_per_level}")
    zone = np.asarray(zone, dtype=np.int64)
    if fee_per_level == 0 or len(np.unique(zone)) <= 1 or len(orders.participant) == 0:
        result = clear(orders, retail_eur_per_mwh, feed_in_eur_per_mwh, mechanism)
        return FeeClearing(result, np.zeros(len(result)))
    order_zone = zone[np.asarray(orders.participant, dtype=np.int64)]
    stages: list[Clearing] = []
    for z in np.unique(order_zone):
        rows = np.flatnonzero(order_zone == z)
        stages.append(
            clear(_subset(orders, rows), retail_eur_per_mwh, feed_in_eur_per_mwh, mechanism)
        )
    local = _concat(stages)
    # what is left of each order after its zone's auction
    n = int(np.max(orders.participant)) + 1
    bought = np.bincount(local.buyer, weights=local.energy_wh, minlength=n).astype(np.int64)
    sold = np.bincount(local.seller, weights=local.energy_wh, minlength=n).astype(np.int64)
    is_bid = np.asarray(orders.side) == 1
    done = np.where(is_bid, bought[orders.participant], sold[orders.participant])
    left = np.asarray(orders.energy_wh, dtype=np.int64) - done
    limit = np.clip(
        np.asarray(orders.limit_eur_per_mwh, dtype=np.float64),
        feed_in_eur_per_mwh,
        retail_eur_per_mwh,
    )
    raise_by = fee_per_level * float(np.max(levels))
    limit = np.where(is_bid, limit, limit + raise_by)
    keep = (left > 0) & (limit <= retail_eur_per_mwh)
    rest = Orders(
        participant=np.asarray(orders.participant)[keep],
        side=np.asarray(orders.side)[keep],
        energy_wh=left[keep],
        limit_eur_per_mwh=limit[keep],
    )
    across = clear(rest, retail_eur_per_mwh, feed_in_eur_per_mwh, mechanism)
    fee = np.concatenate(
        [
            np.zeros(len(local)),
            fee_per_level * levels[zone[across.seller], zone[across.buyer]].astype(np.float64),
        ]
    )
    return FeeClearing(_concat([local, across]), fee)


def _subset(orders: Orders, rows: np.ndarray) -> Orders:
    return Orders(
        participant=np.asarray(orders.participant)[rows],
        side=np.asarray(orders.side)[rows],
        energy_wh=np.asarray(orders.energy_wh)[rows],
        limit_eur_per_mwh=np.asarray(orders.limit_eur_per_mwh)[rows],
    )


#: A year for pro-rating annual grid-fee reductions [s] (365 days).
SECONDS_PER_YEAR = 365 * 86_400


def fee_reduction_micro_eur(eur_per_year: float, run_s: int) -> MicroEur:
    """A controllable device's grid-fee reduction (§14a EnWG module 1) over a run [micro-euro].

    The flat annual reduction pro rata to the run's length, rounded to the micro-euro: what
    the grid operator credits to the device's owner out of its grid-fee revenue.

    Parameters
    ----------
    eur_per_year : float
        The reduction per device and year [EUR/year].
    run_s : int
        The run's length [s].
    """
    return MicroEur(round(eur_per_year * MICRO_EUR_PER_EUR * run_s / SECONDS_PER_YEAR))
