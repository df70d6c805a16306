"""The market layer's tables: one interval's book, a chunk's books as columns, and the
``orders``, ``prices`` and ``trades`` columns of a chunk, as :class:`twin.results.RunWriter`
appends them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from settlement.market.auction import Clearing, Orders
from settlement.market.ex_post_block import BlockClearing
from settlement.market.gate import STATUSES, GatedOrders
from twin.layers.base import TradeColumns


@dataclass
class Book:
    """One interval's market: positions, orders (at the gate) and the clearing."""

    position_wh: np.ndarray
    orders: Orders
    gated: GatedOrders
    clearing: Clearing
    fee_eur_per_mwh: np.ndarray


@dataclass(frozen=True, eq=False)
class ChunkOrders:
    """A chunk's orders, columnar: one row an order, by interval and then participant.

    Attributes
    ----------
    interval : ndarray of int64
        Each order's row in the chunk.
    participant : ndarray of int64
        Owner index.
    side : ndarray of int8
        +1 buy, -1 sell.
    energy_wh : ndarray of int64
        Energy [Wh], > 0.
    limit_eur_per_mwh : ndarray of float64
        Limit price [EUR/MWh].
    status : ndarray of int8
        Status at the gate (:data:`settlement.market.gate.STATUSES`).
    submitted_s : ndarray of int64
        When the order arrived [s from the run's start].
    """

    interval: np.ndarray
    participant: np.ndarray
    side: np.ndarray
    energy_wh: np.ndarray
    limit_eur_per_mwh: np.ndarray
    status: np.ndarray
    submitted_s: np.ndarray


@dataclass(frozen=True, eq=False)
class ChunkBooks:
    """A chunk's market, columnar: positions, orders and trades of all its intervals.

    Attributes
    ----------
    position_wh : ndarray of int64, shape (interval, owner)
        Each owner's position [Wh].
    orders : ChunkOrders
        The orders of every interval.
    clearing : BlockClearing
        The trades of every interval, each interval's clearing price.
    """

    position_wh: np.ndarray
    orders: ChunkOrders
    clearing: BlockClearing

    @classmethod
    def of(cls, books: list[Book], n_owners: int) -> ChunkBooks:
        """The books of a chunk's intervals (one each, in order) as columns."""
        n_t = len(books)
        orders = [b.orders for b in books]
        gated = [b.gated for b in books]
        clearings = [b.clearing for b in books]
        n_orders = np.array([len(o.energy_wh) for o in orders], dtype=np.int64)
        n_trades = np.array([len(c.energy_wh) for c in clearings], dtype=np.int64)
        return cls(
            position_wh=np.array([b.position_wh for b in books]).reshape(n_t, n_owners),
            orders=ChunkOrders(
                interval=np.repeat(np.arange(n_t), n_orders),
                participant=column(orders, "participant").astype(np.int64),
                side=column(orders, "side").astype(np.int8),
                energy_wh=column(orders, "energy_wh").astype(np.int64),
                limit_eur_per_mwh=column(orders, "limit_eur_per_mwh").astype(np.float64),
                status=column(gated, "status").astype(np.int8),
                submitted_s=column(gated, "submitted_s").astype(np.int64),
            ),
            clearing=BlockClearing(
                interval=np.repeat(np.arange(n_t), n_trades),
                seller=column(clearings, "seller").astype(np.int64),
                buyer=column(clearings, "buyer").astype(np.int64),
                energy_wh=column(clearings, "energy_wh").astype(np.int64),
                price_eur_per_mwh=column(clearings, "price_eur_per_mwh").astype(np.float64),
                payment_micro_eur=column(clearings, "payment_micro_eur").astype(np.int64),
                fee_eur_per_mwh=(
                    np.concatenate([b.fee_eur_per_mwh for b in books]) if n_t else np.zeros(0)
                ),
                clearing_price_eur_per_mwh=np.array(
                    [c.clearing_price_eur_per_mwh for c in clearings], dtype=np.float64
                ),
            ),
        )


def column(parts: list[Orders] | list[Clearing] | list[GatedOrders], name: str) -> np.ndarray:
    """Attribute ``name`` of every part (clearings or orders), concatenated."""
    return np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros(0)


def _who(codes: np.ndarray, owners: np.ndarray) -> pa.DictionaryArray:
    """Owner codes as a dictionary column of the owners' names."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(owners))


def order_rows(
    orders: ChunkOrders, owners: np.ndarray, times: np.ndarray, first_s: int
) -> dict[str, object]:
    """The ``orders`` of a chunk (``times``: its intervals; ``first_s``: its first interval's
    start [s from the run's start])."""
    # submission [s from the run's start] as a time: the chunk's first interval's start plus
    # its offset from it
    since = orders.submitted_s - first_s
    return {
        "time": times[orders.interval],
        "participant": _who(orders.participant, owners),
        "side": pa.DictionaryArray.from_arrays(
            pa.array((orders.side < 0).astype(np.int8)), pa.array(["buy", "sell"])
        ),
        "energy_wh": orders.energy_wh,
        "limit_price_eur_per_mwh": orders.limit_eur_per_mwh,
        "status": pa.DictionaryArray.from_arrays(pa.array(orders.status), pa.array(STATUSES)),
        "submitted": times[0] + since.astype("timedelta64[s]")
        if len(times)
        else np.zeros(0, dtype="datetime64[us]"),
    }


def price_rows(
    times: np.ndarray, retail: np.ndarray, feed_in: np.ndarray, day_ahead: np.ndarray
) -> dict[str, object]:
    """The ``prices`` of a chunk's intervals [EUR/MWh] (day-ahead: null without one)."""
    return {
        "time": times,
        "retail_eur_per_mwh": retail,
        "feed_in_eur_per_mwh": feed_in,
        "day_ahead_eur_per_mwh": pa.array(day_ahead, mask=np.isnan(day_ahead)),
    }


def trade_rows(
    t: TradeColumns, times: np.ndarray, owners: np.ndarray, batch_id: np.ndarray
) -> dict[str, object]:
    """The ``trades`` of a chunk (``t.interval``: positions in ``times``)."""
    return {
        "time": times[t.interval],
        "trade_id": t.trade_id,
        "batch_id": batch_id,
        "seller": _who(t.seller, owners),
        "buyer": _who(t.buyer, owners),
        "energy_wh": t.energy_wh,
        "price_eur_per_mwh": t.price_eur_per_mwh,
        "payment_micro_eur": t.payment_micro_eur,
        "grid_fee_micro_eur": t.grid_fee_micro_eur,
        "curtailed_wh": t.curtailed_wh,
        "protocol_fee_micro_eur": t.protocol_fee_micro_eur,
    }
