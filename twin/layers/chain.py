"""On-chain settlement inside a run: batches of trades, journaled, committed exactly once.

Every ``chain.batch_hours`` of simulated time the settled trades of the batch become one
batch: its Merkle root (:mod:`settlement.chain.merkle`), its net payments (each buyer pays each
trade's payment, each seller receives it less the grid fee, the grid operator receives the
fees; they sum to zero) and its trades are journaled (:mod:`settlement.chain.ledger`) the moment the
batch closes. A SimPy process then settles the batches in order: it waits out chain outages
(batches queue meanwhile and catch up after), sends the batch (:mod:`settlement.chain.settler`),
and waits ``confirmations x block_time_s`` of simulated time for it to be final. The sending
is real: a transaction on the embedded chain or on the node at ``chain.rpc_url``.

At the start every participant (each owner, and the grid operator) gets an address derived
from the run's seed and ``credits_eur`` of EnergyCredit, the token trades are paid in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from settlement.chain.connection import Chain, ChainError, participant_addresses
from settlement.chain.embedded import save_embedded
from settlement.chain.ledger import Ledger
from settlement.chain.merkle import merkle_root, trade_leaves
from settlement.chain.settler import Settler
from twin.scenario import ChainConfig

#: The participant that receives grid fees.
GRID_OPERATOR = "grid-operator"
#: anvil's first development account (public, from its default mnemonic); used on chain id
#: 31337 when no key is given.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def connect(config: ChainConfig) -> Chain:
    """The chain of ``[chain]``: embedded, or the node at ``rpc_url`` with its operator key."""
    if config.rpc_url is None:
        return Chain.embedded()
    key = os.environ.get(config.private_key_env)
    if key is None:
        probe = Chain.connect(config.rpc_url)
        if probe.chain_id != 31337:
            raise ChainError(
                f"chain.rpc_url {config.rpc_url}: set the operator's private key in "
                f"${config.private_key_env}"
            )
        key = ANVIL_DEV_KEY
    return Chain.connect(config.rpc_url, private_key=key)


def outage_windows(
    config: ChainConfig, horizon_s: float, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Chain outages as (start, end) in simulated seconds: scheduled ones, then random ones."""
    windows = [(o.start_h * 3600.0, (o.start_h + o.duration_h) * 3600.0) for o in config.outages]
    rate = config.outage_rate_per_day / 86_400.0
    t = 0.0
    while rate > 0:
        t += rng.exponential(1.0 / rate)
        if t >= horizon_s:
            break
        d = rng.exponential(config.outage_mean_duration_h * 3600.0)
        windows.append((t, t + d))
        t += d
    return sorted(windows)


@dataclass
class _Open:
    """The batch being filled."""

    index: int
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)


@dataclass
class BatchTimes:
    """When a batch closed, was sent and became final [simulated s]."""

    closed_s: float
    sent_s: float = float("nan")
    final_s: float = float("nan")


class SettlementLayer:
    """The run's settlement: participants, the journal, the chain and the SimPy process.

    Parameters
    ----------
    config : ChainConfig
        ``[chain]``.
    owners : ndarray of str
        The market's participants.
    seed : int
        The run's seed (participant keys).
    interval_s : int
        Interval length [s].
    workdir : Path
        The run's (temporary) folder: the journal and the saved chain go there.
    rng : numpy.random.Generator
        The chain's random stream (outages).
    horizon_s : float
        Length of the run [s].
    """

    def __init__(
        self,
        config: ChainConfig,
        owners: np.ndarray,
        seed: int,
        interval_s: int,
        workdir: Path,
        rng: np.random.Generator,
        horizon_s: float,
    ) -> None:
        t0 = time.perf_counter()
        self.config = config
        self.interval_s = interval_s
        self.batch_intervals = config.batch_hours * 3600 // interval_s
        self.names = [*map(str, owners), GRID_OPERATOR]
        self.addresses = participant_addresses(self.names, seed)
        self.chain = connect(config)
        self.workdir = workdir
        self.ledger = Ledger(workdir / "ledger.sqlite")
        self.settler = Settler(self.ledger, self.chain, config.confirmations)
        self.ledger.set_meta("chain", self.chain.manifest())
        self.credits = round(config.credits_eur * 1e6)
        self.minted = 0
        if self.credits:
            self.chain.mint_credits(self.addresses, self.credits)
            self.minted = self.credits * len(self.addresses)
        self.outages = outage_windows(config, horizon_s, rng)
        self.queue: simpy.Store | None = None
        self.open = _Open(0)
        self.times: dict[int, BatchTimes] = {}
        self.wall_s = time.perf_counter() - t0

    def process(self, env: simpy.Environment) -> Any:
        """The SimPy process that settles closed batches in order."""
        self.queue = simpy.Store(env)
        latency = self.config.confirmations * self.config.block_time_s
        while True:
            batch_id = yield self.queue.get()
            times = self.times[batch_id]
            if env.now < times.closed_s:
                yield env.timeout(times.closed_s - env.now)
            end = self._outage_end(env.now)
            if end > env.now:
                yield env.timeout(end - env.now)
            times.sent_s = env.now
            t0 = time.perf_counter()
            self.settler.submit(batch_id, check_chain=False)  # journaled here, never sent
            self.wall_s += time.perf_counter() - t0
            yield env.timeout(latency)
            t0 = time.perf_counter()
            self.settler.confirm(batch_id)
            self.settler.mine(self.config.confirmations)
            self.settler.finalize()
            self.wall_s += time.perf_counter() - t0
            times.final_s = env.now

    def _outage_end(self, now: float) -> float:
        end = now
        for start, stop in self.outages:
            if start <= end < stop:
                end = stop
        return end

    def add(self, first: int, n: int, trades: dict[str, np.ndarray], stamps: np.ndarray) -> None:
        """Add a chunk's settled trades (intervals ``first .. first + n - 1``, one batch).

        ``trades`` are the market's columns (trade_id, seller, buyer, energy_wh,
        payment_micro_eur, grid_fee_micro_eur); ``stamps`` the run's interval starts. The
        batch is journaled and queued when the chunk ends it.
        """
        t0 = time.perf_counter()
        if first // self.batch_intervals != self.open.index:
            raise ValueError(f"intervals from {first} are not in batch {self.open.index}")
        self.open.parts.append(trades)
        k_end = first + n
        if k_end % self.batch_intervals == 0 or k_end == len(stamps):
            self._close(stamps)
            self.open = _Open(self.open.index + 1)
        self.wall_s += time.perf_counter() - t0

    def _close(self, stamps: np.ndarray) -> None:
        b = self.open.index
        parts = self.open.parts
        cols = {
            name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0, np.int64)
            for name in (
                "trade_id",
                "seller",
                "buyer",
                "energy_wh",
                "payment_micro_eur",
                "grid_fee_micro_eur",
            )
        }
        n = len(self.names)
        net = np.zeros(n, dtype=np.int64)
        np.subtract.at(net, cols["buyer"], cols["payment_micro_eur"])
        np.add.at(net, cols["seller"], cols["payment_micro_eur"] - cols["grid_fee_micro_eur"])
        net[n - 1] += int(cols["grid_fee_micro_eur"].sum())
        who = np.flatnonzero(net)
        addr = np.array(self.addresses)
        sellers = [str(a) for a in addr[cols["seller"]]]
        buyers = [str(a) for a in addr[cols["buyer"]]]
        leaves = trade_leaves(
            b, cols["trade_id"], sellers, buyers, cols["energy_wh"], cols["payment_micro_eur"]
        )
        first_k = b * self.batch_intervals
        last_k = min(first_k + self.batch_intervals, len(stamps)) - 1
        self.ledger.plan(
            b,
            str(stamps[first_k]),
            str(stamps[last_k]),
            merkle_root(leaves),
            int(cols["energy_wh"].sum()),
            [str(a) for a in addr[who]],
            [int(x) for x in net[who]],
            {
                "trade_id": cols["trade_id"],
                "seller": sellers,
                "buyer": buyers,
                "energy_wh": cols["energy_wh"],
                "payment_micro_eur": cols["payment_micro_eur"],
            },
        )
        self.times[b] = BatchTimes(closed_s=float((last_k + 1) * self.interval_s))
        if self.queue is not None:
            self.queue.put(b)

    def finish(self) -> dict[str, Any]:
        """After the simulation: everything final, the chain saved; the tables and KPIs."""
        t0 = time.perf_counter()
        self.settler.recheck_final()  # a node restarted from older state may have lost some
        for _round in range(3):  # finalize may send a batch whose block the node lost back
            if not self.ledger.batches(("planned", "sent", "mined")):
                break
            self.settler.reconcile()
            self.settler.mine(self.config.confirmations)
            self.settler.finalize()
        batches = self.ledger.batches()
        not_final = [b.batch_id for b in batches if b.state != "final"]
        if not_final:
            raise ChainError(f"batches {not_final} did not become final")
        chain_file = None
        if self.chain.kind == "embedded":
            chain_file = "chain.sqlite"
            save_embedded(self.chain, self.workdir / chain_file)
        self.ledger.close()
        self.wall_s += time.perf_counter() - t0
        gas = sum(b.gas_used or 0 for b in batches)
        trades = sum(b.trade_count for b in batches)
        delays = [self.times[b.batch_id].final_s - self.times[b.batch_id].closed_s for b in batches]
        return {
            "batches": batches,
            "times": self.times,
            "manifest": {
                **self.chain.manifest(),
                "file": chain_file,
                "operator": self.chain.operator,
            },
            "participants": {"owner": self.names, "address": self.addresses},
            "kpis": {
                "batches": (float(len(batches)), "count"),
                "settled_trades": (float(trades), "count"),
                "gas_used": (float(gas), "gas"),
                "gas_per_trade": (gas / trades if trades else float("nan"), "gas"),
                "batch_delay_max_h": (max(delays, default=0.0) / 3600.0, "h"),
                "batches_queued": (
                    float(sum(t.sent_s > t.closed_s for t in self.times.values())),
                    "count",
                ),
                "credits_minted_eur": (self.minted / 1e6, "EUR"),
            },
        }
