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
    sellers: list[str] = addr[seller].tolist()  # Python str, as str(a) of each gives
    buyers: list[str] = addr[buyer].tolist()
    leaves = trade_leaves(batch_id, trade_id, sellers, buyers, energy_wh, payment_micro_eur)
    return BatchPlan(
        trades_root=merkle_root(leaves),
        energy_wh=Wh(int(energy_wh.sum())),
        accounts=[str(a) for a in addr[who]],
        amounts_micro_eur=[MicroEur(int(x)) for x in net[who]],
        sellers=sellers,
        buyers=buyers,
    )


#: Gas bound of ``Settlement.openBatch``, the header of a split batch.
OPEN_GAS = 200_000


def commit_gas(accounts: int) -> int:
    """A gas bound for ``commitBatch`` (or one ``settleChunk``) with ``accounts`` accounts:
    every account a new holder, and a shortfall's debt and claim records."""
    return 150_000 + 60_000 * accounts


def accounts_per_tx(gas_budget: int) -> int:
    """The most accounts one ``commitBatch`` or ``settleChunk`` may carry within
    ``gas_budget`` [gas] (by :func:`commit_gas`'s bound).

    Raises
    ------
    ValueError
        When not even one account fits, or the header (:data:`OPEN_GAS`) does not.
    """
    n = (gas_budget - commit_gas(0)) // (commit_gas(1) - commit_gas(0))
    if n < 1 or gas_budget < OPEN_GAS:
        raise ValueError(f"a gas budget of {gas_budget:,} fits no account of a batch")
    return n


def payers_first(accounts: list[str], net_amounts: list[int]) -> tuple[list[str], list[int]]:
    """The accounts in the order a split batch settles them: payers (negative), then the
    others, each group in its given order (so receivers' pro-rata cuts are the same as in
    one ``commitBatch``)."""
    order = [i for i, x in enumerate(net_amounts) if x < 0]
    order += [i for i, x in enumerate(net_amounts) if x >= 0]
    return [accounts[i] for i in order], [int(net_amounts[i]) for i in order]


def split_batch(
    accounts: list[str], net_amounts: list[int], per_tx: int
) -> list[tuple[list[str], list[int]]]:
    """A batch's accounts in chunks of at most ``per_tx``, payers first (:func:`payers_first`);
    one chunk (in the given order) when they fit in one transaction."""
    if len(accounts) <= per_tx:
        return [(list(accounts), [int(x) for x in net_amounts])]
    ordered, amounts = payers_first(accounts, net_amounts)
    return [
        (ordered[i : i + per_tx], amounts[i : i + per_tx]) for i in range(0, len(ordered), per_tx)
    ]
