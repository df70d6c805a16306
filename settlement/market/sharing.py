"""Energy sharing by allocation keys: the legal form of community energy in Germany and Austria.

Germany's energy sharing (section 42c EnWG) and Austria's renewable and citizens' energy
communities (EAG, ElWOG 2010) do not trade bilaterally: after each 15-minute
interval the community's metered generation that its members did not use themselves (the
pool: every owner's metered surplus) is *allocated* to the consuming members by an
allocation key, each allocation capped by the member's metered consumption from the grid in
that interval (its deficit); what no member can take goes to the grid at the feed-in tariff,
and every member buys the rest of its consumption from its supplier.

``static``
    Fixed shares: consumer ``i`` is allocated ``share_i * pool`` (whole Wh,
    :func:`settlement.market.ex_post.pro_rata` on integer key parts), capped at its deficit;
    an allocation the consumer cannot use is not passed on (Austria's static key).
``dynamic``
    Each interval in proportion to the consumers' metered deficit: the shared energy is
    ``min(pool, total deficit)``, split pro rata to deficit (Austria's dynamic key).

Each producer supplies the shared energy in proportion to its surplus, and the shares become
bilateral trades by :func:`settlement.market.ex_post.pooled_clearing`.

Price: one community price per interval, by default the mid-market price
``(retail + feed_in) / 2`` of that interval, or a configured price clipped into
``[feed_in, retail]``. The clip is what keeps every member at or above its utility-only
position (a consumer never pays more than retail for a shared Wh, a producer never receives
less than feed-in); the midpoint shares each shared Wh's saving ``retail - feed_in`` equally
between producer and consumer and follows the time-of-use tariff, where a fixed price would
favour one side in the peak band and the other off-peak.
"""

from __future__ import annotations

import numpy as np

from settlement.market.auction import check_tariffs
from settlement.market.ex_post import mid_market_price, pro_rata, surplus_deficit, zone_first
from settlement.units import WhArray

#: Integer parts an allocation key is resolved to (shares are kept to ~1e-9).
KEY_PARTS = 2**30
#: The allocation keys (``market.rule``: ``static_sharing``, ``dynamic_sharing``).
KEYS = ("static", "dynamic")


def key_parts(shares: np.ndarray) -> np.ndarray:
    """A static allocation key (weights >= 0, any scale) as integer parts summing to about
    :data:`KEY_PARTS`."""
    w = np.asarray(shares, dtype=np.float64)
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("an allocation key needs finite weights >= 0 with a positive sum")
    return np.rint(w / w.sum() * KEY_PARTS).astype(np.int64)


def static_allocation(pool_wh: int, parts: np.ndarray, deficit_wh: np.ndarray) -> WhArray:
    """Each consumer's allocation under a static key [Wh].

    Parameters
    ----------
    pool_wh : int
        The interval's pool: the owners' metered surplus [Wh].
    parts : ndarray of int
        The key, per owner (:func:`key_parts`; 0 for owners outside the key).
    deficit_wh : ndarray of int
        Each owner's metered deficit [Wh].

    Returns
    -------
    ndarray of int64
        ``min(keyed share of the pool, deficit)`` per owner [Wh].
    """
    return WhArray(np.minimum(pro_rata(pool_wh, parts), np.asarray(deficit_wh, dtype=np.int64)))


def dynamic_allocation(pool_wh: int, deficit_wh: np.ndarray) -> WhArray:
    """Each consumer's allocation under the dynamic key [Wh]: ``min(pool, total deficit)``
    split pro rata to deficit."""
    deficit = np.asarray(deficit_wh, dtype=np.int64)
    return pro_rata(min(int(pool_wh), int(deficit.sum())), deficit)


def allocate(
    net_wh: np.ndarray,
    key: str,
    parts: np.ndarray | None = None,
    zone: np.ndarray | None = None,
) -> tuple[WhArray, WhArray]:
    """One interval's energy sharing on metered net energy ``net_wh`` [Wh], import positive.

    Parameters
    ----------
    net_wh : ndarray of int
        Each owner's metered net energy [Wh].
    key : {"static", "dynamic"}
        The allocation key.
    parts : ndarray of int, optional
        The static key (:func:`key_parts`); required for ``static``.
    zone : ndarray of int, optional
        Each owner's voltage zone, when trades across zones pay a grid fee: the dynamic key
        then shares inside each zone first (:func:`settlement.market.ex_post.zone_first`);
        the static key stays community-wide (a fixed share of the community's pool).

    Returns
    -------
    sold_wh, bought_wh : ndarray of int64
        What each owner supplies (pro rata to surplus) and is allocated [Wh]; equal sums, the
        shared energy.
    """
    surplus, deficit = surplus_deficit(net_wh)
    pool = int(surplus.sum())
    if key == "static":
        if parts is None:
            raise ValueError("the static key needs its parts")
        bought = static_allocation(pool, parts, deficit)
    elif key == "dynamic":
        if zone is not None and len(np.unique(zone)) > 1:
            return zone_first(net_wh, zone, lambda net: allocate(net, "dynamic"))
        bought = dynamic_allocation(pool, deficit)
    else:
        raise ValueError(f"key must be one of {KEYS}, got {key!r}")
    return pro_rata(int(bought.sum()), surplus), bought


def community_price(
    retail_eur_per_mwh: float, feed_in_eur_per_mwh: float, configured: float | None = None
) -> float:
    """The sharing price of an interval [EUR/MWh]: ``configured`` clipped into
    ``[feed_in, retail]``, or the mid-market price when none is configured."""
    if configured is None:
        return mid_market_price(retail_eur_per_mwh, feed_in_eur_per_mwh)
    retail, feed_in = check_tariffs(retail_eur_per_mwh, feed_in_eur_per_mwh)
    return min(max(float(configured), feed_in), retail)
