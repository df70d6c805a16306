"""The market layer's pooled ex-post rules: the books of ``mid_market``, ``static_sharing`` and
``dynamic_sharing``, one interval at a time or a whole chunk at once.

Both give the same books (the tests compare them): :func:`pooled_book` forms one interval's
with the per-interval rules (:mod:`settlement.market.ex_post`,
:mod:`settlement.market.sharing`); :func:`pooled_books` forms a chunk's with their block twins
(:mod:`settlement.market.ex_post_block`), which the layer uses. Each owner's metered net
energy is its order, at the interval's community price, with status ``ex_post``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from settlement.market.bidding import orders_from_positions
from settlement.market.ex_post import mid_market, pooled_clearing
from settlement.market.ex_post_block import (
    allocate_rows,
    community_price_rows,
    int_block,
    pooled_clearing_rows,
)
from settlement.market.gate import EX_POST, metered_orders
from settlement.market.grid_fee import FeeClearing
from settlement.market.sharing import allocate, community_price
from twin.layers.market_tables import Book, ChunkBooks, ChunkOrders

#: The ex-post rules whose trades are pooled (every rule but the auctions).
POOLED_RULES = ("mid_market", "static_sharing", "dynamic_sharing")


@dataclass(frozen=True, eq=False)
class PooledRule:
    """A pooled ex-post rule's settings.

    Attributes
    ----------
    rule : {"mid_market", "static_sharing", "dynamic_sharing"}
        The rule (``market.rule``).
    zone : ndarray of int64
        Each owner's voltage zone.
    levels : ndarray of int64, shape (zone, zone)
        Transformers between two zones.
    fee_per_level : float
        Grid fee per transformer crossed [EUR/MWh] (``market.grid_fee_eur_per_mwh_per_level``).
    key_parts : ndarray of int64 or None
        The static key (``static_sharing`` only).
    community_price_eur_per_mwh : float or None
        The sharing rules' configured price (``None``: mid-market); ``mid_market`` ignores it.
    """

    rule: str
    zone: np.ndarray
    levels: np.ndarray
    fee_per_level: float
    key_parts: np.ndarray | None = None
    community_price_eur_per_mwh: float | None = None

    def __post_init__(self) -> None:
        """Refuse a rule that is not pooled."""
        if self.rule not in POOLED_RULES:
            raise ValueError(f"rule must be one of {POOLED_RULES}, got {self.rule!r}")

    @property
    def configured_price(self) -> float | None:
        """The configured price the rule uses (``None``: mid-market)."""
        return None if self.rule == "mid_market" else self.community_price_eur_per_mwh

    @property
    def key(self) -> str:
        """The sharing rules' allocation key."""
        return "static" if self.rule == "static_sharing" else "dynamic"


def pooled_book(
    rule: PooledRule,
    k: int,
    metered_wh: np.ndarray,
    retail_eur_per_mwh: float,
    feed_in_eur_per_mwh: float,
    interval_s: int,
) -> Book:
    """Interval ``k``'s book from each owner's metered net energy ``metered_wh`` [Wh]."""
    retail, feed_in = retail_eur_per_mwh, feed_in_eur_per_mwh
    fee = rule.fee_per_level
    price = community_price(retail, feed_in, rule.configured_price)
    result: FeeClearing
    if rule.rule == "mid_market":
        result = mid_market(metered_wh, retail, feed_in, rule.zone, rule.levels, fee)
    else:
        zone = rule.zone if fee else None
        sold, bought = allocate(metered_wh, rule.key, rule.key_parts, zone)
        result = pooled_clearing(sold, bought, price, rule.zone, rule.levels, fee)
    limit = np.full(metered_wh.shape, price)
    orders = orders_from_positions(metered_wh, limit, limit)
    gated = metered_orders(orders, k * interval_s, interval_s)
    return Book(metered_wh, orders, gated, result.clearing, result.fee_eur_per_mwh)


def pooled_books(
    rule: PooledRule,
    first: int,
    metered_wh: np.ndarray,
    retail_eur_per_mwh: np.ndarray,
    feed_in_eur_per_mwh: np.ndarray,
    interval_s: int,
) -> ChunkBooks:
    """The books of intervals ``first``, ``first + 1``, ... from each owner's metered net
    energy ``metered_wh`` [Wh], shape (interval, owner), and their tariffs [EUR/MWh]: equal to
    :func:`pooled_book` of every row, as :meth:`ChunkBooks.of` columns."""
    metered = int_block("metered_wh", metered_wh)
    price = community_price_rows(retail_eur_per_mwh, feed_in_eur_per_mwh, rule.configured_price)
    multi_zone = rule.fee_per_level > 0 and len(np.unique(rule.zone)) > 1
    if rule.rule == "mid_market":
        zone = rule.zone if multi_zone else None
        sold, bought = allocate_rows(metered, "dynamic", zone=zone)
    else:
        zone = rule.zone if rule.fee_per_level else None
        sold, bought = allocate_rows(metered, rule.key, rule.key_parts, zone)
    clearing = pooled_clearing_rows(sold, bought, price, rule.zone, rule.levels, rule.fee_per_level)
    t, who = np.nonzero(metered)
    position = metered[t, who]
    return ChunkBooks(
        position_wh=metered,
        orders=ChunkOrders(
            interval=t.astype(np.int64),
            participant=who.astype(np.int64),
            side=np.where(position > 0, 1, -1).astype(np.int8),
            energy_wh=np.abs(position),
            limit_eur_per_mwh=price[t],
            status=np.full(t.shape, EX_POST, dtype=np.int8),
            submitted_s=(first + t).astype(np.int64) * interval_s + interval_s,
        ),
        clearing=clearing,
    )
