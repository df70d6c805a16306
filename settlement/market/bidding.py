"""Orders: how members turn their positions into bids and asks, under a bidding strategy."""

from __future__ import annotations

import numpy as np

from settlement.market.auction import STRATEGIES, Orders, check_tariffs, int_column


def orders_from_positions(
    position_wh: np.ndarray, limits_buy: np.ndarray, limits_sell: np.ndarray
) -> Orders:
    """Turn each participant's position into at most one order.

    Parameters
    ----------
    position_wh : ndarray of int
        Per participant [Wh]: > 0 wants to buy that much, < 0 wants to sell, 0 places no order.
    limits_buy, limits_sell : ndarray of float or float
        Per participant (or one for all) limit of a bid and of an ask [EUR/MWh]; only the
        entries of participants that place an order on that side are read.

    Returns
    -------
    Orders
        Ordered by participant index.
    """
    position = int_column("position_wh", position_wh, None)
    buy = np.broadcast_to(np.asarray(limits_buy, dtype=np.float64), position.shape)
    sell = np.broadcast_to(np.asarray(limits_sell, dtype=np.float64), position.shape)
    who = np.flatnonzero(position)
    pos = position[who]
    is_bid = pos > 0
    return Orders(
        participant=who.astype(np.int64),
        side=np.where(is_bid, 1, -1).astype(np.int8),
        energy_wh=np.abs(pos),
        limit_eur_per_mwh=np.where(is_bid, buy[who], sell[who]),
    )


def limit_prices(
    position_wh: np.ndarray,
    strategy: str,
    retail_eur_per_mwh: float,
    feed_in_eur_per_mwh: float,
    rng: np.random.Generator,
    markup: float = 0.5,
) -> np.ndarray:
    """Each participant's limit price under a bidding strategy.

    Let ``s = retail - feed_in`` be the spread between the outside options.

    ``truthful``
        Buyers bid retail, sellers ask feed-in: their outside options.
    ``zero_intelligence``
        Budget-constrained zero intelligence (ZI-C, Gode & Sunder 1993): uniform random in
        ``[feed_in, retail]`` for buyers and sellers alike, drawn from ``rng``.
    ``markup``
        Each side shades its outside option by ``markup`` times the spread: buyers bid
        ``retail - markup * s``, sellers ask ``feed_in + markup * s``. ``markup = 0`` is
        truthful; at ``0.5`` every limit is the mid-spread price; above ``0.5`` nothing trades.

    Parameters
    ----------
    position_wh : ndarray of int
        Per participant [Wh]: > 0 buys, < 0 sells, 0 places no order.
    strategy : {"truthful", "zero_intelligence", "markup"}
        The bidding strategy.
    retail_eur_per_mwh, feed_in_eur_per_mwh : float
        The utility's import and export price [EUR/MWh].
    rng : numpy.random.Generator
        Randomness of ``zero_intelligence``; it draws one number per participant (with or
        without a position), so the stream consumed does not depend on the positions.
    markup : float
        Shading of ``markup``, in ``[0, 1]`` [fraction of the spread].

    Returns
    -------
    ndarray of float64
        Limit price per participant [EUR/MWh]; NaN where the position is 0 (no order).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    retail, feed_in = check_tariffs(retail_eur_per_mwh, feed_in_eur_per_mwh)
    if not 0.0 <= markup <= 1.0:
        raise ValueError(f"markup must be in [0, 1], got {markup}")
    position = int_column("position_wh", position_wh, None)
    spread = retail - feed_in
    limit: np.ndarray
    if strategy == "zero_intelligence":
        limit = np.asarray(rng.uniform(feed_in, retail, size=position.shape[0]), dtype=np.float64)
    else:
        shade = markup * spread if strategy == "markup" else 0.0
        limit = np.where(position > 0, retail - shade, feed_in + shade)
    limit[position == 0] = np.nan
    return limit
