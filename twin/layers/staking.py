"""Stakes, slashes and the token economy of a run: what the devices layer keeps on chain.

:class:`StakingBook` (with ``devices.staking.enabled``) deploys ``DeviceStaking``
(:mod:`settlement.depin.staking`) beside the DePIN contracts, mints the genesis allocation
(each owner gets ``genesis_tokens_per_kw`` per kW of the devices it stakes for: where owners'
first tokens come from, recorded as ``genesis`` rows of the ``stakes`` table and
``genesis_units`` of the ``token_economy`` table), and has every solar, wind and battery device
not in ``unstaked`` staked ``min_stake_tokens_per_kw`` per kW by its owner's signed permit.
Only staked devices earn (:meth:`StakingBook.staked`, read on chain at each epoch's end).

**What slashes, and why.** Only a reading *proven* fraudulent: one the device signed itself
(status ``flagged_implausible``: signature, chain, replay and registry checks passed, so the
device is the author) whose physics flag is a hard bound named in ``slash_on``: ``nameplate``
(more energy than the rated power delivers in an interval; the contract re-checks it from the
registry), ``negative`` (a generator's negative output; re-checked on chain) and ``clear_sky``
(PV above its clear-sky ceiling with a 25 % margin: no sky delivers that). Peer comparisons
(``peer``, ``peer_period``) and the battery's booked state of charge are statistical or model
estimates that a noisy honest device can trip: they withhold rewards, never stake (at
``scenarios/fraud.toml --seed 4`` the 29 flagged readings whose ``attack`` is ``none`` are
pv-5's 0 Wh night readings, flagged with the rest of its inflated uploads). Forged uploads
(not the device's key), replays and wrong-chain uploads are rejected and slash nothing: a
forgery's victim is honest, and a replay claims nothing new. A device is slashed at most once
a run (its first evidence); the contract refuses the same signed upload twice in any case.

:class:`TokenEconomy` keeps the ``token_economy`` table: per epoch the pool, the tokens
emitted (rewards minted), genesis, slashed and burned (slashes' burns plus the revenue
schedule's buyback burns, :mod:`twin.layers.buyback`), the buyback's burn and what it paid,
the stake, the token supply and the Treasury's balance read on chain at the epoch's end, the
circulating supply (supply - staked), the protocol revenue (the treasury's protocol fees of
the batches that start in the epoch), the break-even token value (revenue / emission) and
whether the economy pays for itself at the reference price (revenue >= emitted x price).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from settlement.depin.client import REWARD_DECIMALS, DepinContracts
from settlement.depin.emission import break_even_eur_per_token, pays_for_itself
from settlement.depin.plausibility import FLAGS
from settlement.depin.staking import (
    DeviceStaking,
    StakingSettings,
    evidence_of,
    min_stake,
)
from settlement.depin.verdict import FLAGGED, Verification
from twin.scenario.settlement import StakingConfig

_UNITS = 10**REWARD_DECIMALS
#: Reasons in the order evidence is chosen: those the contract checks itself first.
_REASON_ORDER = ("nameplate", "negative", "clear_sky", "state_estimation")


@dataclass
class _Rows:
    """Rows of the ``stakes`` table."""

    time: list[np.datetime64] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    device_id: list[int] = field(default_factory=list)
    node_id: list[str] = field(default_factory=list)
    owner: list[str] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    active_after: list[int] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    evidence_id: list[str] = field(default_factory=list)
    burned: list[int] = field(default_factory=list)
    to_treasury: list[int] = field(default_factory=list)
    to_reporter: list[int] = field(default_factory=list)
    tx_hash: list[str] = field(default_factory=list)

    def add(self, **values: object) -> None:
        defaults: dict[str, object] = {
            "device_id": 0,
            "node_id": "",
            "active_after": 0,
            "reason": "",
            "evidence_id": "",
            "burned": 0,
            "to_treasury": 0,
            "to_reporter": 0,
        }
        for name, value in {**defaults, **values}.items():
            getattr(self, name).append(value)

    def table(self) -> dict[str, pa.Array]:
        units = pa.int64()
        return {
            "time": pa.array(self.time, pa.timestamp("us")),
            "kind": pa.array(self.kind, pa.string()),
            "device_id": pa.array(self.device_id, pa.int64()),
            "node_id": pa.array(self.node_id, pa.string()),
            "owner_address": pa.array(self.owner, pa.string()),
            "amount_units": pa.array(self.amount, units),
            "active_after_units": pa.array(self.active_after, units),
            "reason": pa.array(self.reason, pa.string()),
            "evidence_id": pa.array(self.evidence_id, pa.string()),
            "burned_units": pa.array(self.burned, units),
            "to_treasury_units": pa.array(self.to_treasury, units),
            "to_reporter_units": pa.array(self.to_reporter, units),
            "tx_hash": pa.array(self.tx_hash, pa.string()),
        }


class StakingBook:
    """The run's ``DeviceStaking``: genesis, stakes, slashes, and the ``stakes`` table.

    Parameters
    ----------
    cfg : StakingConfig
        ``[devices.staking]``.
    depin : DepinContracts
        The run's DePIN contracts (devices registered).
    device_ids, node_ids, owners, owner_addresses : sequences, one per device
        Each device's id, node, owner (participant name) and its owner's address.
    capacity_w : sequence of int
        Each device's registered capacity [W].
    stakes : ndarray of bool
        Devices that stake.
    owner_key : callable
        An owner's private key by its participant name (the chain layer's
        :meth:`~twin.layers.chain.ChainLayer.key_of`: seeded on the embedded chain, fresh on
        an RPC chain); each owner signs its own stakes' permits.
    interval_s : int
        Reading interval [s].
    start : numpy.datetime64
        The run's start (time of the genesis and stake rows).
    sink : str or None
        Receiver of slashes (the treasury), or None to burn them.
    """

    def __init__(
        self,
        cfg: StakingConfig,
        depin: DepinContracts,
        device_ids: Sequence[int],
        node_ids: Sequence[str],
        owners: Sequence[str],
        owner_addresses: Sequence[str],
        capacity_w: Sequence[int],
        stakes: np.ndarray,
        *,
        owner_key: Callable[[str], bytes],
        interval_s: int,
        start: np.datetime64,
        sink: str | None,
    ) -> None:
        self.cfg = cfg
        self.chain = depin.chain
        self.ids = np.asarray(device_ids, dtype=np.int64)
        self.node_ids = list(map(str, node_ids))
        self.owner_addresses = list(map(str, owner_addresses))
        self.slash_mask = sum(FLAGS[name] for name in cfg.slash_on)
        self.reporter = self.chain.operator if cfg.reporter_share > 0 else None
        per_kw = round(cfg.min_stake_tokens_per_kw * _UNITS)
        genesis_per_kw = round(cfg.genesis_tokens_per_kw * _UNITS)
        settings = StakingSettings(
            min_stake_per_kw=per_kw,
            unbonding_delay_s=round(cfg.unbonding_days * 86_400),
            slash_bps=round(cfg.slash_share * 10_000),
            reporter_bps=round(cfg.reporter_share * 10_000),
            slash_sink=sink,
            interval_s=interval_s,
        )
        self.staking = DeviceStaking(depin, settings)
        self.rows = _Rows()
        self.start = start
        self.need = np.array([min_stake(per_kw, int(c)) for c in capacity_w], dtype=np.int64)
        self.staking_devices = np.asarray(stakes, dtype=bool) & (self.need > 0)
        genesis: dict[str, int] = {}
        for i in np.flatnonzero(self.staking_devices).tolist():
            amount = min_stake(genesis_per_kw, int(capacity_w[i]))
            genesis[self.owner_addresses[i]] = genesis.get(self.owner_addresses[i], 0) + amount
        self.genesis_units = sum(genesis.values())
        if genesis:  # Rewards' admin (the operator, before the hand-over) opens it, once
            self.staking.open_genesis(self.genesis_units)
            receipt = self.staking.allocate_genesis(list(genesis), list(genesis.values()))
            for address, amount in genesis.items():
                self.rows.add(
                    time=start,
                    kind="genesis",
                    owner=address,
                    amount=amount,
                    tx_hash=receipt["transactionHash"].to_0x_hex(),
                )
        self.slashed: set[int] = set()
        self.slashed_units = 0
        self.burned_units = 0
        self.to_treasury_units = 0
        self.to_reporter_units = 0
        for i in np.flatnonzero(self.staking_devices).tolist():
            key = owner_key(str(owners[i]))
            receipt = self.staking.stake_with_permit(int(self.ids[i]), int(self.need[i]), key)
            self.rows.add(
                time=start,
                kind="stake",
                device_id=int(self.ids[i]),
                node_id=self.node_ids[i],
                owner=self.owner_addresses[i],
                amount=int(self.need[i]),
                active_after=int(self.need[i]),
                tx_hash=receipt["transactionHash"].to_0x_hex(),
            )

    def staked(self) -> np.ndarray:
        """Whether each device is staked now (``DeviceStaking.stakedMask``, on chain)."""
        return np.array(self.staking.staked_mask(self.ids.tolist()), dtype=bool)

    def slash_proven(self, result: Verification, stamps: np.ndarray) -> int:
        """Slash each staked device (once a run) with a reading of ``result`` proven fraudulent
        (see the module docstring); returns how many devices were slashed."""
        hard = (result.status == FLAGGED) & ((result.flags & self.slash_mask) != 0)
        count = 0
        position = {int(d): i for i, d in enumerate(self.ids)}
        for j in np.flatnonzero(hard):
            device_id = int(result.device_id[j])
            i = position.get(device_id)
            if i is None or device_id in self.slashed or not self.staking_devices[i]:
                continue
            upload = result.uploads[int(result.upload[j])]
            index = int(np.flatnonzero(upload.intervals == result.interval[j])[0])
            flags = int(result.flags[j])
            reason = next(r for r in _REASON_ORDER if r in self.cfg.slash_on and flags & FLAGS[r])
            receipt = self.staking.slash(evidence_of(upload, index, reason), self.reporter)
            event = self.staking.slashed_event(receipt)
            self.slashed.add(device_id)
            amount = int(event["amount"])
            self.slashed_units += amount
            self.burned_units += int(event["burnedAmount"])
            self.to_treasury_units += int(event["toSink"])
            self.to_reporter_units += int(event["toReporter"])
            self.rows.add(
                time=stamps[min(int(result.interval[j]), len(stamps) - 1)],
                kind="slash",
                device_id=device_id,
                node_id=self.node_ids[i],
                owner=self.owner_addresses[i],
                amount=amount,
                active_after=self.staking.stake_of(device_id).active,
                reason=reason,
                evidence_id="0x" + bytes(event["evidenceId"]).hex(),
                burned=int(event["burnedAmount"]),
                to_treasury=int(event["toSink"]),
                to_reporter=int(event["toReporter"]),
                tx_hash=receipt["transactionHash"].to_0x_hex(),
            )
            count += 1
        return count

    def total_staked(self) -> int:
        """Active plus unbonding stake on chain [base units]."""
        return self.staking.total_staked()


@dataclass
class TokenEconomy:
    """The ``token_economy`` table, one row an epoch (see the module docstring)."""

    epoch: list[int] = field(default_factory=list)
    time: list[np.datetime64] = field(default_factory=list)
    intervals: list[int] = field(default_factory=list)
    pool: list[int] = field(default_factory=list)
    emitted: list[int] = field(default_factory=list)
    genesis: list[int] = field(default_factory=list)
    slashed: list[int] = field(default_factory=list)
    burned: list[int] = field(default_factory=list)
    staked: list[int] = field(default_factory=list)
    supply: list[int] = field(default_factory=list)
    buyback_burned: list[int] = field(default_factory=list)
    buyback_paid: list[int] = field(default_factory=list)
    treasury: list[int] = field(default_factory=list)

    def add(
        self,
        epoch: int,
        time: np.datetime64,
        intervals: int,
        *,
        pool: int,
        emitted: int,
        genesis: int,
        slashed: int,
        burned: int,
        staked: int,
        supply: int,
        buyback_burned: int = 0,
        buyback_paid: int = 0,
        treasury: int = 0,
    ) -> None:
        """One epoch's row (amounts [base units], ``buyback_paid`` and ``treasury``
        [micro-euro]; staked, supply and treasury at the epoch's end; ``burned`` counts the
        buyback's burn too)."""
        self.epoch.append(epoch)
        self.time.append(time)
        self.intervals.append(intervals)
        for name, value in (
            ("pool", pool),
            ("emitted", emitted),
            ("genesis", genesis),
            ("slashed", slashed),
            ("burned", burned),
            ("staked", staked),
            ("supply", supply),
            ("buyback_burned", buyback_burned),
            ("buyback_paid", buyback_paid),
            ("treasury", treasury),
        ):
            getattr(self, name).append(int(value))

    def table(
        self, revenue_micro_eur: Sequence[int], price_eur_per_token: float
    ) -> dict[str, pa.Array]:
        """The table, with each epoch's protocol revenue [micro-euro] and the reference
        token price [EUR/token]."""
        units = pa.int64()
        supply = np.asarray(self.supply, dtype=np.int64)
        staked = np.asarray(self.staked, dtype=np.int64)
        revenue = [int(r) for r in revenue_micro_eur]
        break_even = [
            break_even_eur_per_token(r, e, REWARD_DECIMALS)
            for r, e in zip(revenue, self.emitted, strict=True)
        ]
        pays = [
            pays_for_itself(r, e, price_eur_per_token, REWARD_DECIMALS)
            for r, e in zip(revenue, self.emitted, strict=True)
        ]
        return {
            "epoch": pa.array(self.epoch, pa.int64()),
            "time": pa.array(self.time, pa.timestamp("us")),
            "intervals": pa.array(self.intervals, pa.int64()),
            "pool_units": pa.array(self.pool, units),
            "emitted_units": pa.array(self.emitted, units),
            "genesis_units": pa.array(self.genesis, units),
            "slashed_units": pa.array(self.slashed, units),
            "burned_units": pa.array(self.burned, units),
            "staked_units": pa.array(staked, units),
            "supply_units": pa.array(supply, units),
            "circulating_units": pa.array(supply - staked, units),
            "buyback_burned_units": pa.array(self.buyback_burned, units),
            "buyback_paid_micro_eur": pa.array(self.buyback_paid, pa.int64()),
            "treasury_balance_micro_eur": pa.array(self.treasury, pa.int64()),
            "protocol_revenue_micro_eur": pa.array(revenue, pa.int64()),
            "break_even_eur_per_token": pa.array(break_even, pa.float64()),
            "reference_price_eur_per_token": pa.array(
                [float(price_eur_per_token)] * len(self.epoch), pa.float64()
            ),
            "pays_for_itself": pa.array(pays, pa.bool_()),
        }
