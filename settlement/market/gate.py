"""Gate closure of the ex-ante market: when each order arrives, and which arrive too late.

Each owner sends its order for an interval when the interval before starts (``start_s -
interval_s``, as SimPy seconds); it arrives its communication delay later. The gate for an
interval closes ``gate_closure_s`` before the interval starts: an order that arrives after
that is *late*, refused, and takes no part in the clearing; its owner's metered energy in the
interval settles with the utility at the tariff, as any unmatched position
(:func:`settlement.market.bills.settle_block`). An order arriving exactly at the gate is on
time.

The ex-post rules (:mod:`settlement.market.ex_post`, :mod:`settlement.market.sharing`) form
their trades from metered energy after the interval: they take no order in advance and have
no gate.

Pure functions on integers (seconds); the statuses are :data:`STATUSES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from settlement.market.auction import Orders

#: An order's status, as coded in :attr:`GatedOrders.status`: on time (cleared or unmatched),
#: late (refused at the gate), or an ex-post rule's metered position (no gate).
STATUSES = ("on_time", "late", "ex_post")
ON_TIME, LATE, EX_POST = 0, 1, 2


def order_delays_s(
    n_intervals: int,
    n_owners: int,
    windows: Iterable[tuple[int, int, int, int]],
) -> np.ndarray:
    """Each owner's communication delay in each interval [s].

    Parameters
    ----------
    n_intervals, n_owners : int
        Shape of the result.
    windows : iterable of (owner, first, stop, delay_s)
        An owner's orders for intervals ``first`` to ``stop - 1`` arrive ``delay_s`` [s] late;
        where windows of one owner overlap, the longest delay holds.

    Returns
    -------
    ndarray of int64, shape (n_intervals, n_owners)
        Delay [s]; 0 outside every window.
    """
    delay = np.zeros((n_intervals, n_owners), dtype=np.int64)
    for owner, first, stop, delay_s in windows:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        rows = slice(max(first, 0), min(stop, n_intervals))
        delay[rows, owner] = np.maximum(delay[rows, owner], delay_s)
    return delay


def submitted_s(start_s: np.ndarray, interval_s: int, delay_s: np.ndarray) -> np.ndarray:
    """When each order arrives [s]: sent as the interval before starts, plus its delay.

    Parameters
    ----------
    start_s : ndarray of int
        Start of each order's interval [s].
    interval_s : int
        The market interval [s].
    delay_s : ndarray of int
        Each order's communication delay [s].
    """
    return np.asarray(start_s, dtype=np.int64) - interval_s + np.asarray(delay_s, dtype=np.int64)


def is_late(submitted: np.ndarray, start_s: np.ndarray, gate_closure_s: int) -> np.ndarray:
    """Whether each order arrived after its interval's gate closed (``start - gate_closure_s``).

    Parameters
    ----------
    submitted : ndarray of int
        Arrival of each order [s].
    start_s : ndarray of int
        Start of each order's interval [s].
    gate_closure_s : int
        How long before the interval starts the gate closes [s].
    """
    return np.asarray(submitted) > np.asarray(start_s) - gate_closure_s


@dataclass(frozen=True, eq=False)
class GatedOrders:
    """One interval's orders at the gate.

    Attributes
    ----------
    on_time : Orders
        The orders that arrived in time: the ones that clear.
    status : ndarray of int8
        Per order of the whole book: :data:`ON_TIME`, :data:`LATE` or :data:`EX_POST`.
    submitted_s : ndarray of int64
        Per order of the whole book: when it arrived [s].
    """

    on_time: Orders
    status: np.ndarray
    submitted_s: np.ndarray


def apply_gate(
    orders: Orders,
    start_s: int,
    interval_s: int,
    delay_by_owner_s: np.ndarray,
    gate_closure_s: int,
) -> GatedOrders:
    """Refuse an interval's orders that arrive after its gate closes.

    Parameters
    ----------
    orders : Orders
        The interval's whole book (every owner's order).
    start_s, interval_s : int
        The interval's start and length [s].
    delay_by_owner_s : ndarray of int
        Each participant's communication delay in the interval [s].
    gate_closure_s : int
        How long before the interval starts the gate closes [s].
    """
    start = np.full(len(orders), start_s, dtype=np.int64)
    arrived = submitted_s(start, interval_s, delay_by_owner_s[orders.participant])
    late = is_late(arrived, start, gate_closure_s)
    status = np.where(late, LATE, ON_TIME).astype(np.int8)
    return GatedOrders(on_time_orders(orders, late), status, arrived)


def metered_orders(orders: Orders, start_s: int, interval_s: int) -> GatedOrders:
    """An ex-post rule's orders (metered positions): no gate, known at the interval's end."""
    n = len(orders)
    return GatedOrders(
        orders,
        np.full(n, EX_POST, dtype=np.int8),
        np.full(n, start_s + interval_s, dtype=np.int64),
    )


def on_time_orders(orders: Orders, late: np.ndarray) -> Orders:
    """The orders that are not ``late`` (one bool an order): the ones that clear."""
    if not late.any():
        return orders
    keep = ~late
    return Orders(
        participant=orders.participant[keep],
        side=orders.side[keep],
        energy_wh=orders.energy_wh[keep],
        limit_eur_per_mwh=orders.limit_eur_per_mwh[keep],
    )
