"""Batches: which trades settle together, and what a batch commits.

Every ``batch_hours`` of simulated time the settled trades become one batch. A batch commits
the Merkle root of its trades (:func:`settlement.chain.merkle.trade_leaves`) and every
participant's net payment (:func:`settlement.market.bills.net_payments`: buyers pay, sellers
receive less the grid fee and the protocol fee, the grid operator receives the grid fees and
the treasury, a participant after the grid operator, the protocol fees; they sum to zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from settlement.chain.merkle import merkle_root, trade_leaves
from settlement.market.bills import net_payments
from settlement.units import MicroEur, Wh


def batch_intervals(batch_hours: int, interval_s: int) -> int:
    """Intervals in one batch.

    Raises
    ------
    ValueError
        When ``batch_hours`` is not a positive whole number of intervals.
    """
    span_s = batch_hours * 3600
    if interval_s <= 0 or span_s <= 0 or span_s % interval_s:
        raise ValueError(
            f"batch_hours={batch_hours} is not a whole number of {interval_s} s intervals"
        )
    return span_s // interval_s


def batch_of(interval: np.ndarray, intervals_per_batch: int) -> np.ndarray:
    """The batch of each interval index (int64)."""
    return np.asarray(interval, dtype=np.int64) // intervals_per_batch


@dataclass(frozen=True)
class BatchPlan:
    """What one batch commits, before it is journaled.

    Attributes
    ----------
    trades_root : bytes
        Merkle root of the batch's trade leaves.
    energy_wh : Wh
        Energy of the batch's trades.
    accounts : list of str
        Addresses with a non-zero net payment, in participant order.
    amounts_micro_eur : list of MicroEur
        Their net receipts (negative: they pay).
    sellers, buyers : list of str
        Each trade's seller and buyer address.
    """

    trades_root: bytes
    energy_wh: Wh
    accounts: list[str]
    amounts_micro_eur: list[MicroEur]
    sellers: list[str]
    buyers: list[str]


def plan_batch(
    batch_id: int,
    trade_id: np.ndarray,
    seller: np.ndarray,
    buyer: np.ndarray,
    energy_wh: np.ndarray,
    payment_micro_eur: np.ndarray,
    grid_fee_micro_eur: np.ndarray,
    addresses: list[str],
    protocol_fee_micro_eur: np.ndarray | None = None,
) -> BatchPlan:
    """The batch's root and net payments.

    Parameters
    ----------
    batch_id : int
        The batch.
    trade_id, seller, buyer, energy_wh, payment_micro_eur, grid_fee_micro_eur : ndarray of int
        The batch's trades; sellers and buyers index ``addresses``.
    addresses : list of str
        Every participant's address: the members', the grid operator's, then, with a protocol
        fee, the treasury's last.
    protocol_fee_micro_eur : ndarray of int, optional
        Each trade's protocol fee, paid by its seller to the treasury; ``None``: no treasury.
    """
    members = len(addresses) - 1 - (protocol_fee_micro_eur is not None)
    net = net_payments(
        buyer,
        seller,
        payment_micro_eur,
        grid_fee_micro_eur,
        members,
        protocol_fee_micro_eur=protocol_fee_micro_eur,
    )[0]
    who = np.flatnonzero(net)
    addr = np.array(addresses)
    sellers = [str(a) for a in addr[seller]]
    buyers = [str(a) for a in addr[buyer]]
    leaves = trade_leaves(batch_id, trade_id, sellers, buyers, energy_wh, payment_micro_eur)
    return BatchPlan(
        trades_root=merkle_root(leaves),
        energy_wh=Wh(int(energy_wh.sum())),
        accounts=[str(a) for a in addr[who]],
        amounts_micro_eur=[MicroEur(int(x)) for x in net[who]],
        sellers=sellers,
        buyers=buyers,
    )
