"""The peer-to-peer market inside a run: orders, one clearing per interval, settlement.

Participants are the node owners (each home, and the community for its wind turbine).

- **Orders** (every interval, before its meters are read): each owner's *forecast* net
  position, the sum of its nodes' forecasts and its batteries' planned power, is one order:
  a bid if it expects to import, an ask if it expects to export. Where no forecast is in
  force (no forecasting, a fallback interval, the first interval), a node's last metered
  power stands in for it (persistence). Limit prices come from ``market.strategy``.
- **Clearing**: :func:`settlement.market.auction.clear`, between the feed-in and retail
  tariff of the interval; with a grid fee, zone by zone and then across zones
  (:func:`settlement.market.grid_fee.clear_with_grid_fee`).
- **Settlement** (after the grid check): network-aware curtailment cuts the trades of the
  sellers whose generation was curtailed, by the curtailed energy, first trades first. Each
  owner's imbalance, actual minus traded energy, settles with the utility at tariff: the
  utility is supplier and buyer of last resort. Each owner's cost is its P2P payments plus
  that bill; ``baseline`` is what the same metered energy costs with the utility alone.
  ``forecast_error_cost`` is what the imbalance cost beyond the imbalance the owner planned
  (ordered minus traded): its forecast error traced to money.

Money and energy are integers (Wh, micro-euro); every trade's payment is paid by its buyer
and received by its seller less the trade's grid fee, so net payments, the grid operator's
fees included, sum to zero in every interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from settlement.market.auction import Clearing, Orders, limit_prices, orders_from_positions
from settlement.market.grid_fee import clear_with_grid_fee
from settlement.market.tariff import utility_bill
from twin.scenario import MarketConfig

_OWNER_SUMS = (
    "cost_micro_eur",
    "baseline_cost_micro_eur",
    "import_wh",
    "export_wh",
    "p2p_bought_wh",
    "p2p_sold_wh",
    "p2p_paid_micro_eur",
    "forecast_error_cost_micro_eur",
)


@dataclass
class _Book:
    """One interval's market: positions, orders and the clearing."""

    position_wh: np.ndarray
    orders: Orders
    clearing: Clearing
    fee_eur_per_mwh: np.ndarray


@dataclass
class MarketTotals:
    """Run totals of the market for the KPIs."""

    trades: int = 0
    traded_wh: int = 0
    grid_fees_micro_eur: int = 0
    curtailed_trade_wh: int = 0
    price_energy: float = 0.0  # sum of price * energy, for the volume-weighted mean
    price_min: float = float("inf")
    price_max: float = float("-inf")
    cleared_intervals: int = 0
    by_owner: dict[str, np.ndarray] = field(default_factory=dict)


def cut_trades(
    interval: np.ndarray, seller: np.ndarray, energy_wh: np.ndarray, cut_wh: np.ndarray
) -> np.ndarray:
    """Trade energies after cutting each seller's trades by ``cut_wh``, first trades first.

    Parameters
    ----------
    interval, seller : ndarray of int
        Each trade's interval (row of ``cut_wh``) and seller (column).
    energy_wh : ndarray of int
        Each trade's energy [Wh].
    cut_wh : ndarray of int, shape (interval, owner)
        Energy to cut from each seller's trades in each interval [Wh].
    """
    if not len(energy_wh):
        return energy_wh
    key = interval * cut_wh.shape[1] + seller
    order = np.argsort(key, kind="stable")
    k, e = key[order], energy_wh[order]
    before = np.cumsum(e) - e
    first = np.searchsorted(k, k, side="left")
    within = before - before[first]  # energy of the seller's earlier trades that interval
    cut = np.clip(cut_wh.ravel()[k] - within, 0, e)
    out = energy_wh.copy()
    out[order] = e - cut
    return out


class MarketLayer:
    """Clears the market every interval and settles a chunk of intervals at once.

    Parameters
    ----------
    config : MarketConfig
        ``[market]``.
    owner_idx : ndarray of int
        Each node's owner (participant) index.
    owners : ndarray of str
        The participants' names.
    import_eur_per_mwh, export_eur_per_mwh : ndarray
        Retail and feed-in price of each interval of the run [EUR/MWh].
    rng : numpy.random.Generator
        The market's random stream (zero-intelligence limit prices).
    interval_s : int
        Interval length [s].
    zone : ndarray of int, optional
        Each owner's voltage zone (for grid fees).
    levels : ndarray of int, optional
        Transformers between two zones.
    """

    def __init__(
        self,
        config: MarketConfig,
        owner_idx: np.ndarray,
        owners: np.ndarray,
        import_eur_per_mwh: np.ndarray,
        export_eur_per_mwh: np.ndarray,
        rng: np.random.Generator,
        interval_s: int,
        zone: np.ndarray | None = None,
        levels: np.ndarray | None = None,
    ) -> None:
        self.config = config
        self.zone = np.zeros(len(owners), dtype=np.int64) if zone is None else zone
        self.levels = np.zeros((1, 1), dtype=np.int64) if levels is None else levels
        self.owner_idx = owner_idx
        nodes = len(owner_idx)
        self.owner_matrix = sp.csr_matrix(
            (np.ones(nodes), (owner_idx, np.arange(nodes))), shape=(len(owners), nodes)
        )
        self.owners = owners
        self.n = len(owners)
        self.retail = import_eur_per_mwh
        self.feed_in = export_eur_per_mwh
        self.rng = rng
        self.wh_per_mw = interval_s / 3600.0 * 1e6
        self.books: list[_Book] = []
        self.totals = MarketTotals(
            by_owner={k: np.zeros(self.n, dtype=np.int64) for k in _OWNER_SUMS}
        )
        self.next_trade_id = 0

    def owner_wh(self, p_mw: np.ndarray) -> np.ndarray:
        """Owners' net energy [Wh] (integer, import positive) from node powers (T, node)."""
        out = (self.owner_matrix @ np.atleast_2d(p_mw).T).T
        return np.rint(out * self.wh_per_mw).astype(np.int64)

    def clear(self, k: int, predicted_mw: np.ndarray) -> None:
        """Place every owner's order for interval ``k`` and clear the market.

        Parameters
        ----------
        k : int
            The interval.
        predicted_mw : ndarray, shape (node,)
            Each node's expected power in interval ``k`` [MW] (forecast or plan).
        """
        position = self.owner_wh(predicted_mw)[0]
        bidding = position if self.config.enabled else np.zeros_like(position)
        retail, feed_in = float(self.retail[k]), float(self.feed_in[k])
        limits = limit_prices(
            bidding, self.config.strategy, retail, feed_in, self.rng, markup=self.config.markup
        )
        orders = orders_from_positions(bidding, limits, limits)
        result = clear_with_grid_fee(
            orders,
            self.zone,
            self.levels,
            self.config.grid_fee_eur_per_mwh_per_level,
            retail,
            feed_in,
            self.config.mechanism,
        )
        self.books.append(_Book(position, orders, result.clearing, result.fee_eur_per_mwh))

    def settle(self, first: int, p_mw: np.ndarray, curtailed_mw: np.ndarray) -> dict[str, Any]:
        """Settle the pending intervals ``first ..`` with their metered (curtailed) powers.

        Returns the chunk's columns of the ``orders`` and ``trades`` tables and, per interval,
        ``clearing_price``, ``traded_wh`` and ``curtailed_trade_wh``.
        """
        books, self.books = self.books, []
        n_t, n = len(books), self.n
        actual = self.owner_wh(p_mw)
        curtailed = self.owner_wh(curtailed_mw)
        retail = self.retail[first : first + n_t, None]
        feed_in = self.feed_in[first : first + n_t, None]
        counts = np.array([len(b.clearing.energy_wh) for b in books], dtype=np.int64)
        t_idx = np.repeat(np.arange(n_t), counts)
        cat = np.concatenate

        def col(name: str) -> np.ndarray:
            return _column([b.clearing for b in books], name)

        seller = col("seller").astype(np.int64)
        buyer = col("buyer").astype(np.int64)
        energy0 = col("energy_wh").astype(np.int64)
        price = col("price_eur_per_mwh").astype(np.float64)
        fee_rate = cat([b.fee_eur_per_mwh for b in books]) if n_t else np.zeros(0)
        sold0 = np.zeros(n_t * n, dtype=np.int64)
        np.add.at(sold0, t_idx * n + seller, energy0)
        cut = np.minimum(curtailed, sold0.reshape(n_t, n))
        energy = cut_trades(t_idx, seller, energy0, cut)
        pay = np.rint(energy * price).astype(np.int64)
        fee = np.rint(energy * fee_rate).astype(np.int64)

        def per_owner(who: np.ndarray, values: np.ndarray) -> np.ndarray:
            out = np.zeros(n_t * n, dtype=np.int64)
            np.add.at(out, t_idx * n + who, values)
            return out.reshape(n_t, n)

        bought, sold = per_owner(buyer, energy), per_owner(seller, energy)
        paid = per_owner(buyer, pay) - per_owner(seller, pay - fee)
        traded = bought - sold
        position = np.array([b.position_wh for b in books]).reshape(n_t, n)
        imp, exp, utility = utility_bill(actual - traded, retail, feed_in)
        _, _, baseline = utility_bill(actual, retail, feed_in)
        _, _, planned = utility_bill(position - traded, retail, feed_in)
        s = self.totals.by_owner
        s["cost_micro_eur"] += (paid + utility).sum(axis=0)
        s["baseline_cost_micro_eur"] += baseline.sum(axis=0)
        s["import_wh"] += imp.sum(axis=0)
        s["export_wh"] += exp.sum(axis=0)
        s["p2p_bought_wh"] += bought.sum(axis=0)
        s["p2p_sold_wh"] += sold.sum(axis=0)
        s["p2p_paid_micro_eur"] += paid.sum(axis=0)
        s["forecast_error_cost_micro_eur"] += (utility - planned).sum(axis=0)

        traded_wh = bought.sum(axis=1)
        price_sum = np.zeros(n_t)
        np.add.at(price_sum, t_idx, energy * price)
        clearing_price = np.array([b.clearing.clearing_price_eur_per_mwh for b in books])
        t = self.totals
        live = energy > 0
        t.trades += int(live.sum())
        t.traded_wh += int(energy.sum())
        t.grid_fees_micro_eur += int(fee.sum())
        t.curtailed_trade_wh += int((energy0 - energy).sum())
        t.price_energy += float(price_sum.sum())
        if live.any():
            t.price_min = min(t.price_min, float(price[live].min()))
            t.price_max = max(t.price_max, float(price[live].max()))
        t.cleared_intervals += int((traded_wh > 0).sum())

        ids = np.arange(self.next_trade_id, self.next_trade_id + len(energy), dtype=np.int64)
        self.next_trade_id += len(energy)
        orders = [b.orders for b in books]
        o_counts = np.array([len(o.energy_wh) for o in orders], dtype=np.int64)
        return {
            "trades": {
                "interval": t_idx[live],
                "trade_id": ids[live],
                "seller": seller[live],
                "buyer": buyer[live],
                "energy_wh": energy[live],
                "price_eur_per_mwh": price[live],
                "payment_micro_eur": pay[live],
                "grid_fee_micro_eur": fee[live],
                "curtailed_wh": (energy0 - energy)[live],
            },
            "orders": {
                "interval": np.repeat(np.arange(n_t), o_counts),
                "participant": _column(orders, "participant").astype(np.int64),
                "side": _column(orders, "side").astype(np.int8),
                "energy_wh": _column(orders, "energy_wh").astype(np.int64),
                "limit_eur_per_mwh": _column(orders, "limit_eur_per_mwh").astype(np.float64),
            },
            "clearing_price": clearing_price,
            "traded_wh": traded_wh,
            "curtailed_trade_wh": per_owner(seller, energy0 - energy).sum(axis=1),
        }

    def kpis(self) -> dict[str, tuple[float, str]]:
        """The market's KPIs (see :mod:`grid.kpis` for the energy ones)."""
        t, s = self.totals, self.totals.by_owner
        bought = float(s["p2p_bought_wh"].sum())
        demand = bought + float(s["import_wh"].sum())
        savings = s["baseline_cost_micro_eur"] - s["cost_micro_eur"]
        return {
            "community_cost_eur": (float(s["cost_micro_eur"].sum()) / 1e6, "EUR"),
            "baseline_cost_eur": (float(s["baseline_cost_micro_eur"].sum()) / 1e6, "EUR"),
            "savings_eur": (float(savings.sum()) / 1e6, "EUR"),
            "p2p_share": (bought / demand if demand else float("nan"), "-"),
            "p2p_traded_mwh": (t.traded_wh / 1e6, "MWh"),
            "grid_fees_eur": (t.grid_fees_micro_eur / 1e6, "EUR"),
            "trades": (float(t.trades), "count"),
            "curtailed_trade_wh": (float(t.curtailed_trade_wh), "Wh"),
            "price_mean_eur_per_mwh": (
                t.price_energy / t.traded_wh if t.traded_wh else float("nan"),
                "EUR/MWh",
            ),
            "price_min_eur_per_mwh": (t.price_min if t.trades else float("nan"), "EUR/MWh"),
            "price_max_eur_per_mwh": (t.price_max if t.trades else float("nan"), "EUR/MWh"),
            "participants_gaining": (float((savings > 0).sum()), "count"),
            "participants_losing": (float((savings < 0).sum()), "count"),
            "forecast_error_cost_eur": (
                float(s["forecast_error_cost_micro_eur"].sum()) / 1e6,
                "EUR",
            ),
        }

    def bills(self) -> dict[str, Any]:
        """Columns of the ``bills`` table: one row an owner."""
        s = self.totals.by_owner
        return {
            "owner": self.owners,
            **{k: s[k] for k in _OWNER_SUMS},
            "savings_micro_eur": s["baseline_cost_micro_eur"] - s["cost_micro_eur"],
        }


def _column(parts: list[Any], name: str) -> np.ndarray:
    """Attribute ``name`` of every part (clearings or orders), concatenated."""
    return np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros(0)
