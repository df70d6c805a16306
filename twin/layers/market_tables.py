"""The market layer's tables: one interval's book, and the ``orders``, ``prices`` and
``trades`` columns of a chunk, as :class:`twin.results.RunWriter` appends them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from settlement.market.auction import Clearing, Orders
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


def column(parts: list[Orders] | list[Clearing] | list[GatedOrders], name: str) -> np.ndarray:
    """Attribute ``name`` of every part (clearings or orders), concatenated."""
    return np.concatenate([getattr(p, name) for p in parts]) if parts else np.zeros(0)


def _who(codes: np.ndarray, owners: np.ndarray) -> pa.DictionaryArray:
    """Owner codes as a dictionary column of the owners' names."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(owners))


def order_rows(
    books: list[Book], owners: np.ndarray, times: np.ndarray, first_s: int
) -> dict[str, object]:
    """The ``orders`` of a chunk's books (``times``: its intervals; ``first_s``: its first
    interval's start [s from the run's start])."""
    orders = [b.orders for b in books]
    gated = [b.gated for b in books]
    counts = np.array([len(o.energy_wh) for o in orders], dtype=np.int64)
    side = column(orders, "side").astype(np.int8)
    status = column(gated, "status").astype(np.int8)
    # submission [s from the run's start] as a time: the chunk's first interval's start plus
    # its offset from it
    since = column(gated, "submitted_s").astype(np.int64) - first_s
    return {
        "time": times[np.repeat(np.arange(len(orders)), counts)],
        "participant": _who(column(orders, "participant").astype(np.int64), owners),
        "side": pa.DictionaryArray.from_arrays(
            pa.array((side < 0).astype(np.int8)), pa.array(["buy", "sell"])
        ),
        "energy_wh": column(orders, "energy_wh").astype(np.int64),
        "limit_price_eur_per_mwh": column(orders, "limit_eur_per_mwh").astype(np.float64),
        "status": pa.DictionaryArray.from_arrays(pa.array(status), pa.array(STATUSES)),
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
