"""A device layer's rewards: each epoch's pool, rewards minted on chain, the token economy.

:class:`DeviceRewards` is the part of :class:`~twin.layers.devices.DeviceLayer` that, every
``devices.epoch_days``, computes the epoch's pool (:mod:`settlement.depin.emission`, pro rata
for a partial epoch), shares it among the staked devices by verified delivered energy (storage:
net), location and availability (:func:`settlement.depin.rewards.epoch_rewards`), mints it with
one ``Rewards.distribute`` that records the Merkle root of the epoch's accepted readings, runs
the revenue schedule's buyback, and keeps the ``rewards`` and ``token_economy`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from settlement.chain.merkle import merkle_root
from settlement.depin.emission import epoch_emission
from settlement.depin.leaves import reading_leaves
from settlement.depin.rewards import RewardWeights, epoch_pool, epoch_rewards, location_weight
from twin.results import RunWriter

if TYPE_CHECKING:
    from settlement.depin.client import DepinContracts
    from twin.layers.buyback import BuybackDesk
    from twin.layers.staking import StakingBook, TokenEconomy
    from twin.scenario.settlement import DevicesConfig


@dataclass
class Epoch:
    """What an epoch's rewards need, interval by interval."""

    first: int
    energy: list[np.ndarray] = field(default_factory=list)
    accepted: list[np.ndarray] = field(default_factory=list)
    available: list[np.ndarray] = field(default_factory=list)
    vm: list[np.ndarray] = field(default_factory=list)
    vm_ref: list[np.ndarray] = field(default_factory=list)
    loading: list[np.ndarray] = field(default_factory=list)
    importing: list[np.ndarray] = field(default_factory=list)
    attack_ok: list[np.ndarray] = field(default_factory=list)
    #: The accepted readings' Merkle leaves as the journal derived them, shape (reading, 32),
    #: at (``leaf_rows``, ``leaf_cols``), in the order accepted.
    leaves: list[np.ndarray] = field(default_factory=list)
    leaf_rows: list[np.ndarray] = field(default_factory=list)
    leaf_cols: list[np.ndarray] = field(default_factory=list)

    def grow(self, n_rows: int, n_devices: int) -> None:
        """Room for the next ``n_rows`` intervals' readings (none accepted yet)."""
        self.energy.append(np.zeros((n_rows, n_devices), dtype=np.int64))
        self.accepted.append(np.zeros((n_rows, n_devices), dtype=bool))
        self.attack_ok.append(np.zeros((n_rows, n_devices), dtype=bool))

    def put(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        energy_wh: np.ndarray,
        attack: np.ndarray,
        leaves: np.ndarray | None = None,
    ) -> None:
        """Accepted readings at ``rows`` (intervals since ``first``) and device ``cols`` [Wh],
        late ones included; ``attack``: whether each belongs to an attack; ``leaves``: their
        Merkle leaves as the journal derived them, shape (reading, 32), if at hand."""
        if leaves is not None:
            self.leaves.append(leaves)
            self.leaf_rows.append(rows)
            self.leaf_cols.append(cols)
        self.energy = [np.concatenate(self.energy)]
        self.accepted = [np.concatenate(self.accepted)]
        self.attack_ok = [np.concatenate(self.attack_ok)]
        self.energy[0][rows, cols] = energy_wh
        self.accepted[0][rows, cols] = True
        self.attack_ok[0][rows, cols] = attack


class DeviceRewards:
    """Epochs and rewards, a part of :class:`~twin.layers.devices.DeviceLayer` (whose
    constructor sets the attributes declared here)."""

    cfg: DevicesConfig
    epoch: Epoch
    epoch_len: int
    pool_per_epoch: int
    pool_total: int
    buyback: BuybackDesk | None
    book: StakingBook | None
    eligible: np.ndarray
    storage: np.ndarray
    weights: RewardWeights
    ids: np.ndarray
    addresses: np.ndarray
    owner: np.ndarray
    node_ids: np.ndarray
    depin: DepinContracts
    gas: int
    rewarded_devices: int
    attack_rewarded: int
    rewards_total: int
    slashed_total: int
    slashed_burned: int
    stamps_us: np.ndarray
    interval_s: int
    economy: TokenEconomy
    treasury: str | None
    fees_micro_eur: dict[int, int]
    batch_intervals: int
    max_tx_gas: int

    def _reward(self, writer: RunWriter) -> None:
        e = self.epoch
        if not e.energy:
            return
        energy = np.concatenate(e.energy)
        accepted = np.concatenate(e.accepted)
        n = len(energy)
        available = np.concatenate(e.available)[:n]
        vm = np.concatenate(e.vm)[:n]
        weight = location_weight(
            vm,
            np.concatenate(e.loading)[:n],
            np.concatenate(e.importing)[:n],
            self.weights,
            vm_ref_pu=np.concatenate(e.vm_ref)[:n],
        )
        epoch = e.first // self.epoch_len
        emission = self.cfg.emission
        full_pool = epoch_emission(
            self.pool_per_epoch,
            epoch,
            emission.schedule,
            halving_epochs=emission.halving_epochs,
            decay_per_epoch=emission.decay_per_epoch,
            burned_before=self.buyback.last_burned if self.buyback else 0,
        )
        pool = epoch_pool(full_pool, n, self.epoch_len)
        self.pool_total += pool
        # only staked devices earn (read on chain at the epoch's end)
        eligible = self.eligible & self.book.staked() if self.book else self.eligible
        amount, score = epoch_rewards(
            energy, accepted, available, weight, eligible, pool, net_only=self.storage
        )
        root = merkle_root(self._epoch_leaves(energy, accepted))
        paid = np.flatnonzero(amount > 0)
        receipts = self.depin.pay_epoch(
            epoch,
            root,
            self.ids[paid].tolist(),
            amount[paid].tolist(),
            max_tx_gas=self.max_tx_gas,
        )
        self.gas += sum(int(r["gasUsed"]) for r in receipts)
        self.rewarded_devices += len(paid)
        attack_ok = np.concatenate(e.attack_ok)
        delivered = attack_ok & accepted & (energy > 0)
        self.attack_rewarded += int(delivered[:, amount > 0].sum())
        self.rewards_total += int(amount[paid].sum())
        book = self.book
        slashed = book.slashed_units - self.slashed_total if book else 0
        burned = book.burned_units - self.slashed_burned if book else 0
        end = e.first + n
        bought = paid_eur = 0
        if self.buyback is not None:
            stamp = self.stamps_us[0] + np.timedelta64(end * self.interval_s, "s")
            bought, paid_eur = self.buyback.burn(epoch, stamp, float(end * self.interval_s))
        self.economy.add(
            epoch,
            self.stamps_us[e.first],
            n,
            pool=pool,
            emitted=int(amount[paid].sum()),
            genesis=book.genesis_units if book and not self.economy.epoch else 0,
            slashed=slashed,
            burned=burned + bought,
            staked=book.total_staked() if book else 0,
            supply=self.depin.reward_supply(),
            buyback_burned=bought,
            buyback_paid=paid_eur,
            treasury=self.depin.chain.balance_of(self.treasury) if self.treasury else 0,
        )
        self.slashed_total += slashed
        self.slashed_burned += burned
        writer.append(
            "rewards",
            {
                "epoch": np.full(len(paid), epoch, dtype=np.int64),
                "device_address": self.addresses[paid],
                "owner": self.owner[paid],
                "node_id": self.node_ids[paid],
                "device_id": self.ids[paid],
                "amount": amount[paid].astype(np.int64),
                "energy_wh": np.where(accepted, np.maximum(energy, 0), 0).sum(axis=0)[paid],
                "score": score[paid],
                "readings_root": ["0x" + root.hex()] * len(paid),
            },
        )

    def _epoch_leaves(self, energy: np.ndarray, accepted: np.ndarray) -> list[bytes]:
        """The Merkle leaves of the epoch's accepted readings, device by device, each in
        interval order: the leaves the journal derived when it checked the uploads' roots,
        or derived again here if those do not cover exactly the accepted readings."""
        e = self.epoch
        rows, cols = np.nonzero(accepted)
        order = np.lexsort((rows, cols))
        rows, cols = rows[order], cols[order]
        if e.leaves:
            kept_rows, kept_cols = np.concatenate(e.leaf_rows), np.concatenate(e.leaf_cols)
            kept = np.lexsort((kept_rows, kept_cols))
            if np.array_equal(kept_rows[kept], rows) and np.array_equal(kept_cols[kept], cols):
                data = np.concatenate(e.leaves)[kept].tobytes()
                return [data[i : i + 32] for i in range(0, len(data), 32)]
        ids = self.ids[cols]
        return reading_leaves(ids, (e.first + rows).astype(np.int64), energy[rows, cols])

    def _revenue_per_epoch(self) -> list[int]:
        """Protocol fees [micro-euro] of the batches that start in each epoch of the table."""
        by_epoch: dict[int, int] = {}
        for batch, fee in self.fees_micro_eur.items():
            epoch = batch * self.batch_intervals // self.epoch_len
            by_epoch[epoch] = by_epoch.get(epoch, 0) + int(fee)
        return [by_epoch.get(e, 0) for e in self.economy.epoch]
