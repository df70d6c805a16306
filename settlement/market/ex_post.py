"""Ex-post rules: the interval's trades formed after it, from each owner's metered net energy.

An ex-ante market clears expected positions before the interval, so a seller can sell energy
it then does not export (and buys it back from the utility), and a buyer can buy beyond its
deficit (and sells it back at feed-in). An ex-post rule orders nothing in advance: after the
interval is metered, each owner's metered net energy ``net_wh`` (import positive) is its
position, so no seller sells more than it exported and no buyer buys more than it imported,
and the utility settles only what is left at tariff. Taking no order before the interval,
an ex-post rule has no gate closure and no order of it is ever late
(:mod:`settlement.market.gate` is the ex-ante auction's). Each rule gives a
:class:`~settlement.market.grid_fee.FeeClearing` (trades, prices, grid fee per trade):

- the ex-post double auction is the auction itself (:mod:`settlement.market.bidding`, then
  :func:`~settlement.market.grid_fee.clear_with_grid_fee`) with the metered positions as
  orders; an auction never fills an order beyond its energy;
- :func:`mid_market`: the mid-market rate (Long et al. 2017, "Peer-to-peer energy trading in a
  community microgrid"): one community price halfway between the import and export tariff;
  the matched energy ``min(total surplus, total deficit)`` is sold by the sellers in proportion
  to their surplus and bought by the buyers in proportion to their deficit; the utility takes
  the rest. Both sides split the saving of every shared Wh, ``retail - feed_in``, equally;
- :func:`pooled_clearing`: the bilateral trades of any rule that first decides how much each
  owner sells and buys (:func:`mid_market`, the allocation keys of
  :mod:`settlement.market.sharing`).

Grid fees of the pooled rules (``fee_per_level > 0`` and more than one voltage zone): the
rule shares inside each zone first and then what is left across zones (:func:`zone_first`;
the static key of :mod:`settlement.market.sharing` stays community-wide), and the trades pair
sellers and buyers in owner order, inside each zone first and then across zones, so as little
energy as possible crosses a transformer; the energy shared in all is the same. A trade across
zones pays ``fee_per_level`` for every transformer between them, deducted from its seller's
receipt (as :mod:`settlement.market.grid_fee`); a seller still nets at least feed-in as long
as the fee is at most ``price - feed_in`` (half the spread at the mid-market price).

Integers throughout: energy [Wh], payments ``rint(energy_wh * price_eur_per_mwh)``
[micro-euro] (a price in EUR/MWh is a price in micro-euro per Wh).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from settlement.market.auction import Clearing, check_tariffs, int_column
from settlement.market.grid_fee import FeeClearing
from settlement.units import WhArray

#: The market rules (``market.rule``): today's ex-ante auction, then the ex-post rules.
RULES = ("ex_ante_auction", "ex_post_auction", "mid_market", "static_sharing", "dynamic_sharing")
#: The rules that settle on metered energy after the interval.
EX_POST_RULES = RULES[1:]


def mid_market_price(retail_eur_per_mwh: float, feed_in_eur_per_mwh: float) -> float:
    """The mid-market rate: halfway between the import and export tariff [EUR/MWh]."""
    retail, feed_in = check_tariffs(retail_eur_per_mwh, feed_in_eur_per_mwh)
    return 0.5 * (retail + feed_in)


def surplus_deficit(net_wh: np.ndarray) -> tuple[WhArray, WhArray]:
    """Each owner's metered surplus (export) and deficit (import) [Wh], both >= 0."""
    net = int_column("net_wh", net_wh, None)
    return WhArray(np.maximum(-net, 0)), WhArray(np.maximum(net, 0))


def pro_rata(total_wh: int, weights: np.ndarray) -> WhArray:
    """Split ``total_wh`` in proportion to integer ``weights``, in whole Wh, exactly.

    Largest remainder (Hamilton): each share is ``floor(total * w / sum(w))``; the Wh left
    over go one each to the largest remainders, ties to the lower index. The shares sum to
    ``total_wh`` exactly, and when ``total_wh <= sum(weights)`` no share exceeds its weight.

    Parameters
    ----------
    total_wh : int
        Energy to split [Wh], >= 0.
    weights : ndarray of int
        Weights, >= 0 (energies [Wh], or an allocation key in integer parts).

    Returns
    -------
    ndarray of int64
        Each weight's share [Wh].
    """
    w = int_column("weights", weights, None)
    if total_wh < 0 or (w < 0).any():
        raise ValueError("total_wh and weights must be >= 0")
    out = np.zeros(w.shape, dtype=np.int64)
    total_w = int(w.sum())
    if total_wh == 0:
        return WhArray(out)
    if total_w == 0:
        raise ValueError(f"cannot split {total_wh} Wh over zero weights")
    if int(total_wh) * int(w.max()) >= 2**62:
        raise ValueError("total_wh * weights overflows int64: scale the weights down")
    quota = int(total_wh) * w
    out, remainder = quota // total_w, quota % total_w
    left = int(total_wh) - int(out.sum())
    out[np.lexsort((np.arange(w.size), -remainder))[:left]] += 1
    return WhArray(out)


def zone_first(
    net_wh: np.ndarray,
    zone: np.ndarray,
    split: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[WhArray, WhArray]:
    """A pooled rule ``split`` (net energies -> sold, bought [Wh]) applied inside each zone,
    then to what is left of every owner's position across zones.

    After its own zone's pool, a zone has only surplus or only deficit left, so the energy
    shared in all is the community's ``min(surplus, deficit)`` when ``split`` shares that.
    """
    net = int_column("net_wh", net_wh, None).copy()
    zone = np.asarray(zone, dtype=np.int64)
    sold, bought = np.zeros_like(net), np.zeros_like(net)
    for z in np.unique(zone):
        rows = np.flatnonzero(zone == z)
        s, b = split(net[rows])
        sold[rows] += s
        bought[rows] += b
        net[rows] += s - b
    s, b = split(net)
    return WhArray(sold + s), WhArray(bought + b)


def _merge(
    s_idx: np.ndarray, s_wh: np.ndarray, b_idx: np.ndarray, b_wh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair sellers and buyers in the given order by merging their cumulative energies, up to
    the smaller side's total: (seller, buyer, energy_wh) of at most ``len(s) + len(b) - 1``
    trades."""
    if not s_idx.size or not b_idx.size:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    s_cum, b_cum = np.cumsum(s_wh), np.cumsum(b_wh)
    points = np.union1d(s_cum, b_cum)
    points = points[points <= min(s_cum[-1], b_cum[-1])]
    i, j = np.searchsorted(s_cum, points), np.searchsorted(b_cum, points)
    return s_idx[i], b_idx[j], np.diff(points, prepend=0).astype(np.int64)


def pooled_clearing(
    sold_wh: np.ndarray,
    bought_wh: np.ndarray,
    price_eur_per_mwh: float,
    zone: np.ndarray,
    levels: np.ndarray,
    fee_per_level: float,
) -> FeeClearing:
    """The trades of a pooled rule: each owner sells ``sold_wh`` and buys ``bought_wh``.

    Parameters
    ----------
    sold_wh, bought_wh : ndarray of int, shape (owner,)
        What each owner sells and buys [Wh]; both sum to the same total.
    price_eur_per_mwh : float
        The one price of every trade [EUR/MWh].
    zone : ndarray of int, shape (owner,)
        Each owner's voltage zone.
    levels : ndarray of int, shape (zone, zone)
        Transformers between two zones.
    fee_per_level : float
        Grid fee per transformer crossed [EUR/MWh], >= 0.

    Returns
    -------
    FeeClearing
        Trades paired inside each zone first, then across zones (see the module docstring);
        the clearing price is ``price_eur_per_mwh`` (NaN when nothing trades).
    """
    sold = int_column("sold_wh", sold_wh, None).copy()
    bought = int_column("bought_wh", bought_wh, sold.shape[0]).copy()
    if (sold < 0).any() or (bought < 0).any() or sold.sum() != bought.sum():
        raise ValueError("sold_wh and bought_wh must be >= 0 and sum to the same total")
    if not np.isfinite(fee_per_level) or fee_per_level < 0:
        raise ValueError(f"fee_per_level must be finite and >= 0, got {fee_per_level}")
    zone = np.asarray(zone, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    if fee_per_level > 0 and len(np.unique(zone)) > 1:
        for z in np.unique(zone):
            s_idx = np.flatnonzero((zone == z) & (sold > 0))
            b_idx = np.flatnonzero((zone == z) & (bought > 0))
            seller, buyer, energy = _merge(s_idx, sold[s_idx], b_idx, bought[b_idx])
            np.subtract.at(sold, seller, energy)
            np.subtract.at(bought, buyer, energy)
            parts.append((seller, buyer, energy))
    s_idx, b_idx = np.flatnonzero(sold > 0), np.flatnonzero(bought > 0)
    parts.append(_merge(s_idx, sold[s_idx], b_idx, bought[b_idx]))
    seller, buyer, energy = (np.concatenate(c) for c in zip(*parts, strict=True))
    price = np.full(energy.shape, float(price_eur_per_mwh))
    fee = fee_per_level * np.asarray(levels)[zone[seller], zone[buyer]].astype(np.float64)
    clearing = Clearing(
        seller=seller,
        buyer=buyer,
        energy_wh=energy,
        price_eur_per_mwh=price,
        payment_micro_eur=np.rint(energy * price).astype(np.int64),
        clearing_price_eur_per_mwh=float(price_eur_per_mwh) if energy.sum() else float("nan"),
    )
    return FeeClearing(clearing, fee if fee_per_level else np.zeros(energy.shape))


def matched_pro_rata(net_wh: np.ndarray) -> tuple[WhArray, WhArray]:
    """The matched energy ``min(sum(surplus), sum(deficit))`` of net energies ``net_wh``
    [Wh], sold pro rata to surplus and bought pro rata to deficit: (sold, bought) [Wh]."""
    surplus, deficit = surplus_deficit(net_wh)
    matched = min(int(surplus.sum()), int(deficit.sum()))
    return pro_rata(matched, surplus), pro_rata(matched, deficit)


def mid_market(
    net_wh: np.ndarray,
    retail_eur_per_mwh: float,
    feed_in_eur_per_mwh: float,
    zone: np.ndarray,
    levels: np.ndarray,
    fee_per_level: float,
) -> FeeClearing:
    """The mid-market rate on one interval's metered net energy ``net_wh`` [Wh].

    The matched energy ``min(sum(surplus), sum(deficit))`` is sold pro rata to surplus and
    bought pro rata to deficit (:func:`pro_rata`), at :func:`mid_market_price`; with a grid fee,
    inside each zone first (:func:`zone_first`).
    """
    if fee_per_level > 0 and len(np.unique(zone)) > 1:
        sold, bought = zone_first(net_wh, zone, matched_pro_rata)
    else:
        sold, bought = matched_pro_rata(net_wh)
    return pooled_clearing(
        sold,
        bought,
        mid_market_price(retail_eur_per_mwh, feed_in_eur_per_mwh),
        zone,
        levels,
        fee_per_level,
    )
