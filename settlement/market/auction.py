"""The per-interval peer-to-peer market: a double auction, as a pure function.

One interval's orders go in, trades come out. Each participant places at most one order per
side: a bid (buy, ``side = +1``) or an ask (sell, ``side = -1``) of an integer energy [Wh] at a
limit price [EUR/MWh]. The utility is the supplier and buyer of last resort at the retail and
feed-in tariff, so no rational price lies outside ``[feed_in, retail]``: limits are clipped into
that band before the auction.

Bids are sorted by limit descending and asks by limit ascending, ties broken by participant
index; the sorted books are matched by merging their cumulative energies, so the marginal orders
fill partially (in whole Wh) and there are at most ``n_bids + n_asks - 1`` trades. Orders match
while the bid's limit is at least the ask's.

Two settlement rules (``MECHANISMS``):

``uniform``
    The k = 0.5 double auction (Rustichini, Satterthwaite & Williams, 1994): every trade at one
    price, the midpoint of the interval of market-clearing prices
    ``[max(a*, b'), min(b*, a')]`` where ``b*``, ``a*`` are the last bid and ask that trade and
    ``b'``, ``a'`` the first bid and ask left (partly) unfilled (``feed_in`` / ``retail``: the
    utility, when a side is exhausted). Any price in that interval clears the market: bids above
    it are filled in full, asks below it too, and no order on the wrong side of it trades.
``pay_as_bid``
    The same trades, each settled at its buyer's bid; the clearing price reported is the
    volume-weighted mean.

Money is an integer: a trade's payment is ``rint(energy_wh * price_eur_per_mwh)`` [micro-EUR]
(a price in EUR/MWh is a price in micro-EUR/Wh); the buyer pays exactly what the seller receives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from settlement.market.bills import net_payments

MECHANISMS = ("uniform", "pay_as_bid")
STRATEGIES = ("truthful", "zero_intelligence", "markup")

_INT64_EMPTY = np.zeros(0, dtype=np.int64)
_FLOAT_EMPTY = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Orders:
    """One interval's orders, columnar: one row an order.

    Attributes
    ----------
    participant : ndarray of int64
        Participant index (0..n-1); at most one order per participant per side.
    side : ndarray of int8
        +1 buy (a bid), -1 sell (an ask).
    energy_wh : ndarray of int64
        Energy offered or wanted [Wh], > 0.
    limit_eur_per_mwh : ndarray of float64
        Limit price [EUR/MWh]: the highest a buyer pays, the lowest a seller accepts.
    """

    participant: np.ndarray
    side: np.ndarray
    energy_wh: np.ndarray
    limit_eur_per_mwh: np.ndarray

    def __len__(self) -> int:
        """Number of orders."""
        return int(np.shape(self.participant)[0])


@dataclass(frozen=True, eq=False)
class Clearing:
    """One interval's market result: one row a trade, plus the clearing price.

    Attributes
    ----------
    seller, buyer : ndarray of int64
        Participant index of each trade's seller and buyer.
    energy_wh : ndarray of int64
        Energy of each trade [Wh], > 0.
    price_eur_per_mwh : ndarray of float64
        Price of each trade [EUR/MWh].
    payment_micro_eur : ndarray of int64
        What the buyer pays and the seller receives per trade [micro-EUR],
        ``rint(energy_wh * price_eur_per_mwh)``.
    clearing_price_eur_per_mwh : float
        ``uniform``: the price of every trade; ``pay_as_bid``: the volume-weighted mean price
        [EUR/MWh]; NaN when nothing trades.
    """

    seller: np.ndarray
    buyer: np.ndarray
    energy_wh: np.ndarray
    price_eur_per_mwh: np.ndarray
    payment_micro_eur: np.ndarray
    clearing_price_eur_per_mwh: float

    def __len__(self) -> int:
        """Number of trades."""
        return int(self.energy_wh.shape[0])

    @property
    def traded_wh(self) -> int:
        """Energy traded in the interval [Wh]."""
        return int(self.energy_wh.sum())


def _empty_clearing() -> Clearing:
    return Clearing(
        seller=_INT64_EMPTY.copy(),
        buyer=_INT64_EMPTY.copy(),
        energy_wh=_INT64_EMPTY.copy(),
        price_eur_per_mwh=_FLOAT_EMPTY.copy(),
        payment_micro_eur=_INT64_EMPTY.copy(),
        clearing_price_eur_per_mwh=float("nan"),
    )


def check_tariffs(retail_eur_per_mwh: float, feed_in_eur_per_mwh: float) -> tuple[float, float]:
    """The tariffs as floats, or a ValueError naming the bad one."""
    retail, feed_in = float(retail_eur_per_mwh), float(feed_in_eur_per_mwh)
    if not np.isfinite(retail):
        raise ValueError(f"retail_eur_per_mwh must be finite, got {retail}")
    if not np.isfinite(feed_in):
        raise ValueError(f"feed_in_eur_per_mwh must be finite, got {feed_in}")
    if retail < feed_in:
        raise ValueError(
            f"retail_eur_per_mwh ({retail}) must not be below feed_in_eur_per_mwh ({feed_in})"
        )
    return retail, feed_in


def int_column(name: str, values: object, size: int | None) -> np.ndarray:
    """``values`` as a 1-D int64 array of ``size`` rows, or a ValueError naming ``name``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {size} (length mismatch)")
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise ValueError(f"{name} must be integer, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _validated(orders: Orders) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The order columns as (participant, is_bid, energy_wh, limit), checked."""
    participant = int_column("participant", orders.participant, None)
    n = participant.shape[0]
    side = int_column("side", orders.side, n)
    energy = int_column("energy_wh", orders.energy_wh, n)
    limit = np.asarray(orders.limit_eur_per_mwh, dtype=np.float64)
    if limit.shape != (n,):
        raise ValueError(
            f"limit_eur_per_mwh has shape {limit.shape}, expected ({n},) (length mismatch)"
        )
    if n == 0:
        return participant, side == 1, energy, limit
    if participant.min() < 0:
        raise ValueError("participant indices must be >= 0")
    is_bid = side == 1
    if not (is_bid | (side == -1)).all():
        raise ValueError("side must be +1 (buy) or -1 (sell)")
    if energy.min() <= 0:
        raise ValueError("energy_wh must be > 0")
    if not np.isfinite(limit).all():
        raise ValueError("limit_eur_per_mwh must be finite (no NaN or inf)")
    key = np.sort(2 * participant + is_bid)
    if (key[1:] == key[:-1]).any():
        raise ValueError("participant has more than one order on one side")
    return participant, is_bid, energy, limit


def clear(
    orders: Orders,
    retail_eur_per_mwh: float,
    feed_in_eur_per_mwh: float,
    mechanism: str = "uniform",
) -> Clearing:
    """Clear one interval's double auction.

    Parameters
    ----------
    orders : Orders
        The interval's bids and asks.
    retail_eur_per_mwh, feed_in_eur_per_mwh : float
        The utility's import and export price in the interval [EUR/MWh]; limits are clipped
        into ``[feed_in, retail]``.
    mechanism : {"uniform", "pay_as_bid"}
        Settlement rule, see the module docstring.

    Returns
    -------
    Clearing
        The trades, in matching order (highest bids and lowest asks first).

    Raises
    ------
    ValueError
        On an unknown mechanism, non-finite tariffs or ``retail < feed_in``, or invalid orders
        (length mismatch, non-integer participant / side / energy, ``side`` not +/-1,
        ``energy_wh <= 0``, NaN or infinite limits, two orders of one participant on one side).
    """
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism must be one of {MECHANISMS}, got {mechanism!r}")
    retail, feed_in = check_tariffs(retail_eur_per_mwh, feed_in_eur_per_mwh)
    participant, is_bid, energy, limit = _validated(orders)
    bids = np.flatnonzero(is_bid)
    asks = np.flatnonzero(~is_bid)
    if bids.size == 0 or asks.size == 0:
        return _empty_clearing()
    limit = np.clip(limit, feed_in, retail)

    # The books: bids by limit descending, asks ascending, ties by participant index.
    bids = bids[np.lexsort((participant[bids], -limit[bids]))]
    asks = asks[np.lexsort((participant[asks], limit[asks]))]
    bid_limit, ask_limit = limit[bids], limit[asks]
    bid_cum, ask_cum = np.cumsum(energy[bids]), np.cumsum(energy[asks])

    # Merge the cumulative energies: between two consecutive breakpoints one bid meets one ask.
    # Along the merged axis bid limits fall and ask limits rise, so the segments that trade
    # (bid >= ask) are a prefix.
    points = np.union1d(bid_cum, ask_cum)
    points = points[: np.searchsorted(points, min(bid_cum[-1], ask_cum[-1]), side="right")]
    j = np.searchsorted(bid_cum, points)
    i = np.searchsorted(ask_cum, points)
    n = int(np.count_nonzero(bid_limit[j] >= ask_limit[i]))
    if n == 0:
        return _empty_clearing()
    points, j, i = points[:n], j[:n], i[:n]
    trade_wh = np.diff(points, prepend=0)
    cleared_wh = int(points[-1])

    price: np.ndarray
    if mechanism == "uniform":
        # First bid / ask not filled in full; when a side is exhausted, the utility stands in.
        j_next = int(np.searchsorted(bid_cum, cleared_wh, side="right"))
        i_next = int(np.searchsorted(ask_cum, cleared_wh, side="right"))
        bid_next = float(bid_limit[j_next]) if j_next < bid_limit.shape[0] else feed_in
        ask_next = float(ask_limit[i_next]) if i_next < ask_limit.shape[0] else retail
        low = max(float(ask_limit[i[-1]]), bid_next)
        high = min(float(bid_limit[j[-1]]), ask_next)
        clearing_price = 0.5 * (low + high)
        price = np.full(n, clearing_price)
    else:
        price = bid_limit[j]
        # the volume-weighted mean, kept inside the trades' range against rounding
        mean = float(price @ trade_wh) / cleared_wh
        clearing_price = min(max(mean, float(price[-1])), float(price[0]))

    return Clearing(
        seller=participant[asks[i]],
        buyer=participant[bids[j]],
        energy_wh=trade_wh,
        price_eur_per_mwh=price,
        payment_micro_eur=np.rint(trade_wh * price).astype(np.int64),
        clearing_price_eur_per_mwh=clearing_price,
    )


def _check_indices(clearing: Clearing, n_participants: int) -> None:
    for name in ("seller", "buyer"):
        idx = getattr(clearing, name)
        if idx.size and (idx.min() < 0 or idx.max() >= n_participants):
            raise ValueError(f"{name} index outside 0..{n_participants - 1}")


def _net(clearing: Clearing, n_participants: int, values: np.ndarray) -> np.ndarray:
    """``values`` added to each trade's buyer and taken from its seller."""
    _check_indices(clearing, n_participants)
    net = np.zeros(n_participants, dtype=np.int64)
    np.add.at(net, clearing.buyer, values)
    np.subtract.at(net, clearing.seller, values)
    return net


def net_energy_wh(clearing: Clearing, n_participants: int) -> np.ndarray:
    """Energy each participant bought minus sold in the market [Wh].

    Parameters
    ----------
    clearing : Clearing
        The interval's trades.
    n_participants : int
        Number of participants (indices 0..n-1).

    Returns
    -------
    ndarray of int64
        Net market energy per participant [Wh] (load convention: bought positive); sums to 0.
    """
    return _net(clearing, n_participants, clearing.energy_wh)


def net_payments_micro_eur(clearing: Clearing, n_participants: int) -> np.ndarray:
    """Money each participant paid minus received in the market [micro-EUR].

    The interval's view of :func:`settlement.market.bills.net_payments` (no grid fee).

    Parameters
    ----------
    clearing : Clearing
        The interval's trades.
    n_participants : int
        Number of participants (indices 0..n-1).

    Returns
    -------
    ndarray of int64
        Net payment per participant [micro-EUR]; sums to exactly 0.
    """
    _check_indices(clearing, n_participants)
    pay = clearing.payment_micro_eur
    received = net_payments(
        clearing.buyer, clearing.seller, pay, np.zeros_like(pay), n_participants
    )
    return -received[0, :n_participants]
