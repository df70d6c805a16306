"""The data-sales layer: a buyer pays for k-anonymous aggregates of verified readings.

Built after the devices and economy layers (with ``devices.data_sales.enabled``), it gives
the data buyer a key of its own (seed-derived on the embedded chain, fresh on an RPC chain)
and ``buyer_credits_eur`` of EnergyCredit (within the token's cap, which the chain layer
sized for it), deploys ``DataMarket`` (its admin handed to the timelock with the others) and
listens to the devices layer's verified readings (:meth:`DeviceLayer.on_verified`).

From ``start_day`` on, every ``sale_days`` (the last sale takes what is left at the run's
end) a sale releases the period's aggregates (:func:`settlement.economy.data_sales.release`:
sums per feeder and device kind per interval, each over at least ``k`` households; smaller
groups merged per kind or suppressed), prices them per device-month of released readings,
and splits the payment pro rata to each device's released readings, the treasury taking
``treasury_share`` and the rounding remainders. The buyer signs a permit for exactly the
payment and ``DataMarket.sellData`` pays the devices' owners and the treasury in one
transaction, or, when that would need more gas than the run's budget (``chain.max_tx_gas``),
``openSale`` and ``payChunk`` transactions that each fit (same payouts; each device row names
the chunk that paid it, the treasury's row the one that closed the sale). Tables:
``data_sales`` (one row per payee per sale, the treasury's last), ``data_releases`` (every
released aggregate and its contributor counts); the treasury's cut is a ``data_sale`` row of
the economy layer's ``treasury`` table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import simpy

from grid.zones import feeders
from settlement.chain.participants import key_address, participant_keys
from settlement.economy.data_market import DataMarket
from settlement.economy.data_sales import (
    PPM,
    SUPPRESSED,
    release,
    release_digest,
    release_groups,
    sale_price,
    split_payment,
)
from settlement.units import MICRO_EUR_PER_EUR, MicroEur, eur_to_micro_eur
from twin.layers.base import Chunk, Columns, LayerOutput, Process
from twin.layers.chain import ChainLayer
from twin.layers.context import LayerContext
from twin.layers.devices import DeviceLayer
from twin.layers.economy import EconomyLayer

#: The data buyer's name (its key derives from it and the seed on the embedded chain).
DATA_BUYER = "data-buyer"


class DataSalesLayer:
    """The run's data buyer, its sales and their payouts; see the module docstring.

    Parameters
    ----------
    ctx : LayerContext
        The run being built (``[devices.data_sales]``, the nodes, the net's feeders).
    chain_layer : ChainLayer
        The run's chain (EnergyCredit, the operator, the admin hand-over).
    devices : DeviceLayer
        The devices: their ids and registry, and their verified readings.
    economy : EconomyLayer
        The treasury that takes its cut (a ``data_sale`` movement of its table).
    """

    name = "data_sales"

    def __init__(
        self,
        ctx: LayerContext,
        chain_layer: ChainLayer,
        devices: DeviceLayer,
        economy: EconomyLayer,
    ) -> None:
        cfg = ctx.scenario.devices.data_sales
        self.cfg = cfg
        run = ctx.scenario.run
        self.interval_s = run.interval_s
        self.stamps = ctx.stamps
        self.economy = economy
        chain = chain_layer.chain
        table = ctx.twin.nodes.table
        feeder_of = feeders(ctx.twin.net)
        self.node_ids = devices.node_ids
        self.ids = devices.ids
        self.household: list[str] = table["owner"].astype(str).tolist()
        feeder = [feeder_of.get(int(b), 0) for b in table["bus"].to_numpy()]
        self.groups = release_groups(feeder, devices.kinds.tolist(), self.household, cfg.k)
        key = participant_keys([DATA_BUYER], run.seed, from_seed=chain.kind == "embedded")[0]
        self.buyer_key = key
        self.buyer = key_address(key)
        if chain_layer.buyer_credits:
            chain.mint_credits([self.buyer], MicroEur(chain_layer.buyer_credits))
            chain_layer.minted += chain_layer.buyer_credits
        self.buyer_credits = chain_layer.buyer_credits
        self.market = DataMarket.deploy(chain, registry=devices.contract, treasury=economy.treasury)
        self.gas_budget = chain_layer.settler.gas_budget
        chain_layer.hand_overs.append(self.market.hand_over)
        self.price = eur_to_micro_eur(cfg.price_eur_per_device_month)
        self.ppm = round(cfg.treasury_share * PPM)
        day = 86_400 // self.interval_s
        self.next_first = min(cfg.start_day * day, len(self.stamps))
        self.sale_len = cfg.sale_days * day
        self.pieces: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.verified_to = 0
        self.sale = 0
        self.sales: dict[str, list[object]] = {c: [] for c in _SALE_COLUMNS}
        self.releases: dict[str, list[np.ndarray]] = {c: [] for c in _RELEASE_COLUMNS}
        self.suppressed = 0
        self.unpaid = 0
        devices.on_verified(self._verified)

    def _verified(self, first: int, energy_wh: np.ndarray, accepted: np.ndarray) -> None:
        """Keep a period's verified readings for the sales to come; late readings of a period
        already sold are left out of it (a sale releases what is verified when it is due)."""
        end = first + len(energy_wh)
        if end > self.next_first:
            self.pieces.append((first, energy_wh.copy(), accepted.copy()))
        self.verified_to = max(self.verified_to, end)

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own (sales follow the verified readings)."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing happens between chunks."""

    def add(self, chunk: Chunk) -> None:
        """Sell every sale period whose readings are all verified (the rest at the end)."""
        n_run = len(self.stamps)
        sold_at = chunk.first + len(chunk.p_mw)  # after the chunk's uploads [intervals]
        while self.next_first < n_run:
            end = min(self.next_first + self.sale_len, n_run)
            if self.verified_to < end:
                break
            self._sell(self.next_first, end, sold_at)
            self.next_first = end

    def _window(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        n_d = len(self.ids)
        energy = np.zeros((end - first, n_d), dtype=np.int64)
        accepted = np.zeros((end - first, n_d), dtype=bool)
        for start, e, ok in self.pieces:
            lo, hi = max(start, first), min(start + len(e), end)
            if lo < hi:
                got = ok[lo - start : hi - start]  # late pieces add to the period's cells
                window = slice(lo - first, hi - first)
                energy[window] = np.where(got, e[lo - start : hi - start], energy[window])
                accepted[window] |= got
        self.pieces = [p for p in self.pieces if p[0] + len(p[1]) > end]
        return energy, accepted

    def _sell(self, first: int, end: int, sold_at: int) -> None:
        energy, accepted = self._window(first, end)
        rel = release(energy, accepted, self.groups, self.household, self.cfg.k)
        self.suppressed += rel.suppressed
        payment = sale_price(int(rel.readings.sum()), self.interval_s, self.price)
        chain = self.market.chain
        if payment <= 0 or chain.balance_of(self.buyer) < payment:
            self.unpaid += int(payment > 0)
            return
        paid = np.flatnonzero(rel.readings > 0)
        shares, to_treasury = split_payment(payment, rel.readings[paid].tolist(), self.ppm)
        times = self.stamps[first + rel.interval]
        labels = np.array([*self.groups.labels, ""], dtype=object)
        root = release_digest(
            times.astype("datetime64[us]").astype(np.int64).tolist(),
            labels[rel.group].tolist(),
            rel.energy_wh.tolist(),
            rel.devices.tolist(),
            rel.households.tolist(),
        )
        receipts = self.market.sell(
            self.sale,
            self.buyer_key,
            MicroEur(payment),
            self.ids[paid].tolist(),
            shares,
            to_treasury,
            root,
            gas_budget=self.gas_budget(),
        )
        events = self.market.events(receipts)
        tx = "0x" + bytes(receipts[-1]["transactionHash"]).hex()  # the one that closed the sale
        payee = {device: who for device, who, _ in events.payouts}
        paid_in = {
            int(device): "0x" + bytes(r["transactionHash"]).hex()
            for r in receipts
            for device, _, _ in self.market.payouts(r)
        }
        n = len(paid)
        rows = self.sales
        rows["sale"] += [self.sale] * (n + 1)
        rows["first_time"] += [self.stamps[first]] * (n + 1)
        rows["last_time"] += [self.stamps[end - 1]] * (n + 1)
        rows["kind"] += ["device"] * n + ["treasury"]
        rows["device_id"] += [*self.ids[paid].tolist(), 0]
        rows["node_id"] += [*self.node_ids[paid].tolist(), ""]
        rows["group"] += [*labels[self.groups.group[paid]].tolist(), ""]
        rows["payee"] += [*(payee[int(d)] for d in self.ids[paid]), self.economy.treasury]
        rows["readings"] += [*rel.readings[paid].tolist(), 0]
        rows["amount_micro_eur"] += [*shares, to_treasury]
        rows["payment_micro_eur"] += [payment] * (n + 1)
        rows["buyer"] += [self.buyer] * (n + 1)
        rows["release_root"] += ["0x" + root.hex()] * (n + 1)
        rows["tx_hash"] += [*(paid_in[int(d)] for d in self.ids[paid]), tx]
        rows["sold_at"] += [self.stamps[0] + sold_at * pd.Timedelta(seconds=self.interval_s)] * (
            n + 1
        )
        out = self.releases
        out["sale"].append(np.full(len(rel.interval), self.sale, dtype=np.int64))
        out["time"].append(times)
        out["group"].append(labels[rel.group])
        out["kind"].append(np.array(self.groups.kinds, dtype=object)[rel.group])
        out["energy_wh"].append(rel.energy_wh)
        out["devices"].append(rel.devices)
        out["households"].append(rel.households)
        when_s = float(end * self.interval_s)
        self.economy.movements.append((when_s, "data_sale", self.market.address, to_treasury, tx))
        self.sale += 1

    def finish(self) -> LayerOutput:
        """The ``data_sales`` and ``data_releases`` tables, KPIs, the buyer and contract."""
        sales: Columns = {
            c: np.array(v, dtype="datetime64[us]") if c.endswith(("_time", "_at")) else v
            for c, v in self.sales.items()
        }
        releases: Columns = {
            c: (np.concatenate(v) if v else np.zeros(0, dtype=_RELEASE_DTYPES[c]))
            for c, v in self.releases.items()
        }
        amounts = np.asarray(self.sales["amount_micro_eur"], dtype=np.int64)
        is_device = np.asarray(self.sales["kind"], dtype=object) == "device"
        households = np.asarray(releases["households"], dtype=np.int64)
        eur = float(MICRO_EUR_PER_EUR)
        unreleased = int((self.groups.group == SUPPRESSED).sum())
        kpis = {
            "data_sales": (float(self.sale), "count"),
            "data_sales_unpaid": (float(self.unpaid), "count"),
            "data_paid_eur": (amounts.sum() / eur, "EUR"),
            "data_to_devices_eur": (amounts[is_device].sum() / eur, "EUR"),
            "data_to_treasury_eur": (amounts[~is_device].sum() / eur, "EUR"),
            "data_released_aggregates": (float(len(households)), "count"),
            "data_suppressed_aggregates": (float(self.suppressed), "count"),
            "data_min_households": (
                float(households.min()) if len(households) else float("nan"),
                "count",
            ),
            "data_devices_never_released": (float(unreleased), "count"),
        }
        return LayerOutput(
            kpis=kpis,
            tables={"data_sales": sales, "data_releases": releases},
            manifest={
                "chain": {"addresses": {"DataMarket": self.market.address}},
                "data_sales": {
                    "buyer": self.buyer,
                    "buyer_credits_micro_eur": int(self.buyer_credits),
                },
            },
        )


_SALE_COLUMNS = (
    "sale",
    "first_time",
    "last_time",
    "kind",
    "device_id",
    "node_id",
    "group",
    "payee",
    "readings",
    "amount_micro_eur",
    "payment_micro_eur",
    "buyer",
    "release_root",
    "tx_hash",
    "sold_at",
)
_RELEASE_DTYPES = {
    "sale": np.int64,
    "time": "datetime64[us]",
    "group": object,
    "kind": object,
    "energy_wh": np.int64,
    "devices": np.int64,
    "households": np.int64,
}
_RELEASE_COLUMNS = tuple(_RELEASE_DTYPES)
