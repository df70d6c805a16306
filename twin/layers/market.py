"""The market layer: orders every interval, the network-aware grid check, settlement per chunk.

Participants are the node owners (each home, and the community for its wind turbine).
``market.rule`` says when and how trades are formed: ``ex_ante_auction`` (below) orders and
clears every interval before it is metered; the ex-post rules (``ex_post_auction``,
``mid_market``, ``static_sharing``, ``dynamic_sharing``) order nothing in advance and form the
trades of each interval in :meth:`MarketLayer.add`, after the grid check, from each owner's
metered (and curtailed) net energy (:mod:`settlement.market.ex_post`,
:mod:`settlement.market.sharing`); their ``orders`` rows are those metered positions, at the
auction's limit prices or the pooled rule's community price.

- **Orders** (ex ante: every interval, before its meters are read): each owner's expected net
  position is one order: a bid if it expects to import, an ask if it expects to export. With
  ``market.positions = "forecast"`` the expected power is the dispatch layer's forecast in
  force and its batteries' plans (:meth:`twin.layers.dispatch.DispatchLayer.expected_mw`);
  where none is in force, a node's last metered power stands in for it (persistence). Limit
  prices come from ``market.strategy``. Each order is sent as the interval before starts and
  arrives after its owner's delay (``market.late_orders``); one that arrives after the gate
  (``market.gate_closure_s`` before the interval) is refused: it is written to ``orders`` with
  status ``late`` and takes no part in the clearing, and its owner's metered energy settles at
  the tariff (:mod:`settlement.market.gate`). The ex-post rules have no gate (status
  ``ex_post``).
- **Clearing**: :func:`settlement.market.auction.clear`, between the feed-in and retail
  tariff of the interval; with a grid fee, zone by zone and then across zones
  (:func:`settlement.market.grid_fee.clear_with_grid_fee`).
- **Grid check** (``market.network_aware``): the chunk's violations are counted and, in
  network-aware mode, the generation behind them is curtailed (:func:`grid.curtailment.curtail`)
  with its trades; the layers after this one see the curtailed powers and flow.
- **§14a grid-fee reduction** (``[flex.dimming]``): at the end, each owner of a controllable
  device the operator may dim is credited the device's reduction in its bill
  (:func:`settlement.market.grid_fee.fee_reduction_micro_eur`), paid out of the grid
  operator's fee revenue (``grid_operator_net_fees_eur``).
- **Settlement** on metered energy: :func:`settlement.market.bills.settle_block`; the run's
  totals in :class:`settlement.market.totals.MarketTotals`. Where there is a treasury
  (``[chain]`` and ``[economy]`` on) each trade's seller pays the protocol fee
  (:attr:`twin.scenario.Scenario.protocol_fee_bps`) out of its receipt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import simpy

from grid.curtailment import Sensitivities, curtail, violated
from grid.zones import voltage_zones
from settlement.chain.batches import batch_of
from settlement.market.accounts import account_kinds
from settlement.market.bidding import limit_prices, orders_from_positions
from settlement.market.bills import settle_block
from settlement.market.day_ahead import day_ahead_digest
from settlement.market.gate import LATE, apply_gate, metered_orders
from settlement.market.grid_fee import clear_with_grid_fee, fee_reduction_micro_eur
from settlement.market.sharing import key_parts
from settlement.market.totals import MarketTotals
from settlement.units import WhArray, mw_to_wh
from twin.late_orders import order_delays
from twin.layers.base import Chunk, JsonValue, LayerOutput, Process, TradeColumns
from twin.layers.context import LayerContext
from twin.layers.dispatch import DispatchLayer
from twin.layers.market_pooled import PooledRule, pooled_book, pooled_books
from twin.layers.market_tables import Book, ChunkBooks, order_rows, price_rows, trade_rows
from twin.prices import run_prices


class MarketLayer:
    """Clears the market every interval and settles each chunk on its metered energy.

    Parameters
    ----------
    ctx : LayerContext
        The run being built.
    dispatch : DispatchLayer or None
        Where forecast positions come from (``None``: every node orders its last metered
        power).
    """

    name = "market"

    def __init__(self, ctx: LayerContext, dispatch: DispatchLayer | None) -> None:
        twin, sc = ctx.twin, ctx.scenario
        self.config = sc.market
        self.protocol_fee_bps = sc.protocol_fee_bps
        self.grid = sc.grid
        self.twin = twin
        self.writer = ctx.writer
        self.stamps = ctx.stamps
        self.batch_intervals = ctx.batch_intervals
        self.interval_s = sc.run.interval_s
        self.owners, self.owner_idx = ctx.owners, ctx.owner_idx
        nodes = len(self.owner_idx)
        self.owner_matrix = sp.csr_matrix(
            (np.ones(nodes), (self.owner_idx, np.arange(nodes))), shape=(len(self.owners), nodes)
        )
        self.prices = run_prices(sc, len(twin.times))
        self.retail = self.prices.retail_eur_per_mwh
        self.feed_in = self.prices.feed_in_eur_per_mwh
        self.zone, self.levels = self._zones()
        self.rng = ctx.streams["market"]
        self.dispatch = dispatch if self.config.positions == "forecast" else None
        self.ex_post = self.config.enabled and self.config.rule != "ex_ante_auction"
        self.key_parts = self._static_key(twin.nodes.table) if self.ex_post else None
        self.pooled = (
            PooledRule(
                self.config.rule,
                self.zone,
                self.levels,
                self.config.grid_fee_eur_per_mwh_per_level,
                self.key_parts,
                self.config.community_price_eur_per_mwh,
            )
            if self.ex_post and self.config.rule != "ex_post_auction"
            else None
        )
        self.last_p = np.zeros(nodes)
        self.books: list[Book] = []
        self.totals = MarketTotals(len(self.owners), account_kinds(self.owners))
        self.next_trade_id = 0
        self.gen_rows = np.concatenate([twin.nodes.rows("solar"), twin.nodes.rows("wind")])
        self._sensitivities: Sensitivities | None = None
        self.curtailed_wh = 0
        self.violations_uncurtailed = 0
        table = twin.nodes.table
        self.delay_s = order_delays(
            self.config,
            sc.run.n_intervals,
            self.interval_s,
            list(self.owners),
            dict(zip(table["node_id"].astype(str), table["owner"].astype(str), strict=True)),
            sc.run.seed,
        )
        self.orders_late = 0

    def _zones(self) -> tuple[np.ndarray, np.ndarray]:
        """Each owner's voltage zone (of its first node's bus) and the levels between zones."""
        n = len(self.owners)
        if not self.config.grid_fee_eur_per_mwh_per_level:
            return np.zeros(n, dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
        zone_of_bus, levels = voltage_zones(self.twin.net)
        bus = self.twin.nodes.table["bus"].to_numpy()
        first = np.unique(self.owner_idx, return_index=True)[1]
        return np.array([zone_of_bus[int(b)] for b in bus[first]], dtype=np.int64), levels

    def _static_key(self, nodes: pd.DataFrame) -> np.ndarray | None:
        """The static allocation key in integer parts per owner (``static_sharing`` only):
        ``market.static_shares``, or equal shares among the owners of a consumer node."""
        if self.config.rule != "static_sharing":
            return None
        shares = self.config.static_shares
        unknown = sorted(set(shares) - set(self.owners))
        if unknown:
            raise ValueError(f"market.static_shares: unknown owners {unknown}")
        if shares:
            weights = np.array([shares.get(o, 0.0) for o in self.owners])
        else:
            consumers = np.unique(self.owner_idx[(nodes["kind"] == "consumer").to_numpy()])
            weights = np.zeros(len(self.owners))
            weights[consumers] = 1.0
        return key_parts(weights)

    def owner_wh(self, p_mw: np.ndarray) -> WhArray:
        """Owners' net energy [Wh] (integer, import positive) from node powers (T, node)."""
        return mw_to_wh((self.owner_matrix @ np.atleast_2d(p_mw).T).T, self.interval_s)

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Ex ante: place every owner's order for interval ``k`` and clear the market, then
        remember the interval's meters (the next interval's persistence forecast). Ex post:
        nothing (the trades are formed when the interval is settled)."""
        if self.ex_post:
            return
        expected = self.last_p.copy()
        if self.dispatch is not None:
            expected = self.dispatch.expected_mw(expected)
        self.clear(k, expected)
        self.last_p = p_mw.copy()

    def clear(self, k: int, predicted_mw: np.ndarray) -> None:
        """Clear interval ``k`` on each node's expected power ``predicted_mw`` [MW]."""
        position = self.owner_wh(predicted_mw)[0]
        bidding = position if self.config.enabled else np.zeros_like(position)
        self.books.append(self._auction(k, position, bidding))

    def _auction(self, k: int, position: np.ndarray, bidding: np.ndarray) -> Book:
        """Interval ``k``'s double auction of the orders of ``bidding`` [Wh]."""
        retail, feed_in = float(self.retail[k]), float(self.feed_in[k])
        limits = limit_prices(
            bidding, self.config.strategy, retail, feed_in, self.rng, markup=self.config.markup
        )
        orders = orders_from_positions(bidding, limits, limits)
        start_s = k * self.interval_s
        if self.ex_post:
            gated = metered_orders(orders, start_s, self.interval_s)
        else:
            gate = self.config.gate_closure_s
            gated = apply_gate(orders, start_s, self.interval_s, self.delay_s[k], gate)
        self.orders_late += int((gated.status == LATE).sum())
        result = clear_with_grid_fee(
            gated.on_time,
            self.zone,
            self.levels,
            self.config.grid_fee_eur_per_mwh_per_level,
            retail,
            feed_in,
            self.config.mechanism,
        )
        return Book(position, orders, gated, result.clearing, result.fee_eur_per_mwh)

    def _ex_post(self, k: int, metered: np.ndarray) -> Book:
        """Interval ``k``'s trades under an ex-post rule, from the metered net energy [Wh]."""
        if self.pooled is None:
            return self._auction(k, metered, metered)
        retail, feed_in = float(self.retail[k]), float(self.feed_in[k])
        return pooled_book(self.pooled, k, metered, retail, feed_in, self.interval_s)

    def _ex_post_chunk(self, first: int, metered: np.ndarray) -> ChunkBooks:
        """The trades of intervals ``first``, ``first + 1``, ... under an ex-post rule, from
        the metered net energy [Wh], shape (interval, owner): a pooled rule forms the whole
        chunk's at once (:func:`twin.layers.market_pooled.pooled_books`), the auction one
        interval at a time."""
        if self.pooled is None:
            books = [self._ex_post(first + t, metered[t]) for t in range(metered.shape[0])]
            return ChunkBooks.of(books, len(self.owners))
        span = slice(first, first + metered.shape[0])
        retail, feed_in = self.retail[span], self.feed_in[span]
        return pooled_books(self.pooled, first, metered, retail, feed_in, self.interval_s)

    def add(self, chunk: Chunk) -> None:
        """Check the chunk's grid (curtailing in network-aware mode), then settle it."""
        self._grid_check(chunk)
        self._settle(chunk)

    def _grid_check(self, chunk: Chunk) -> None:
        self.violations_uncurtailed += int(chunk.violations.sum())
        grid = self.grid
        if self.config.network_aware:
            chunk.curtailing = True
        if not self.config.network_aware or not chunk.violations.any():
            return
        solve = self.twin.solver.solve
        cut = curtail(
            chunk.p_mw,
            chunk.q_mvar,
            chunk.flow,
            solve=solve,
            sensitivities=self._sensitivities_now,
            gen_rows=self.gen_rows,
            vm_min=grid.vm_min_pu,
            vm_max=grid.vm_max_pu,
            max_loading=grid.max_loading_percent,
            rounds=self.config.curtailment_rounds,
        )
        chunk.p_mw, chunk.flow, chunk.curtailed_mw = cut.p_mw, cut.flow, cut.curtailed_mw
        chunk.violations = violated(
            cut.flow, grid.vm_min_pu, grid.vm_max_pu, grid.max_loading_percent
        )

    def _sensitivities_now(self) -> Sensitivities:
        if self._sensitivities is None:
            bus = self.twin.nodes.table["bus"].to_numpy()
            self._sensitivities = Sensitivities.of(self.twin.solver.solve, bus)
        return self._sensitivities

    def _settle(self, chunk: Chunk) -> None:
        actual = self.owner_wh(chunk.p_mw)
        if self.ex_post:
            # the trades of metered (curtailed) energy: nothing is left to cut
            books = self._ex_post_chunk(chunk.first, actual)
            curtailed = np.zeros_like(actual)
        else:
            books = ChunkBooks.of(self.books, len(self.owners))
            self.books = []
            curtailed = self.owner_wh(chunk.curtailed_mw)
        first, n_t = chunk.first, books.position_wh.shape[0]
        self.curtailed_wh += int(mw_to_wh(chunk.curtailed_mw.sum(axis=1), self.interval_s).sum())
        c = books.clearing
        t_idx, seller, buyer, cleared, price = (
            c.interval,
            c.seller,
            c.buyer,
            c.energy_wh,
            c.price_eur_per_mwh,
        )
        block = settle_block(
            t_idx,
            seller,
            buyer,
            cleared,
            price,
            c.fee_eur_per_mwh,
            actual_wh=actual,
            curtailed_wh=curtailed,
            position_wh=books.position_wh,
            import_eur_per_mwh=self.retail[first : first + n_t, None],
            export_eur_per_mwh=self.feed_in[first : first + n_t, None],
            protocol_fee_bps=self.protocol_fee_bps,
        )
        self.totals.add(block, t_idx, price)
        energy = block.energy_wh
        ids = np.arange(self.next_trade_id, self.next_trade_id + len(energy), dtype=np.int64)
        self.next_trade_id += len(energy)
        live = cleared > 0  # every cleared trade, a curtailed one with its 0 Wh left
        trades = TradeColumns(
            interval=t_idx[live],
            trade_id=ids[live],
            seller=seller[live],
            buyer=buyer[live],
            energy_wh=energy[live],
            price_eur_per_mwh=price[live],
            payment_micro_eur=block.payment_micro_eur[live],
            grid_fee_micro_eur=block.grid_fee_micro_eur[live],
            protocol_fee_micro_eur=block.protocol_fee_micro_eur[live],
            curtailed_wh=block.curtailed_wh[live],
        )
        chunk.trades = trades
        chunk.clearing_price_eur_per_mwh = c.clearing_price_eur_per_mwh
        chunk.traded_wh = block.bought_wh.sum(axis=1)
        self._write(chunk, books, trades)

    def _write(self, chunk: Chunk, books: ChunkBooks, t: TradeColumns) -> None:
        """Append the chunk's ``orders`` (with their status at the gate), ``prices`` and
        ``trades``."""
        times, span = chunk.times, slice(chunk.first, chunk.first + chunk.size)
        first_s = chunk.first * self.interval_s
        self.writer.append("orders", order_rows(books.orders, self.owners, times, first_s))
        day_ahead = self.prices.day_ahead_eur_per_mwh[span]
        self.writer.append(
            "prices", price_rows(times, self.retail[span], self.feed_in[span], day_ahead)
        )
        batch = batch_of(chunk.first + t.interval, self.batch_intervals)
        self.writer.append("trades", trade_rows(t, times, self.owners, batch))

    def finish(self) -> LayerOutput:
        """The market's KPIs (with the grid check's) and the ``bills`` table."""
        dimming = self.twin.dimming
        if dimming is not None and self.twin.scenario.flex.dimming.fee_reduction_eur_per_year:
            self.totals.credit_fee_reduction(self.fee_reductions(dimming.devices.rows))
        kpis = {
            **self.totals.kpis(),
            "curtailed_wh": (float(self.curtailed_wh), "Wh"),
            "violations_uncurtailed": (float(self.violations_uncurtailed), "count"),
            "orders_late": (float(self.orders_late), "count"),
        }
        n = self.twin.scenario.run.n_intervals
        day_ahead = self.prices.day_ahead_eur_per_mwh[:n]
        manifest: dict[str, JsonValue] = (
            {"tariffs": {"day_ahead_sha256": day_ahead_digest(day_ahead)}}
            if self.twin.scenario.tariffs.day_ahead_csv is not None
            else {}
        )
        return LayerOutput(
            kpis=kpis, tables={"bills": dict(self.totals.bills(self.owners))}, manifest=manifest
        )

    def fee_reductions(self, device_rows: np.ndarray) -> np.ndarray:
        """Each owner's §14a grid-fee reduction for its controllable devices (nodes at
        ``device_rows``) over the run [micro-euro]."""
        cfg = self.twin.scenario.flex.dimming
        per_device = fee_reduction_micro_eur(
            cfg.fee_reduction_eur_per_year, self.interval_s * self.twin.scenario.run.n_intervals
        )
        count = np.bincount(self.owner_idx[device_rows], minlength=len(self.owners))
        return count.astype(np.int64) * per_device
