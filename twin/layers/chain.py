"""The chain layer: batches of trades, journaled, committed exactly once.

Every ``chain.batch_hours`` of simulated time the settled trades of the batch (the market
layer's :attr:`~twin.layers.base.Chunk.trades`) become one batch
(:func:`settlement.chain.batches.plan_batch`: its Merkle root and net payments) and are
journaled (:mod:`settlement.chain.ledger`) the moment the batch closes. A SimPy process then
settles the batches in order: it waits out chain outages (batches queue meanwhile and catch up
after), sends the batch (:mod:`settlement.chain.settler`), and waits ``confirmations x
block_time_s`` of simulated time for it to be final. The sending is real: a transaction on the
embedded chain or on the node at ``chain.rpc_url``.

At the start every participant (each owner, and the grid operator) gets a key (derived from
the run's seed on the embedded chain, fresh on an RPC chain:
:mod:`settlement.chain.participants`) and ``credits_eur`` of EnergyCredit, the token trades
are paid in (the token's cap is exactly what is minted), and signs with its own key an
ERC-2612 permit that lets the Settlement contract move up to ``consent_eur`` of its credits:
its consent (``Settlement.sol``). Before the run starts the operator hands the contracts'
admin to a timelock (the DAO's when the economy layer runs, else one of the chain's own with no
proposer: roles frozen) and
keeps only the right to commit batches (and pause): :meth:`ChainLayer.start`. A
community treasury (the economy layer's, :meth:`ChainLayer.add_treasury`) joins as the last
participant before the first batch closes: it receives each batch's protocol fees in the
batch's net payments, and no minted credits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import simpy

from settlement.chain.batches import plan_batch
from settlement.chain.embedded import save_embedded
from settlement.chain.errors import ChainError
from settlement.chain.ledger import Batch, Ledger
from settlement.chain.operator import connect
from settlement.chain.outages import outage_end, outage_windows
from settlement.chain.participants import key_address, participant_keys
from settlement.chain.settler import Settler
from settlement.chain.transactions import ONE_OFF, scan_transactions
from settlement.units import MICRO_EUR_PER_EUR, eur_to_micro_eur
from twin.layers.base import Chunk, Columns, Kpis, LayerOutput, Process, TradeColumns
from twin.layers.context import LayerContext

#: The participant that receives grid fees.
GRID_OPERATOR = "grid-operator"
#: The participant that receives protocol fees (when there is a treasury).
TREASURY = "treasury"


@dataclass
class _Open:
    """The batch being filled."""

    index: int
    parts: list[TradeColumns] = field(default_factory=list)


@dataclass
class BatchTimes:
    """When a batch closed, was sent and became final [simulated s]."""

    closed_s: float
    sent_s: float = float("nan")
    final_s: float = float("nan")


class ChainLayer:
    """The run's settlement: participants, the journal, the chain and the SimPy process.

    Parameters
    ----------
    ctx : LayerContext
        The run being built: ``[chain]``, the participants, the run's folder (the journal and
        the saved chain go there) and its ``chain`` random stream (outages).
    """

    name = "chain"

    def __init__(self, ctx: LayerContext) -> None:
        run = ctx.scenario.run
        config = ctx.scenario.chain
        self.config = config
        self.interval_s = run.interval_s
        self.batch_intervals = ctx.batch_intervals
        self.stamps = ctx.stamps
        self.names = [*map(str, ctx.owners), GRID_OPERATOR]
        self.chain = connect(config.rpc_url, config.private_key_env)
        keys = participant_keys(self.names, run.seed, from_seed=self.chain.kind == "embedded")
        self.addresses = [key_address(k) for k in keys]
        #: Each participant's key by name, in memory only (never written): what the other
        #: layers sign a participant's own consent with (stakes, contributions, payouts).
        self._keys = dict(zip(self.names, keys, strict=True))
        self.credits = eur_to_micro_eur(config.credits_eur)
        sales = ctx.scenario.devices.data_sales
        #: Credits the data buyer is minted by the data-sales layer, within the cap.
        self.buyer_credits = eur_to_micro_eur(sales.buyer_credits_eur) if sales.enabled else 0
        self.chain.credit_cap = max(self.credits * len(self.addresses) + self.buyer_credits, 1)
        self.first_block = self.chain.block_number() + 1  # the run's transactions start here
        self.workdir = ctx.writer.tmp
        self.ledger = Ledger(self.workdir / "ledger.sqlite")
        self.settler = Settler(
            self.ledger, self.chain, config.confirmations, max_tx_gas=config.max_tx_gas
        )
        self.ledger.set_meta("chain", self.chain.manifest())
        self.minted = 0
        if self.credits:
            self.chain.mint_credits(self.addresses, self.credits)
            self.minted = self.credits * len(self.addresses)
        consent = eur_to_micro_eur(config.consent_eur)
        if consent:
            self.chain.consent(keys, consent)
        #: The timelock that gets the contracts' admin at :meth:`start` (None: one of its own).
        self.admin: str | None = None
        #: More contracts whose transactions from any sender the ``transactions`` table keeps
        #: (beside the operator's): a member's own approval to the DeviceRegistry for a sale.
        self.watched: list[str] = []
        #: More hand-overs to run at :meth:`start` with the admin's address (DePIN contracts).
        self.hand_overs: list[Callable[[str], None]] = []
        self.outages = outage_windows(
            [(o.start_h, o.duration_h) for o in config.outages],
            config.outage_rate_per_day,
            config.outage_mean_duration_h,
            float(run.n_intervals * run.interval_s),
            ctx.streams["chain"],
        )
        self.queue: simpy.Store | None = None
        self.open = _Open(0)
        self.times: dict[int, BatchTimes] = {}
        self.roles = ["member"] * len(ctx.owners) + ["grid_operator"]
        self.treasury: str | None = None
        self.settled: list[Batch] = []

    def key_of(self, name: str) -> bytes:
        """The private key of participant ``name`` (an owner, or the grid operator)."""
        return self._keys[name]

    def add_treasury(self, address: str) -> None:
        """Pay protocol fees to ``address`` (a Treasury contract), the last participant.

        Raises
        ------
        ValueError
            When a batch has already closed (its fees would be lost) or a treasury is set.
        """
        if self.treasury is not None or self.open.index or self.open.parts:
            raise ValueError("the treasury must join before the first batch, once")
        self.treasury = address
        self.names.append(TREASURY)
        self.addresses.append(address)
        self.roles.append("treasury")

    def start(self, env: simpy.Environment) -> list[Process]:
        """Hand the admin over to the timelock; the process that settles closed batches."""
        if self.admin is None:
            self.admin = self.chain.deploy_admin_timelock()
        self.chain.hand_over(self.admin)
        for hand_over in self.hand_overs:
            hand_over(self.admin)
        self.queue = simpy.Store(env)
        return [self._settle(env)]

    def _settle(self, env: simpy.Environment) -> Process:
        assert self.queue is not None
        latency = self.config.confirmations * self.config.block_time_s
        while True:
            batch_id = yield self.queue.get()
            assert isinstance(batch_id, int)
            times = self.times[batch_id]
            if env.now < times.closed_s:
                yield env.timeout(times.closed_s - env.now)
            end = outage_end(self.outages, env.now)
            if end > env.now:
                yield env.timeout(end - env.now)
            times.sent_s = env.now
            self.settler.submit(batch_id, check_chain=False)  # journaled here, never sent
            yield env.timeout(latency)
            self.settler.confirm(batch_id)
            self.settler.mine(self.config.confirmations)
            self.settler.finalize()
            times.final_s = env.now

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing happens on chain between chunks."""

    def add(self, chunk: Chunk) -> None:
        """Take the chunk's settled trades; journal and queue the batch the chunk ends."""
        first, n = chunk.first, chunk.size
        if first // self.batch_intervals != self.open.index:
            raise ValueError(f"intervals from {first} are not in batch {self.open.index}")
        if chunk.trades is None:
            raise ValueError("the chain layer needs the market layer's trades")
        self.open.parts.append(chunk.trades)
        k_end = first + n
        if k_end % self.batch_intervals == 0 or k_end == len(self.stamps):
            self._close()
            self.open = _Open(self.open.index + 1)

    def _close(self) -> None:
        b = self.open.index
        parts = self.open.parts

        def col(name: str) -> np.ndarray:
            if not parts:
                return np.zeros(0, np.int64)
            return np.concatenate([getattr(p, name) for p in parts])

        trade_id, energy, payment = col("trade_id"), col("energy_wh"), col("payment_micro_eur")
        plan = plan_batch(
            b,
            trade_id,
            col("seller"),
            col("buyer"),
            energy,
            payment,
            col("grid_fee_micro_eur"),
            self.addresses,
            col("protocol_fee_micro_eur") if self.treasury is not None else None,
        )
        first_k = b * self.batch_intervals
        last_k = min(first_k + self.batch_intervals, len(self.stamps)) - 1
        self.ledger.plan(
            b,
            str(self.stamps[first_k]),
            str(self.stamps[last_k]),
            plan.trades_root,
            plan.energy_wh,
            plan.accounts,
            [int(x) for x in plan.amounts_micro_eur],
            {
                "trade_id": trade_id,
                "seller": plan.sellers,
                "buyer": plan.buyers,
                "energy_wh": energy,
                "payment_micro_eur": payment,
            },
        )
        self.times[b] = BatchTimes(closed_s=float((last_k + 1) * self.interval_s))
        if self.queue is not None:
            self.queue.put(b)

    def finish(self) -> LayerOutput:
        """Everything final, the chain saved; the ``batches`` and ``participants`` tables."""
        self.settler.recheck_final()  # a node restarted from older state may have lost some
        for _round in range(3):  # finalize may send a batch whose block the node lost back
            if not self.ledger.batches(("planned", "sent", "mined")):
                break
            self.settler.reconcile()
            self.settler.mine(self.config.confirmations)
            self.settler.finalize()
        batches = self.ledger.batches()
        self.settled = batches
        not_final = [b.batch_id for b in batches if b.state != "final"]
        if not_final:
            raise ChainError(f"batches {not_final} did not become final")
        chain_file = None
        if self.chain.kind == "embedded":
            chain_file = "chain.sqlite"
            save_embedded(self.chain, self.workdir / chain_file)
        self.ledger.close()
        contracts = [*self.chain.addresses.values(), *self.watched]
        txs = scan_transactions(self.chain, self.first_block, [self.chain.operator], contracts)
        gas = sum(b.gas_used or 0 for b in batches)
        trades = sum(b.trade_count for b in batches)
        energy_mwh = sum(b.energy_wh for b in batches) / 1e6
        gas_all = sum(txs.gas_used)
        one_off = txs.gas_of(ONE_OFF)
        eur_per_gas = {
            "l1": self.config.gas_price_l1_gwei * 1e-9 * self.config.eth_eur,
            "l2": self.config.gas_price_l2_gwei * 1e-9 * self.config.eth_eur,
        }
        costs: Kpis = {}
        for profile, price in eur_per_gas.items():
            costs[f"gas_cost_{profile}_eur"] = (gas_all * price, "EUR")
            costs[f"settlement_cost_{profile}_eur_per_mwh"] = (
                gas_all * price / energy_mwh if energy_mwh else float("nan"),
                "EUR/MWh",
            )
        delays = [self.times[b.batch_id].final_s - self.times[b.batch_id].closed_s for b in batches]
        return LayerOutput(
            kpis={
                "batches": (float(len(batches)), "count"),
                "settled_trades": (float(trades), "count"),
                "commit_gas": (float(gas), "gas"),
                "commit_gas_per_trade": (gas / trades if trades else float("nan"), "gas"),
                "transactions": (float(len(txs.gas_used)), "count"),
                "gas_all": (float(gas_all), "gas"),
                "gas_one_off": (float(one_off), "gas"),
                "gas_recurring": (float(gas_all - one_off), "gas"),
                "gas_all_per_trade": (gas_all / trades if trades else float("nan"), "gas"),
                **costs,
                "batch_delay_max_h": (max(delays, default=0.0) / 3600.0, "h"),
                "batches_queued": (
                    float(sum(t.sent_s > t.closed_s for t in self.times.values())),
                    "count",
                ),
                "credits_minted_eur": (self.minted / MICRO_EUR_PER_EUR, "EUR"),
            },
            tables={
                "transactions": {
                    "block": txs.block,
                    "tx_hash": txs.tx_hash,
                    "sender": txs.sender,
                    "to": txs.to,
                    "function": txs.function,
                    "kind": txs.kind,
                    "one_off": [k in ONE_OFF for k in txs.kind],
                    "gas_used": txs.gas_used,
                    "gas_price_wei": txs.gas_price_wei,
                },
                "batches": self._batches_table(batches),
                "participants": {
                    "owner": self.names,
                    "address": self.addresses,
                    "role": self.roles,
                },
            },
            manifest={
                "chain": {
                    **self.chain.manifest(),
                    "addresses": dict(self.chain.addresses),  # a copy: later layers add theirs
                    "file": chain_file,
                    "operator": self.chain.operator,
                    "admin": self.admin,
                    "first_block": self.first_block,
                }
            },
        )

    def final_time(self, batch_id: int) -> np.datetime64:
        """When batch ``batch_id`` became final (UTC, naive; after :meth:`finish`)."""
        start = self.stamps[0].astype("datetime64[us]")
        return start + np.timedelta64(round(self.times[batch_id].final_s * 1e6), "us")

    def _batches_table(self, batches: list[Batch]) -> Columns:
        start = self.stamps[0].astype("datetime64[us]")

        def when(seconds: list[float]) -> pa.Array:
            finite = np.isfinite(np.array(seconds, dtype=float))
            us = np.array([round(s * 1e6) if np.isfinite(s) else 0 for s in seconds], np.int64)
            return pa.array(start + us.astype("timedelta64[us]"), mask=~finite)

        times = self.times
        return {
            "batch_id": [b.batch_id for b in batches],
            "first_time": np.array([b.first_time for b in batches], dtype="datetime64[us]"),
            "last_time": np.array([b.last_time for b in batches], dtype="datetime64[us]"),
            "trades_root": ["0x" + b.trades_root.hex() for b in batches],
            "trade_count": [b.trade_count for b in batches],
            "energy_wh": [b.energy_wh for b in batches],
            "accounts": [len(b.accounts) for b in batches],
            "tx_hash": [b.tx_hash for b in batches],
            "nonce": [b.nonce for b in batches],
            "block": [b.block for b in batches],
            "gas_used": [b.gas_used for b in batches],
            "state": [b.state for b in batches],
            "sends": [b.sends for b in batches],
            "closed": when([times[b.batch_id].closed_s for b in batches]),
            "sent": when([times[b.batch_id].sent_s for b in batches]),
            "final": when([times[b.batch_id].final_s for b in batches]),
        }
