"""The economy layer: the community's DAO and treasury on the run's chain, the protocol fees
that fill it, the members' contributions, the proposals they vote on and the assets they own.

Built after the chain layer (and only with it), it deploys the DAO at the start
(:meth:`settlement.economy.dao.CommunityDao.deploy`: CommunityVotes minted to the members as
``economy.votes`` says, CommunityTimelock, CommunityGovernor and the Treasury the timelock
owns) and hands the Treasury's address to the chain layer
(:meth:`twin.layers.chain.ChainLayer.add_treasury`) before any batch closes: from then on
every batch's net payments carry the batch's protocol fees (kept by the market from the
sellers' receipts) to the treasury, the last participant.

The members are the homes (the node owners but the ``community``'s turbine and the assets).
Each pays ``economy.contribution_eur`` into the treasury at the start by its own signed
transfer, and, when there are proposals, delegates its votes to itself by its own signed
delegation (the operator submits it and pays the gas). Every ``[[economy.proposals]]`` is made
on its day: each member's projected benefit comes from a what-if (:mod:`twin.whatif`), each
votes by its own signed ballot, and a passed proposal is queued in the timelock and executed
after its delay: the treasury pays the vendor, and the asset (a shared battery,
:class:`grid.nodes.SharedBatteries`) is in the grid from the next interval on, with its shares
minted to the funders (:mod:`twin.layers.assets`). A defeated proposal changes nothing. Every
batch each asset's net receipt is paid to its share holders.

The community timelock is the admin of the run's contracts from the start (the chain layer
hands them over to it): the operator only commits and pauses. With the ``revenue`` emission
schedule the operator owns the Treasury during set-up only, to name its buyback once
(:mod:`twin.layers.buyback`); the Treasury is handed to the timelock with the rest.

At the end (after the chain layer's :meth:`~twin.layers.chain.ChainLayer.finish`: batches
final) it returns the ``treasury`` table (every inflow and outflow, and a ``shortfall`` row,
negative, for a batch whose payers fell short and paid the treasury less: ``Settlement.sol``'s
cut read from the chain), ``proposals`` and ``ballots``, ``asset_shares`` and
``asset_payouts``; KPIs; the new contracts' addresses.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import simpy
from hexbytes import HexBytes

from settlement.chain.batches import batch_of
from settlement.chain.participants import participant_addresses
from settlement.economy.ballots import Support
from settlement.economy.consent import transfer_credits
from settlement.economy.dao import CommunityDao, DaoSettings, Proposal, ProposalState
from settlement.market.accounts import account_kind
from settlement.units import MICRO_EUR_PER_EUR, MicroEur, TokenUnits, eur_to_micro_eur
from twin.layers.assets import AssetAccount, asset_tables, open_asset, pay_holders
from twin.layers.base import Chunk, JsonValue, LayerOutput, Process
from twin.layers.chain import ChainLayer
from twin.layers.context import LayerContext
from twin.layers.proposals import ProposalRecord, proposal_tables, time_at
from twin.scenario.economy import AssetConfig
from twin.whatif import project

#: The account that sells the community its assets (paid by the treasury).
VENDOR = "asset-vendor"


def member_votes(kind: str, owner_idx: np.ndarray, n_owners: int) -> list[TokenUnits]:
    """Each member's votes [base units, one vote each]: ``equal`` (one a member) or
    ``by_nodes`` (one per node the member owns)."""
    if kind == "equal":
        return [TokenUnits(1)] * n_owners
    if kind == "by_nodes":
        return [TokenUnits(int(n)) for n in np.bincount(owner_idx, minlength=n_owners)]
    raise ValueError(f"economy.votes: unknown distribution {kind!r}")


def is_member(owner: str) -> bool:
    """Whether an owner is a member (a home): not the community's turbine, not an asset
    (:func:`settlement.market.accounts.account_kind`)."""
    return account_kind(owner) == "home"


class EconomyLayer:
    """The DAO and treasury of a run, its proposals and assets; see the module docstring.

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
        self.config = config
        self.scenario = ctx.scenario
        self.twin = ctx.twin
        self.chain_layer = chain
        self.batch_intervals = ctx.batch_intervals
        self.interval_s = ctx.scenario.run.interval_s
        self.n_intervals = ctx.scenario.run.n_intervals
        self.stamps = ctx.stamps
        seed = ctx.scenario.run.seed
        owners = [str(o) for o in ctx.owners]
        self.member_pos = [i for i, o in enumerate(owners) if is_member(o)]
        self.members = [owners[i] for i in self.member_pos]
        self.member_addresses = [chain.addresses[i] for i in self.member_pos]
        self.member_keys = [chain.key_of(o) for o in self.members]
        self.account_of = dict(zip(owners, chain.addresses, strict=False))
        settings = DaoSettings(
            voting_delay_blocks=config.voting_delay_blocks,
            voting_period_blocks=config.voting_period_blocks,
            quorum_percent=config.quorum_percent,
            timelock_delay_s=config.timelock_delay_s,
        )
        votes = member_votes(config.votes, ctx.owner_idx, len(owners))
        self.votes = [votes[i] for i in self.member_pos]
        cc = chain.chain
        devices = ctx.scenario.devices
        # the revenue schedule's buyback is named by the Treasury's owner at set-up (the
        # devices layer), then the timelock owns the Treasury (the chain layer's hand-overs)
        setup = devices.enabled and devices.emission.schedule == "revenue"
        self.dao = CommunityDao.deploy(
            cc,
            self.member_addresses,
            self.votes,
            settings,
            treasury_setup=setup,
            gas_budget=chain.settler.gas_budget(),
        )
        if setup:
            chain.hand_overs.append(lambda admin: self.dao.hand_over_treasury())
        self.treasury = self.dao.addresses["Treasury"]
        self.timelock = self.dao.addresses["CommunityTimelock"]
        chain.add_treasury(self.treasury)
        self.vendor = participant_addresses([VENDOR], seed)[0]
        chain.admin = self.timelock  # the contracts' admin from the start
        self.fees_micro_eur: dict[int, int] = {}
        #: Treasury movements other than batch fees: (time_s, kind, account, amount, tx).
        self.movements: list[tuple[float, str, str, int, str]] = []
        self.contributions = np.zeros(len(self.members), dtype=np.int64)
        contribution = eur_to_micro_eur(config.contribution_eur)
        if contribution:
            for i, key in enumerate(self.member_keys):
                receipt = transfer_credits(
                    cc, key, self.treasury, MicroEur(contribution), fund_gas=True
                )
                tx = HexBytes(receipt["transactionHash"]).to_0x_hex()
                self.movements.append(
                    (0.0, "contribution", self.member_addresses[i], contribution, tx)
                )
                self.contributions[i] = contribution
        if config.proposals:  # something to vote on: each member's own delegation to itself
            for key in self.member_keys:
                self.dao.delegate_by_sig(self.dao.sign_delegation(key))
        self.assets: list[AssetAccount] = []
        self.in_service: list[AssetConfig] = []
        for asset in config.assets:
            self._open(asset)
        self.proposals = [ProposalRecord(p) for p in config.proposals]
        self.queued: dict[int, Proposal] = {}
        self.closed_batches = 0

    def _open(self, asset: AssetConfig) -> None:
        name = f"asset-{asset.name}"
        self.assets.append(
            open_asset(
                self.chain_layer.chain,
                asset.name,
                self.account_of[name],
                self.chain_layer.key_of(name),
                self.member_addresses,
                self.contributions,
                admin=self.timelock,
                proceeds=self.treasury,
            )
        )
        self.in_service.append(asset)

    def start(self, env: simpy.Environment) -> list[Process]:
        """The governance process, when there are proposals."""
        return [self._governance(env)] if self.proposals else []

    def _governance(self, env: simpy.Environment) -> Process:
        end_s = self.n_intervals * self.interval_s
        for record in sorted(self.proposals, key=lambda r: r.config.day):
            at_s = int(record.config.day * 86_400) // self.interval_s * self.interval_s
            if at_s >= end_s:
                break
            if at_s > env.now:
                yield env.timeout(at_s - env.now)
            record.time_s = env.now
            passed = self._vote(record)
            if not passed:
                continue
            delay = self.config.timelock_delay_s
            if env.now + delay >= end_s:
                record.state = "queued"
                continue
            yield env.timeout(delay)
            self._execute(record, env.now)

    def _vote(self, record: ProposalRecord) -> bool:
        """Project, propose, collect the members' signed ballots, close the vote; queue a
        passed proposal. Whether it passed."""
        p = record.config
        share = (
            self.contributions / self.contributions.sum()
            if self.contributions.any()
            else np.full(len(self.members), 1.0 / len(self.members))
        )
        projection = project(self.scenario, p, list(self.in_service), self.members, share)
        record.whatif_s = projection.wall_s
        cost = eur_to_micro_eur(p.cost_eur)
        proposal = self.dao.treasury_payment(
            self.vendor, MicroEur(cost), f"asset {p.asset.name}", p.description
        )
        self.dao.propose(proposal)
        pid = self.dao.proposal_id(proposal)
        record.proposal_id = pid
        self.dao.advance_to_voting(pid)
        for i, key in enumerate(self.member_keys):
            benefit = int(projection.benefit_micro_eur[i])
            support = Support.FOR if benefit > 0 else Support.AGAINST
            self.dao.cast_vote_by_sig(self.dao.sign_ballot(key, pid, support))
            saving = int(projection.saving_micro_eur[i])
            record.ballots.append(
                (self.members[i], int(self.votes[i]), int(support), saving, benefit)
            )
        self.dao.advance_past_voting(pid)
        state = self.dao.state(pid)
        record.votes = tuple(self.dao.proposal_votes(pid))  # type: ignore[assignment]
        record.quorum = self.dao.quorum_votes(pid)
        if state != ProposalState.SUCCEEDED:
            record.state = state.name.lower()
            return False
        self.dao.queue(proposal)
        record.state = "queued"
        self.queued[pid] = proposal
        return True

    def _execute(self, record: ProposalRecord, now_s: float) -> None:
        pid = record.proposal_id
        proposal = self.queued[pid]
        cost = eur_to_micro_eur(record.config.cost_eur)
        if int(self.dao.treasury_balance()) < cost:  # the timelock's call would revert
            record.state = "unfunded"
            return
        self.dao.advance_past_timelock(pid)
        receipt = self.dao.execute(proposal)
        tx = HexBytes(receipt["transactionHash"]).to_0x_hex()
        record.state = "executed"
        record.executed_s = now_s
        record.tx_hash = tx
        self.movements.append((now_s, "asset_purchase", self.vendor, -cost, tx))
        # the interval running now has been metered: the asset is there from the next one
        k = int(now_s // self.interval_s) + 1
        record.in_service_from = k
        shared = self.twin.shared
        assert shared is not None
        node = self.twin.nodes.position(f"asset-{record.config.asset.name}")
        shared.commission(int(np.flatnonzero(shared.rows == node)[0]), k)
        self._open(record.config.asset)

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing happens between chunks."""

    def add(self, chunk: Chunk) -> None:
        """Sum the chunk's protocol fees per batch; pay each asset's receipt in every batch
        the chunk closed to its holders."""
        t = chunk.trades
        if t is not None and len(t.trade_id):
            batch = batch_of(chunk.first + t.interval, self.batch_intervals)
            for b in np.unique(batch):
                fee = int(t.protocol_fee_micro_eur[batch == b].sum())
                self.fees_micro_eur[int(b)] = self.fees_micro_eur.get(int(b), 0) + fee
        closed = self.chain_layer.open.index
        while self.closed_batches < closed:
            b = self.closed_batches
            self.closed_batches += 1
            if not self.assets:
                continue
            plan = self.chain_layer.ledger.batch(b)
            for asset in self.assets:
                receipt = 0
                if asset.address in plan.accounts:
                    receipt = int(plan.net_amounts[plan.accounts.index(asset.address)])
                budget = self.chain_layer.settler.gas_budget()
                pay_holders(self.chain_layer.chain, asset, b, receipt, budget)

    def finish(self) -> LayerOutput:
        """The economy's tables, KPIs and the new contracts' addresses."""
        rows: dict[str, list[object]] = {
            "batch_id": [],
            "time": [],
            "kind": [],
            "account": [],
            "amount_micro_eur": [],
            "tx_hash": [],
        }

        def row(
            batch: int | None, when: object, kind: str, account: str, amount: int, tx: object
        ) -> None:
            for name, value in zip(rows, (batch, when, kind, account, amount, tx), strict=True):
                rows[name].append(value)

        for when_s, kind, account, amount, tx in self.movements:
            if when_s == 0.0:
                row(None, time_at(self.stamps, 0.0), kind, account, amount, tx)
        for batch in self.chain_layer.settled:
            if self.treasury not in batch.accounts:
                continue
            amount = batch.net_amounts[batch.accounts.index(self.treasury)]
            final = self.chain_layer.final_time(batch.batch_id)
            row(batch.batch_id, final, "protocol_fees", "", int(amount), batch.tx_hash)
        for when_s, kind, account, amount, tx in self.movements:
            if when_s != 0.0:
                row(None, time_at(self.stamps, when_s), kind, account, amount, tx)
        # a batch whose payers fell short paid the treasury less, pro rata (Settlement.sol)
        cuts = self.chain_layer.chain.credit_cuts(self.treasury, self.chain_layer.first_block)
        for batch in self.chain_layer.settled:
            if cut := cuts.get(batch.batch_id, 0):
                final = self.chain_layer.final_time(batch.batch_id)
                row(batch.batch_id, final, "shortfall", "", -cut, batch.tx_hash)
        fees = sum(self.fees_micro_eur.values())
        balance = int(self.dao.treasury_balance())
        eur = float(MICRO_EUR_PER_EUR)
        paid = sum(p[3] for a in self.assets for p in a.payouts)
        executed = sum(r.state == "executed" for r in self.proposals)
        addresses: dict[str, JsonValue] = dict(self.dao.addresses)
        for asset in self.assets:
            addresses[f"AssetShares:{asset.name}"] = asset.shares.address
        return LayerOutput(
            kpis={
                "protocol_fees_eur": (fees / eur, "EUR"),
                "treasury_balance_eur": (balance / eur, "EUR"),
                "contributions_eur": (float(self.contributions.sum()) / eur, "EUR"),
                "proposals": (float(len(self.proposals)), "count"),
                "proposals_executed": (float(executed), "count"),
                "asset_payouts_eur": (paid / eur, "EUR"),
            },
            tables={
                "treasury": {
                    "batch_id": pa.array(rows["batch_id"], pa.int64()),
                    "time": pa.array(rows["time"], pa.timestamp("us")),
                    "kind": pa.array(rows["kind"], pa.string()),
                    "account": pa.array(rows["account"], pa.string()),
                    "amount_micro_eur": pa.array(rows["amount_micro_eur"], pa.int64()),
                    "tx_hash": pa.array(rows["tx_hash"], pa.string()),
                },
                **proposal_tables(self.proposals, self.stamps),
                **asset_tables(self.assets),
            },
            manifest={"chain": {"addresses": addresses}},
        )
