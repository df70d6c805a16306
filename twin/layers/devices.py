"""DePIN devices inside a run: signed readings, the journal's checks, rewards on-chain.

Every node is a device (:mod:`settlement.depin.devices`): its own key, an NFT in the
``DeviceRegistry`` owned by the node's owner. Every ``devices.upload_intervals`` each device
uploads its metered readings (its own production convention: generation and battery
discharge positive, consumption positive for consumer meters) under one EIP-712 signature;
devices named in ``devices.attacks`` inflate, replay, forge or sign for another chain
(:func:`settlement.depin.fraud.attack_uploads`). The journal verifies each period's uploads together
(:func:`settlement.depin.readings.verify_uploads`: registry, chain, signature, root, replay, physics
with the clear-sky ceiling and PV peers). Every ``devices.epoch_days`` the epoch's rewards
(:func:`settlement.depin.rewards.epoch_rewards`, location weights from the intervals' power flow)
are minted on-chain to each device NFT's owner with one ``Rewards.distribute``, which also
records the Merkle root of the epoch's accepted readings. With the ``revenue`` emission
schedule a :class:`~twin.layers.buyback.BuybackDesk` burns tokens bought with the treasury's
revenue at each epoch's end, and the next epoch emits what it burned.

The layer is three parts: its set-up and chunks here, the uploads and verdicts
(:mod:`twin.layers.device_uploads`) and the epochs' rewards (:mod:`twin.layers.device_rewards`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from forecasting.solar import clear_sky_ceiling_w_per_m2
from settlement.depin.client import REWARD_DECIMALS, DepinContracts
from settlement.depin.devices import DEVICE_KINDS, make_devices, registry_of
from settlement.depin.plausibility import Plausibility
from settlement.depin.rewards import RewardWeights
from settlement.depin.uploads import Upload
from settlement.depin.verdict import STATUSES
from settlement.depin.verifier_state import VerifierState
from settlement.units import mw_to_wh
from twin.layers.base import Chunk, JsonValue, LayerOutput, Process
from twin.layers.buyback import BuybackDesk, Movement
from twin.layers.chain import ChainLayer
from twin.layers.context import LayerContext
from twin.layers.device_rewards import DeviceRewards, Epoch
from twin.layers.device_uploads import DeviceUploads
from twin.layers.physics import PhysicsCheck
from twin.layers.staking import StakingBook, TokenEconomy
from twin.layers.transfers import DeviceSales, installer_address
from twin.scenario import ScenarioError
from twin.scenario.world import unknown_node

REWARDED = ("solar", "wind", "battery")


class DeviceLayer(DeviceUploads, DeviceRewards):
    """The run's devices, their uploads, the journal's verdicts and the rewards.

    Parameters
    ----------
    ctx : LayerContext
        The run being built (``[devices]``, battery efficiencies, grid limits, the nodes and
        the solver's buses).
    chain : ChainLayer
        The run's settlement: its chain and the participants' addresses.
    treasury : str, optional
        The community Treasury's address (the economy layer's): slashes go there with
        ``devices.staking.slash_to = "treasury"``.
    fees_micro_eur : dict of int to int, optional
        The economy layer's protocol fees per batch [micro-euro], filled as the run goes: the
        ``token_economy`` table's protocol revenue.
    treasury_movements : list, optional
        The economy layer's treasury movements: royalties paid to the treasury and the revenue
        schedule's draws join them.
    """

    name = "devices"

    def __init__(
        self,
        ctx: LayerContext,
        chain_layer: ChainLayer,
        treasury: str | None = None,
        fees_micro_eur: dict[int, int] | None = None,
        treasury_movements: list[Movement] | None = None,
    ) -> None:
        scenario = ctx.scenario
        nodes = ctx.twin.nodes
        layout = ctx.twin.solver.layout
        times = ctx.twin.times
        chain = chain_layer.chain
        owner_address = np.array(chain_layer.addresses)[ctx.owner_idx].tolist()
        self.writer = ctx.writer
        cfg = scenario.devices
        self.cfg = cfg
        self.interval_s = scenario.run.interval_s
        table = nodes.table
        self.node_ids = table["node_id"].to_numpy().astype(str)
        self.kinds = table["kind"].to_numpy().astype(str)
        self.seed = scenario.run.seed
        self.devices = make_devices(
            self.node_ids.tolist(),
            self.kinds.tolist(),
            table["p_max_mw"].to_numpy(),
            table["capacity_kwh"].to_numpy(),
            self.seed,
        )
        self.ids = np.array([d.device_id for d in self.devices], dtype=np.int64)
        self.addresses = np.array([d.address for d in self.devices])
        position = {node: i for i, node in enumerate(self.node_ids)}
        named = [(f"devices.attacks[{k}].node_id", a.node_id) for k, a in enumerate(cfg.attacks)]
        named += [(f"devices.revoked[{k}]", node) for k, node in enumerate(cfg.revoked)]
        named += [
            (f"devices.staking.unstaked[{k}]", node) for k, node in enumerate(cfg.staking.unstaked)
        ]
        named += [(f"devices.dropouts[{k}].node_id", d.node_id) for k, d in enumerate(cfg.dropouts)]
        named += [
            (f"devices.upload_delay_periods.{node}", node) for node in cfg.upload_delay_periods
        ]
        for key, node in named:
            if node not in position:
                ids = self.node_ids.tolist()
                raise ScenarioError(unknown_node(key, node, ids, self.seed))
        self.attack = np.full(len(self.devices), "none", dtype=object)
        self.inflate_factor = np.full(len(self.devices), cfg.inflate_factor)
        for a in cfg.attacks:
            self.attack[position[a.node_id]] = a.kind
            if a.inflate_factor is not None:
                self.inflate_factor[position[a.node_id]] = a.inflate_factor
        revoked = [int(self.ids[position[n]]) for n in cfg.revoked]
        self.owner = table["owner"].to_numpy().astype(str).astype(object)  # sales rename
        self.owner_address = owner_address
        self.pool_per_epoch = round(cfg.reward_tokens_per_epoch * 10**REWARD_DECIMALS)
        embedded = chain.kind == "embedded"
        royalty_to = treasury if cfg.royalty.receiver == "treasury" else None
        self.depin = DepinContracts(
            chain,
            epoch_cap=self.pool_per_epoch,
            royalty_receiver=royalty_to or installer_address(self.seed, embedded=embedded),
            royalty_bps=cfg.royalty.bps,
        )
        self.depin.deploy()
        chain_layer.hand_overs.append(self.depin.hand_over)
        self.contract = self.depin.addresses["DeviceRegistry"]
        self.chain_id = chain.chain_id
        p_max_w = np.rint(table["p_max_mw"].to_numpy() * 1e6).astype(np.int64)
        self.depin.register_devices(
            self.ids.tolist(),
            owner_address,
            self.addresses.tolist(),
            [DEVICE_KINDS.index(k) for k in self.kinds],
            np.clip(p_max_w, 0, 2**32 - 1).tolist(),
        )
        for device_id in revoked:
            self.depin.revoke(device_id)
        self.registry = registry_of(self.devices, revoked=revoked)
        names = chain_layer.names
        self.sales = DeviceSales(
            cfg.transfers,
            self.depin,
            self.node_ids.tolist(),
            self.ids.tolist(),
            self.owner,
            self.owner_address,
            chain_layer.key_of,
            dict(zip(names, chain_layer.addresses, strict=True)),
            cfg.royalty.receiver,
            self.interval_s,
            self.seed,
            treasury_movements,
        )
        if self.sales.market is not None:  # sellers approve the market at the registry
            chain_layer.watched += [self.contract, self.sales.market.address]
        self.active = ~np.isin(self.ids, revoked)
        self.eligible = np.isin(self.kinds, REWARDED) & self.active
        #: Devices rewarded for the energy they add net over an epoch (storage).
        self.storage = self.kinds == "battery"
        self.batch_intervals = ctx.batch_intervals
        self.max_tx_gas = scenario.chain.max_tx_gas  # no reward transaction is given more
        self.fees_micro_eur = fees_micro_eur if fees_micro_eur is not None else {}
        self.economy = TokenEconomy()
        self.book: StakingBook | None = None
        if cfg.staking.enabled:
            unstaked = np.isin(self.node_ids, cfg.staking.unstaked)
            self.book = StakingBook(
                cfg.staking,
                self.depin,
                self.ids.tolist(),
                self.node_ids.tolist(),
                self.owner.tolist(),
                owner_address,
                np.clip(p_max_w, 0, 2**32 - 1).tolist(),
                self.eligible & ~unstaked,
                owner_key=chain_layer.key_of,
                interval_s=self.interval_s,
                start=ctx.stamps[0],
                sink=treasury if cfg.staking.slash_to == "treasury" else None,
            )
            # the genesis is opened and minted above, by the operator; then the timelock is admin
            chain_layer.hand_overs.append(self.book.staking.hand_over)
        self.treasury = treasury
        self.buyback: BuybackDesk | None = None
        if cfg.emission.schedule == "revenue":  # the scenario's check: needs [economy]
            assert treasury is not None
            owners = self.owner[self.eligible], np.array(owner_address)[self.eligible]
            holders = zip(*owners, strict=True)
            self.buyback = BuybackDesk(
                self.depin,
                treasury,
                cfg.emission.token_price_eur,
                list(dict.fromkeys((str(n), str(a)) for n, a in holders)),
                chain_layer.key_of,
                treasury_movements,
            )
        self.slashed_burned = 0  # since the last epoch's row [base units]
        self.slashed_total = 0
        self.pool_total = 0  # the pools of the epochs run [base units]
        n_run = len(times)
        # the clear-sky ceiling of PV readings, at the scenario's site (once per run)
        self.clear_sky = clear_sky_ceiling_w_per_m2(
            times[0], n_run, self.interval_s, scenario.site.as_site()
        )
        bat = scenario.nodes
        self.limits = Plausibility(
            battery_charge_efficiency=bat.battery_charge_efficiency,
            battery_discharge_efficiency=bat.battery_discharge_efficiency,
        )
        grid = scenario.grid
        self.weights = RewardWeights(
            voltage_support=cfg.voltage_support,
            congestion_relief=cfg.congestion_relief,
            voltage_stress=cfg.voltage_stress,
            vm_min_pu=grid.vm_min_pu,
            vm_max_pu=grid.vm_max_pu,
        )
        bus_col = {int(b): i for i, b in enumerate(layout.bus)}
        self.vm_col = np.array([bus_col[int(b)] for b in table["bus"].to_numpy()])
        # production convention: consumers' meters count consumption, everything else output
        self.sign = np.where(self.kinds == "consumer", 1.0, -1.0)
        self.physics = (
            PhysicsCheck(ctx, self.eligible, self.sign) if cfg.physics_check.enabled else None
        )
        self.stamps = times
        self.stamps_us = times.tz_localize(None).to_numpy().astype("datetime64[us]")
        self.state = VerifierState()
        self.nonce = np.zeros(len(self.devices), dtype=np.int64)
        self.previous: dict[int, Upload] = {}
        self.period = cfg.upload_intervals
        self._links(cfg, position, n_run)
        self.epoch_len = cfg.epoch_days * 86_400 // self.interval_s
        self.pending: list[np.ndarray] = []
        self.pending_first = 0
        self.epoch = Epoch(0)
        self.counts = dict.fromkeys((*STATUSES, "revoked"), 0)
        self.attack_readings = 0
        self.attack_rewarded = 0
        self.rewards_total = 0  # token base units minted as rewards
        self.gas = 0
        self.rewarded_devices = 0
        #: Called with (first interval, energy_wh, accepted) of each upload period's
        #: verified readings, shape (interval, device): see :meth:`on_verified`.
        self._verified: list[Callable[[int, np.ndarray, np.ndarray], None]] = []

    def on_verified(self, listener: Callable[[int, np.ndarray, np.ndarray], None]) -> None:
        """Call ``listener(first, energy_wh, accepted)`` with every upload period's readings
        once verified: ``first`` the period's first interval, ``energy_wh`` [Wh] its
        readings (production convention, zero where not accepted) and ``accepted`` whether
        each was accepted (verified, neither flagged nor rejected), shape (interval, device)."""
        self._verified.append(listener)

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own (uploads follow the chunks)."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Readings are uploaded per chunk, not per interval."""

    def add(self, chunk: Chunk) -> None:
        """Take a chunk of metered intervals; upload, verify and reward what is complete."""
        first, p_mw, available, flow = chunk.first, chunk.p_mw, chunk.available, chunk.flow
        writer = self.writer
        self.sales.due(first, first * self.interval_s)  # sales due before this chunk
        if self.physics is not None:
            self.physics.observe(chunk)
        energy = mw_to_wh(self.sign * p_mw, self.interval_s)
        e = self.epoch
        e.available.append(available)
        e.vm.append(flow.vm_pu[:, self.vm_col])
        finite = np.isfinite(flow.vm_pu).any(axis=1)
        ref = np.full(len(p_mw), np.nan)
        ref[finite] = np.nanmedian(flow.vm_pu[finite], axis=1)
        e.vm_ref.append(ref)
        e.loading.append(
            np.nanmax(flow.loading_percent, axis=1, initial=0.0)
            if flow.loading_percent.shape[1]
            else np.zeros(len(p_mw))
        )
        e.importing.append(flow.import_mw > 0)
        self.pending.append(energy)
        buffered = np.concatenate(self.pending)
        end = first + len(p_mw)
        done = 0
        while self.pending_first + done + self.period <= end or (
            end == len(self.stamps) and self.pending_first + done < end
        ):
            rows = buffered[done : done + self.period]
            self._upload((self.pending_first + done) // self.period, rows, writer)
            done += len(rows)
        self.pending = [buffered[done:]] if done < len(buffered) else []
        self.pending_first += done
        if end - e.first >= self.epoch_len or end == len(self.stamps):
            self._reward(writer)
            self.epoch = Epoch(end)
        self.sales.due(end, end * self.interval_s)  # after the epoch's rewards, if it ended

    def finish(self) -> LayerOutput:
        """KPIs, the devices' columns of the ``nodes`` table and the contracts' addresses."""
        total = self.rewards_total
        kpis = {f"readings_{name}": (float(count), "count") for name, count in self.counts.items()}
        kpis.update(
            {
                "attack_readings": (float(self.attack_readings), "count"),
                "readings_late": (float(self.late_readings), "count"),
                "readings_late_after_epoch": (float(self.late_after_epoch), "count"),
                "attack_readings_rewarded": (float(self.attack_rewarded), "count"),
                "physics_flagged_periods": (
                    float(self.physics.flagged_periods if self.physics else 0),
                    "count",
                ),
                "rewards_tokens": (total / 10**REWARD_DECIMALS, "token"),
                "rewards_pool_tokens": (self.pool_total / 10**REWARD_DECIMALS, "token"),
                "reward_gas_per_device": (
                    self.gas / self.rewarded_devices if self.rewarded_devices else float("nan"),
                    "gas",
                ),
            }
        )
        revenue = self._revenue_per_epoch()
        units = float(10**REWARD_DECIMALS)
        emitted = sum(self.economy.emitted)
        price = self.cfg.emission.token_price_eur
        tables = {"token_economy": self.economy.table(revenue, price)}
        if self.physics is not None:
            tables["physics_checks"] = self.physics.table(self.node_ids, self.stamps_us)
        addresses: dict[str, JsonValue] = dict(self.depin.manifest())
        addresses.update(self.sales.manifest())
        if self.sales.sold:
            tables["device_transfers"] = self.sales.table(self.stamps_us)
            royalties = sum(s.royalty for _, s, _ in self.sales.sold)
            kpis["device_sales"] = (float(len(self.sales.sold)), "count")
            kpis["device_royalties_eur"] = (royalties / 1e6, "EUR")
        if self.buyback is not None:
            tables["buybacks"] = self.buyback.table()
            addresses.update(self.buyback.buyback.manifest())
            kpis.update(self.buyback.kpis())
        book = self.book
        kpis.update(
            {
                # the token value at which the run's rewards equal its protocol revenue
                "break_even_eur_per_token": (
                    sum(revenue) / 1e6 / (emitted / units) if emitted else float("nan"),
                    "EUR/token",
                ),
                "genesis_tokens": ((book.genesis_units if book else 0) / units, "token"),
                "reward_token_supply_tokens": (
                    (self.economy.supply[-1] if self.economy.supply else 0) / units,
                    "token",
                ),
            }
        )
        if book is not None:
            tables["stakes"] = book.rows.table()
            addresses.update(book.staking.manifest())
            kpis.update(
                {
                    "staked_tokens": (book.total_staked() / units, "token"),
                    "staked_devices": (float(book.staking_devices.sum()), "count"),
                    "slashed_devices": (float(len(book.slashed)), "count"),
                    "slashed_tokens": (book.slashed_units / units, "token"),
                    "slashed_burned_tokens": (book.burned_units / units, "token"),
                }
            )
        return LayerOutput(
            kpis=kpis,
            tables=tables,
            node_columns={
                "device_address": self.addresses,
                "device_id": self.ids,
                "attack": self.attack,
            },
            manifest={"chain": {"addresses": addresses}},
        )
