"""Bills: settled trades, each member's net payments and its bill with the utility.

Pure functions on integers (energy [Wh], money [micro-euro]); a price in EUR/MWh is
numerically a price in micro-euro per Wh.

- :func:`cut_trades`: network-aware curtailment cuts the trades of the sellers whose
  generation was curtailed, by the curtailed energy, first trades first;
- :func:`net_payments`: what each participant receives, net, from a set of trades: each
  buyer pays the trade's payment, each seller receives it less the trade's grid fee, and the
  grid operator receives the fees; with a protocol fee (:mod:`settlement.economy.fees`) the
  seller's receipt is less that fee too and the treasury (a column after the grid operator's)
  receives it; every row sums to zero;
- :func:`settle_block`: a block of cleared intervals settled on metered energy: the trades
  after curtailment, each owner's P2P energy and payments, and each owner's imbalance (actual
  minus traded energy) settled with the utility at tariff; ``baseline`` is what the same
  metered energy costs with the utility alone, ``planned`` what the imbalance the owner
  ordered (position minus traded) would have cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from settlement.economy.fees import protocol_fees
from settlement.market.tariff import utility_bill
from settlement.units import MicroEurArray, WhArray


def cut_trades(
    interval: np.ndarray, seller: np.ndarray, energy_wh: np.ndarray, cut_wh: np.ndarray
) -> WhArray:
    """Trade energies after cutting each seller's trades by ``cut_wh``, first trades first.

    Parameters
    ----------
    interval, seller : ndarray of int
        Each trade's interval (row of ``cut_wh``) and seller (column).
    energy_wh : ndarray of int
        Each trade's energy [Wh].
    cut_wh : ndarray of int, shape (interval, owner)
        Energy to cut from each seller's trades in each interval [Wh].
    """
    if not len(energy_wh):
        return WhArray(energy_wh)
    key = interval * cut_wh.shape[1] + seller
    order = np.argsort(key, kind="stable")
    k, e = key[order], energy_wh[order]
    before = np.cumsum(e) - e
    first = np.searchsorted(k, k, side="left")
    within = before - before[first]  # energy of the seller's earlier trades that interval
    cut = np.clip(cut_wh.ravel()[k] - within, 0, e)
    out = energy_wh.copy()
    out[order] = e - cut
    return WhArray(out)


def net_payments(
    buyer: np.ndarray,
    seller: np.ndarray,
    payment_micro_eur: np.ndarray,
    grid_fee_micro_eur: np.ndarray,
    n_participants: int,
    group: np.ndarray | None = None,
    n_groups: int = 1,
    protocol_fee_micro_eur: np.ndarray | None = None,
) -> MicroEurArray:
    """What each participant receives, net, from trades [micro-euro].

    Parameters
    ----------
    buyer, seller : ndarray of int
        Each trade's buyer and seller (participant indices ``0 .. n_participants - 1``).
    payment_micro_eur, grid_fee_micro_eur : ndarray of int
        Each trade's payment (paid by its buyer) and grid fee (kept from its seller's
        receipt, paid to the grid operator) [micro-euro].
    n_participants : int
        Number of participants (the grid operator not counted).
    group, n_groups : ndarray of int and int, optional
        Each trade's group (an interval, say) and the number of groups; default one group.
    protocol_fee_micro_eur : ndarray of int, optional
        Each trade's protocol fee (kept from its seller's receipt, paid to the treasury)
        [micro-euro]; ``None``: no treasury.

    Returns
    -------
    ndarray of int64, shape (n_groups, n_participants + 1), or + 2 with a protocol fee
        Net receipt per group and participant; then the grid operator's column, then, with a
        protocol fee, the treasury's. Every row sums to exactly zero.
    """
    for name, idx in (("buyer", buyer), ("seller", seller)):
        if len(idx) and (idx.min() < 0 or idx.max() >= n_participants):
            raise ValueError(f"{name} index outside 0..{n_participants - 1}")
    width = n_participants + 1 + (protocol_fee_micro_eur is not None)
    row = np.zeros(len(buyer), dtype=np.int64) if group is None else np.asarray(group) * width
    out = np.zeros(n_groups * width, dtype=np.int64)
    np.subtract.at(out, row + buyer, payment_micro_eur)
    np.add.at(out, row + seller, payment_micro_eur - grid_fee_micro_eur)
    np.add.at(out, row + n_participants, grid_fee_micro_eur)
    if protocol_fee_micro_eur is not None:
        np.subtract.at(out, row + seller, protocol_fee_micro_eur)
        np.add.at(out, row + n_participants + 1, protocol_fee_micro_eur)
    return MicroEurArray(out.reshape(n_groups, width))


@dataclass(frozen=True)
class SettledBlock:
    """A block of intervals settled on metered energy; arrays of int64.

    Per trade: ``energy_wh`` (after curtailment), ``payment_micro_eur``,
    ``grid_fee_micro_eur``, ``protocol_fee_micro_eur``, ``curtailed_wh``. Per interval and
    owner (shape (interval, owner)): ``bought_wh``, ``sold_wh``, ``paid_micro_eur`` (P2P
    payments net of receipts, fees included),
    ``import_wh`` / ``export_wh`` / ``utility_micro_eur`` (the imbalance settled with the
    utility), ``baseline_micro_eur`` (utility alone), ``planned_micro_eur`` (the ordered
    imbalance at tariff), ``delivered_wh`` (what the owner sold that its metered export covers:
    ``min(sold, export)``, the P2P energy physically delivered), ``beyond_deficit_wh`` (what
    it bought beyond its metered import: ``max(bought - import, 0)``, sold back at feed-in)
    and ``fee_paid_micro_eur`` (protocol fees the owner paid as seller).
    """

    energy_wh: WhArray
    payment_micro_eur: MicroEurArray
    grid_fee_micro_eur: MicroEurArray
    curtailed_wh: WhArray
    bought_wh: WhArray
    sold_wh: WhArray
    paid_micro_eur: MicroEurArray
    import_wh: WhArray
    export_wh: WhArray
    utility_micro_eur: MicroEurArray
    baseline_micro_eur: MicroEurArray
    planned_micro_eur: MicroEurArray
    delivered_wh: WhArray
    beyond_deficit_wh: WhArray
    protocol_fee_micro_eur: MicroEurArray
    fee_paid_micro_eur: MicroEurArray

    @property
    def cost_micro_eur(self) -> MicroEurArray:
        """Each owner's cost per interval: P2P payments plus the utility bill."""
        return MicroEurArray(self.paid_micro_eur + self.utility_micro_eur)

    @property
    def forecast_error_cost_micro_eur(self) -> MicroEurArray:
        """What the imbalance cost beyond the imbalance the owner planned."""
        return MicroEurArray(self.utility_micro_eur - self.planned_micro_eur)


def settle_block(
    interval: np.ndarray,
    seller: np.ndarray,
    buyer: np.ndarray,
    cleared_wh: np.ndarray,
    price_eur_per_mwh: np.ndarray,
    fee_eur_per_mwh: np.ndarray,
    *,
    actual_wh: np.ndarray,
    curtailed_wh: np.ndarray,
    position_wh: np.ndarray,
    import_eur_per_mwh: np.ndarray,
    export_eur_per_mwh: np.ndarray,
    protocol_fee_bps: int = 0,
) -> SettledBlock:
    """Settle a block of cleared intervals on their metered energy.

    Parameters
    ----------
    interval, seller, buyer : ndarray of int
        Each trade's interval (row of the per-owner arrays), seller and buyer.
    cleared_wh : ndarray of int
        Each trade's energy as cleared [Wh].
    price_eur_per_mwh, fee_eur_per_mwh : ndarray of float
        Each trade's price and grid fee rate [EUR/MWh].
    actual_wh, curtailed_wh, position_wh : ndarray of int, shape (interval, owner)
        Each owner's metered net energy, its curtailed generation and its ordered position
        [Wh], import positive.
    import_eur_per_mwh, export_eur_per_mwh : ndarray, shape (interval, 1)
        The tariff of each interval [EUR/MWh].
    protocol_fee_bps : int
        The protocol fee [basis points of each trade's payment], paid by the seller to the
        treasury (:func:`settlement.economy.fees.protocol_fees`); 0: none.
    """
    n_t, n = actual_wh.shape
    sold0 = np.zeros(n_t * n, dtype=np.int64)
    np.add.at(sold0, interval * n + seller, cleared_wh)
    cut = np.minimum(curtailed_wh, sold0.reshape(n_t, n))
    energy = cut_trades(interval, seller, cleared_wh, cut)
    pay = np.rint(energy * price_eur_per_mwh).astype(np.int64)
    fee = np.rint(energy * fee_eur_per_mwh).astype(np.int64)

    def per_owner(who: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(n_t * n, dtype=np.int64)
        np.add.at(out, interval * n + who, values)
        return out.reshape(n_t, n)

    bought, sold = per_owner(buyer, energy), per_owner(seller, energy)
    protocol = protocol_fees(pay, protocol_fee_bps)
    paid = -net_payments(buyer, seller, pay, fee, n, interval, n_t, protocol)[:, :n]
    traded = bought - sold
    imp, exp, utility = utility_bill(actual_wh - traded, import_eur_per_mwh, export_eur_per_mwh)
    baseline = utility_bill(actual_wh, import_eur_per_mwh, export_eur_per_mwh)[2]
    planned = utility_bill(position_wh - traded, import_eur_per_mwh, export_eur_per_mwh)[2]
    return SettledBlock(
        energy_wh=energy,
        payment_micro_eur=MicroEurArray(pay),
        grid_fee_micro_eur=MicroEurArray(fee),
        curtailed_wh=WhArray(cleared_wh - energy),
        bought_wh=WhArray(bought),
        sold_wh=WhArray(sold),
        paid_micro_eur=MicroEurArray(paid),
        import_wh=WhArray(imp),
        export_wh=WhArray(exp),
        utility_micro_eur=MicroEurArray(utility),
        baseline_micro_eur=MicroEurArray(baseline),
        planned_micro_eur=MicroEurArray(planned),
        delivered_wh=WhArray(np.minimum(sold, np.maximum(-actual_wh, 0))),
        beyond_deficit_wh=WhArray(np.maximum(bought - np.maximum(actual_wh, 0), 0)),
        protocol_fee_micro_eur=protocol,
        fee_paid_micro_eur=MicroEurArray(per_owner(seller, protocol)),
    )
