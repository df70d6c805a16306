"""The pooled ex-post rules on a block of intervals at once: one row an interval.

The same rules as :mod:`settlement.market.ex_post` and :mod:`settlement.market.sharing`
(``mid_market``, the static and the dynamic allocation key), computed for every interval of a
block (a chunk of the run) with array operations instead of one call an interval. Each
function does, row by row, the same integer and floating-point operations as its
per-interval twin, so its results are equal to theirs bit for bit (the tests compare them on
random blocks): :func:`pro_rata_rows` is :func:`~settlement.market.ex_post.pro_rata`,
:func:`allocate_rows` is :func:`~settlement.market.sharing.allocate` (and, with the dynamic
key, :func:`~settlement.market.ex_post.matched_pro_rata`, the mid-market rule's split),
:func:`pooled_clearing_rows` is :func:`~settlement.market.ex_post.pooled_clearing`.

Energies are ``(interval, owner)`` integer arrays [Wh], import positive; the trades of a block
are columnar, ordered by interval and, within one, as the per-interval function orders them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from settlement.market.sharing import KEYS
from settlement.units import WhArray

#: ``total * weight`` must stay below this (as in :func:`~settlement.market.ex_post.pro_rata`).
_PRODUCT_LIMIT = 2**62


def community_price_rows(
    retail_eur_per_mwh: np.ndarray,
    feed_in_eur_per_mwh: np.ndarray,
    configured: float | None = None,
) -> np.ndarray:
    """Each interval's community price [EUR/MWh]: ``configured`` clipped into
    ``[feed_in, retail]``, or the mid-market price (:func:`~settlement.market.sharing.
    community_price`, :func:`~settlement.market.ex_post.mid_market_price`, row by row)."""
    retail = np.asarray(retail_eur_per_mwh, dtype=np.float64)
    feed_in = np.asarray(feed_in_eur_per_mwh, dtype=np.float64)
    if not np.isfinite(retail).all():
        raise ValueError("retail_eur_per_mwh must be finite")
    if not np.isfinite(feed_in).all():
        raise ValueError("feed_in_eur_per_mwh must be finite")
    if (retail < feed_in).any():
        raise ValueError("retail_eur_per_mwh must not be below feed_in_eur_per_mwh")
    if configured is None:
        return 0.5 * (retail + feed_in)
    price = float(configured)
    # as Python's min(max(price, feed_in), retail): the first argument unless the other wins
    low = np.where(feed_in > price, feed_in, price)
    return np.where(retail < low, retail, low)


def int_block(name: str, values: object) -> np.ndarray:
    """``values`` as a 2-D int64 array, or a ValueError naming ``name``."""
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (interval, owner), got shape {arr.shape}")
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise ValueError(f"{name} must be integer, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def surplus_deficit_rows(net_wh: np.ndarray) -> tuple[WhArray, WhArray]:
    """Each owner's metered surplus (export) and deficit (import) per interval [Wh]."""
    net = int_block("net_wh", net_wh)
    return WhArray(np.maximum(-net, 0)), WhArray(np.maximum(net, 0))


def pro_rata_rows(total_wh: np.ndarray, weights: np.ndarray) -> WhArray:
    """Split each row's ``total_wh`` in proportion to its integer ``weights``, exactly.

    Parameters
    ----------
    total_wh : ndarray of int, shape (interval,)
        Energy to split in each interval [Wh], >= 0.
    weights : ndarray of int, shape (interval, owner) or (owner,)
        Weights, >= 0 (one row for every interval, or the same for all).

    Returns
    -------
    ndarray of int64, shape (interval, owner)
        Each row is ``pro_rata(total_wh[t], weights[t])`` (largest remainder, ties to the
        lower index) [Wh].
    """
    total = np.asarray(total_wh, dtype=np.int64)
    w = np.asarray(weights)
    if w.ndim == 1:
        w = np.broadcast_to(w, (total.shape[0], w.shape[0]))
    w = int_block("weights", w)
    if w.shape[0] != total.shape[0]:
        raise ValueError(f"weights has {w.shape[0]} rows, expected {total.shape[0]}")
    if (total < 0).any() or (w < 0).any():
        raise ValueError("total_wh and weights must be >= 0")
    total_w = w.sum(axis=1)
    split = total > 0
    if (split & (total_w == 0)).any():
        raise ValueError("cannot split a positive energy over zero weights")
    w_max = w.max(axis=1, initial=0)
    # total * w_max >= 2**62, exactly in int64: total > (2**62 - 1) // w_max
    limit = (_PRODUCT_LIMIT - 1) // np.maximum(w_max, 1)
    if (split & (w_max > 0) & (total > limit)).any():
        raise ValueError("total_wh * weights overflows int64: scale the weights down")
    quota = total[:, None] * w
    divisor = np.maximum(total_w, 1)[:, None]
    out, remainder = quota // divisor, quota % divisor
    left = total - out.sum(axis=1)
    order = np.argsort(-remainder, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(w.shape[1])[None, :], axis=1)
    out += rank < left[:, None]
    return WhArray(out)


def matched_pro_rata_rows(net_wh: np.ndarray) -> tuple[WhArray, WhArray]:
    """The matched energy ``min(sum(surplus), sum(deficit))`` of each row, sold pro rata to
    surplus and bought pro rata to deficit: (sold, bought) [Wh]."""
    surplus, deficit = surplus_deficit_rows(net_wh)
    matched = np.minimum(surplus.sum(axis=1), deficit.sum(axis=1))
    return pro_rata_rows(matched, surplus), pro_rata_rows(matched, deficit)


def zone_first_rows(
    net_wh: np.ndarray,
    zone: np.ndarray,
    split: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[WhArray, WhArray]:
    """A pooled rule ``split`` applied inside each zone, then across zones, every row."""
    net = int_block("net_wh", net_wh).copy()
    zone = np.asarray(zone, dtype=np.int64)
    sold, bought = np.zeros_like(net), np.zeros_like(net)
    for z in np.unique(zone):
        cols = np.flatnonzero(zone == z)
        s, b = split(net[:, cols])
        sold[:, cols] += s
        bought[:, cols] += b
        net[:, cols] += s - b
    s, b = split(net)
    return WhArray(sold + s), WhArray(bought + b)


def allocate_rows(
    net_wh: np.ndarray,
    key: str,
    parts: np.ndarray | None = None,
    zone: np.ndarray | None = None,
) -> tuple[WhArray, WhArray]:
    """Energy sharing by allocation key on every row of ``net_wh`` [Wh]: (sold, bought).

    See :func:`settlement.market.sharing.allocate`; the dynamic key is also the mid-market
    rule's split (:func:`settlement.market.ex_post.matched_pro_rata`).
    """
    surplus, deficit = surplus_deficit_rows(net_wh)
    pool = surplus.sum(axis=1)
    if key == "static":
        if parts is None:
            raise ValueError("the static key needs its parts")
        bought = np.minimum(pro_rata_rows(pool, parts), deficit)
    elif key == "dynamic":
        if zone is not None and len(np.unique(zone)) > 1:
            return zone_first_rows(net_wh, zone, lambda net: allocate_rows(net, "dynamic"))
        bought = pro_rata_rows(np.minimum(pool, deficit.sum(axis=1)), deficit)
    else:
        raise ValueError(f"key must be one of {KEYS}, got {key!r}")
    return pro_rata_rows(bought.sum(axis=1), surplus), WhArray(bought)


def merge_rows(
    sold_wh: np.ndarray, bought_wh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pair each row's sellers and buyers in owner order by merging their cumulative energies,
    up to the smaller side's total: (interval, seller, buyer, energy_wh) of the trades.

    Every row's cumulative energies, capped at its smaller total, are laid end to end on one
    axis (row ``t`` from the sum of the earlier rows' totals), so one merge of the whole block
    finds each row's points, and each point's seller and buyer inside its own row.
    """
    sold, bought = int_block("sold_wh", sold_wh), int_block("bought_wh", bought_wh)
    n = sold.shape[1]
    if sold.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), empty.copy()
    s_cum, b_cum = np.cumsum(sold, axis=1), np.cumsum(bought, axis=1)
    cap = np.minimum(s_cum[:, -1], b_cum[:, -1])
    start = (np.cumsum(cap) - cap)[:, None]
    s_line = (start + np.minimum(s_cum, cap[:, None])).ravel()
    b_line = (start + np.minimum(b_cum, cap[:, None])).ravel()
    points = np.union1d(s_line, b_line)
    points = points[points > 0]
    i, j = np.searchsorted(s_line, points), np.searchsorted(b_line, points)
    energy = np.diff(points, prepend=0).astype(np.int64)
    return i // n, i % n, j % n, energy


@dataclass(frozen=True, eq=False)
class BlockClearing:
    """The trades of a block of intervals, columnar, and each interval's clearing price.

    Attributes
    ----------
    interval : ndarray of int64
        Each trade's row in the block.
    seller, buyer : ndarray of int64
        Each trade's seller and buyer (owner index).
    energy_wh : ndarray of int64
        Each trade's energy [Wh], > 0.
    price_eur_per_mwh : ndarray of float64
        Each trade's price [EUR/MWh].
    payment_micro_eur : ndarray of int64
        ``rint(energy_wh * price_eur_per_mwh)`` [micro-euro].
    fee_eur_per_mwh : ndarray of float64
        Each trade's grid fee [EUR/MWh].
    clearing_price_eur_per_mwh : ndarray of float64, shape (interval,)
        Each interval's price; NaN where nothing trades.
    """

    interval: np.ndarray
    seller: np.ndarray
    buyer: np.ndarray
    energy_wh: np.ndarray
    price_eur_per_mwh: np.ndarray
    payment_micro_eur: np.ndarray
    fee_eur_per_mwh: np.ndarray
    clearing_price_eur_per_mwh: np.ndarray


def pooled_clearing_rows(
    sold_wh: np.ndarray,
    bought_wh: np.ndarray,
    price_eur_per_mwh: np.ndarray,
    zone: np.ndarray,
    levels: np.ndarray,
    fee_per_level: float,
) -> BlockClearing:
    """The trades of a pooled rule in every row: :func:`settlement.market.ex_post.
    pooled_clearing` of ``sold_wh[t]``, ``bought_wh[t]`` at ``price_eur_per_mwh[t]``.

    Parameters
    ----------
    sold_wh, bought_wh : ndarray of int, shape (interval, owner)
        What each owner sells and buys [Wh]; each row of both sums to the same total.
    price_eur_per_mwh : ndarray of float, shape (interval,)
        Each interval's one price [EUR/MWh].
    zone, levels, fee_per_level
        As :func:`~settlement.market.ex_post.pooled_clearing`.
    """
    sold = int_block("sold_wh", sold_wh).copy()
    bought = int_block("bought_wh", bought_wh).copy()
    if bought.shape != sold.shape:
        raise ValueError(f"bought_wh has shape {bought.shape}, expected {sold.shape}")
    if (sold < 0).any() or (bought < 0).any() or (sold.sum(1) != bought.sum(1)).any():
        raise ValueError("sold_wh and bought_wh must be >= 0 and sum to the same total")
    if not np.isfinite(fee_per_level) or fee_per_level < 0:
        raise ValueError(f"fee_per_level must be finite and >= 0, got {fee_per_level}")
    row_price = np.asarray(price_eur_per_mwh, dtype=np.float64)
    zone = np.asarray(zone, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    if fee_per_level > 0 and len(np.unique(zone)) > 1:
        for z in np.unique(zone):
            cols = np.flatnonzero(zone == z)
            t, s, b, e = merge_rows(sold[:, cols], bought[:, cols])
            s, b = cols[s], cols[b]
            np.subtract.at(sold, (t, s), e)
            np.subtract.at(bought, (t, b), e)
            parts.append((t, s, b, e))
    parts.append(merge_rows(sold, bought))
    t, seller, buyer, energy = (np.concatenate(c) for c in zip(*parts, strict=True))
    if len(parts) > 1:  # each interval's trades together, its zones' before the rest
        by_row = np.argsort(t, kind="stable")
        t, seller, buyer, energy = t[by_row], seller[by_row], buyer[by_row], energy[by_row]
    price = row_price[t]
    fee = fee_per_level * np.asarray(levels)[zone[seller], zone[buyer]].astype(np.float64)
    traded = np.zeros(sold.shape[0], dtype=bool)
    traded[t] = True
    return BlockClearing(
        interval=t,
        seller=seller,
        buyer=buyer,
        energy_wh=energy,
        price_eur_per_mwh=price,
        payment_micro_eur=np.rint(energy * price).astype(np.int64),
        fee_eur_per_mwh=fee if fee_per_level else np.zeros(energy.shape),
        clearing_price_eur_per_mwh=np.where(traded, row_price, np.nan),
    )
