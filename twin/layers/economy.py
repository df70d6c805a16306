"""The economy layer: the community's DAO and treasury on the run's chain, and the protocol
fees that fill it.

Built after the chain layer (and only with it), it deploys the DAO at the start
(:meth:`settlement.economy.dao.CommunityDao.deploy`: CommunityVotes minted to the members as
``economy.votes`` says, CommunityTimelock, CommunityGovernor and the Treasury the timelock
owns) and hands the Treasury's address to the chain layer
(:meth:`twin.layers.chain.ChainLayer.add_treasury`) before any batch closes: from then on
every batch's net payments carry the batch's protocol fees (kept by the market from the
sellers' receipts) to the treasury, the last participant. No member's funds move by any new
contract: the fee is a smaller receipt, not a debit, and only the timelock, after a passed
proposal, can make the treasury pay.

At the end (after the chain layer's :meth:`~twin.layers.chain.ChainLayer.finish`: batches
final) it returns the ``treasury`` table, one row a movement: an inflow per batch that paid
fees (its batch, when it became final, the amount from the journaled net payments, the commit
transaction), a ``shortfall`` row (negative) for a batch whose payers fell short and paid the
treasury less (``Settlement.sol``: the cut read from the chain), and outflows (none until a
proposal executes); the KPIs ``protocol_fees_eur``
(the trades' fees) and ``treasury_balance_eur`` (read on chain); and the DAO's addresses in
the manifest's ``chain.addresses``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import simpy

from settlement.chain.batches import batch_of
from settlement.economy.dao import CommunityDao, DaoSettings
from settlement.units import MICRO_EUR_PER_EUR, TokenUnits
from twin.layers.base import Chunk, LayerOutput, Process
from twin.layers.chain import ChainLayer
from twin.layers.context import LayerContext


def member_votes(kind: str, owner_idx: np.ndarray, n_owners: int) -> list[TokenUnits]:
    """Each member's votes [base units, one vote each]: ``equal`` (one a member) or
    ``by_nodes`` (one per node the member owns)."""
    if kind == "equal":
        return [TokenUnits(1)] * n_owners
    if kind == "by_nodes":
        return [TokenUnits(int(n)) for n in np.bincount(owner_idx, minlength=n_owners)]
    raise ValueError(f"economy.votes: unknown distribution {kind!r}")


class EconomyLayer:
    """The DAO and treasury of a run, and the ``treasury`` table.

    Parameters
    ----------
    ctx : LayerContext
        The run being built: ``[economy]``, the owners and their nodes.
    chain : ChainLayer
        The run's chain layer: its chain, its members' addresses; it is told the treasury.
    """

    name = "economy"

    def __init__(self, ctx: LayerContext, chain: ChainLayer) -> None:
        config = ctx.scenario.economy
        self.chain_layer = chain
        self.batch_intervals = ctx.batch_intervals
        n = len(ctx.owners)
        members = chain.addresses[:n]
        settings = DaoSettings(
            voting_delay_blocks=config.voting_delay_blocks,
            voting_period_blocks=config.voting_period_blocks,
            quorum_percent=config.quorum_percent,
            timelock_delay_s=config.timelock_delay_s,
        )
        votes = member_votes(config.votes, ctx.owner_idx, n)
        self.dao = CommunityDao.deploy(chain.chain, members, votes, settings)
        self.treasury = self.dao.addresses["Treasury"]
        chain.add_treasury(self.treasury)
        chain.admin = self.dao.addresses["CommunityTimelock"]  # the contracts' admin from start
        self.fees_micro_eur: dict[int, int] = {}

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing happens between chunks."""

    def add(self, chunk: Chunk) -> None:
        """Sum the chunk's protocol fees per batch."""
        t = chunk.trades
        if t is None or not len(t.trade_id):
            return
        batch = batch_of(chunk.first + t.interval, self.batch_intervals)
        for b in np.unique(batch):
            fee = int(t.protocol_fee_micro_eur[batch == b].sum())
            self.fees_micro_eur[int(b)] = self.fees_micro_eur.get(int(b), 0) + fee

    def finish(self) -> LayerOutput:
        """The ``treasury`` table, the fee and balance KPIs, the DAO's addresses."""
        rows: dict[str, list[object]] = {
            "batch_id": [],
            "time": [],
            "kind": [],
            "amount_micro_eur": [],
            "tx_hash": [],
        }
        for batch in self.chain_layer.settled:
            if self.treasury not in batch.accounts:
                continue
            amount = batch.net_amounts[batch.accounts.index(self.treasury)]
            rows["batch_id"].append(batch.batch_id)
            rows["time"].append(self.chain_layer.final_time(batch.batch_id))
            rows["kind"].append("protocol_fees")
            rows["amount_micro_eur"].append(int(amount))
            rows["tx_hash"].append(batch.tx_hash)
        # a batch whose payers fell short paid the treasury less, pro rata (Settlement.sol)
        chain = self.chain_layer.chain
        cuts = chain.credit_cuts(self.treasury, self.chain_layer.first_block)
        for batch in self.chain_layer.settled:
            if cut := cuts.get(batch.batch_id, 0):
                rows["batch_id"].append(batch.batch_id)
                rows["time"].append(self.chain_layer.final_time(batch.batch_id))
                rows["kind"].append("shortfall")
                rows["amount_micro_eur"].append(-cut)
                rows["tx_hash"].append(batch.tx_hash)
        fees = sum(self.fees_micro_eur.values())
        balance = int(self.dao.treasury_balance())
        eur = float(MICRO_EUR_PER_EUR)
        return LayerOutput(
            kpis={
                "protocol_fees_eur": (fees / eur, "EUR"),
                "treasury_balance_eur": (balance / eur, "EUR"),
            },
            tables={
                "treasury": {
                    "batch_id": pa.array(rows["batch_id"], pa.int64()),
                    "time": pa.array(rows["time"], pa.timestamp("us")),
                    "kind": pa.array(rows["kind"], pa.string()),
                    "amount_micro_eur": pa.array(rows["amount_micro_eur"], pa.int64()),
                    "tx_hash": pa.array(rows["tx_hash"], pa.string()),
                }
            },
            manifest={"chain": {"addresses": dict(self.dao.addresses)}},
        )
