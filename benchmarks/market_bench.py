"""Market clearing time: one interval's double auction at 10 to 5,000 participants.

Half the participants buy and half sell, energies uniform in 1..5,000 Wh, limits drawn by the
``zero_intelligence`` strategy between the default feed-in and retail tariffs. Each row is the
median wall time of many calls of :func:`settlement.market.auction.clear` (``time.perf_counter``) on
one seeded order book, for both mechanisms; the target is <= 1 ms at 100 participants.

Run: ``.venv/bin/python benchmarks/market_bench.py [--seed 0]``; ``market_table()`` returns the
markdown for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from settlement.market.auction import MECHANISMS, Orders, clear
from settlement.market.bidding import limit_prices, orders_from_positions

SIZES = (10, 100, 1_000, 5_000)
RETAIL_EUR_PER_MWH = 300.0
FEED_IN_EUR_PER_MWH = 80.0
BUDGET_S = 0.4


def order_book(n_participants: int, rng: np.random.Generator) -> Orders:
    """A book of ``n_participants`` orders: the first half bids, the rest asks.

    Parameters
    ----------
    n_participants : int
        Number of participants, one order each.
    rng : numpy.random.Generator
        Source of energies and limits.
    """
    position_wh = rng.integers(1, 5_001, size=n_participants, dtype=np.int64)
    position_wh[n_participants // 2 :] *= -1
    limit = limit_prices(
        position_wh, "zero_intelligence", RETAIL_EUR_PER_MWH, FEED_IN_EUR_PER_MWH, rng
    )
    return orders_from_positions(position_wh, limit, limit)


def median_us(orders: Orders, mechanism: str, budget_s: float = BUDGET_S) -> tuple[float, int]:
    """Median wall time of one clearing [us] and the number of calls timed.

    Parameters
    ----------
    orders : Orders
        The book to clear.
    mechanism : str
        One of :data:`settlement.market.auction.MECHANISMS`.
    budget_s : float
        Rough time to spend on the measurement [s]; at least 20 calls are timed.
    """
    clear(orders, RETAIL_EUR_PER_MWH, FEED_IN_EUR_PER_MWH, mechanism)  # warm up
    start = time.perf_counter()
    for _ in range(10):
        clear(orders, RETAIL_EUR_PER_MWH, FEED_IN_EUR_PER_MWH, mechanism)
    once_s = (time.perf_counter() - start) / 10
    repeats = int(min(20_000, max(20, budget_s / max(once_s, 1e-7))))
    times = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        clear(orders, RETAIL_EUR_PER_MWH, FEED_IN_EUR_PER_MWH, mechanism)
        times[k] = time.perf_counter() - start
    return float(np.median(times)) * 1e6, repeats


def market_table(sizes: tuple[int, ...] = SIZES, seed: int = 0) -> str:
    """Markdown table of the median clearing time per book size and mechanism.

    Parameters
    ----------
    sizes : tuple of int
        Numbers of participants.
    seed : int
        Seed of the order books.

    Returns
    -------
    str
        Columns: participants, mechanism, median [us] per clearing, trades, calls timed.
    """
    lines = [
        "| participants | mechanism | median [µs] per clearing | trades | calls timed |",
        "|---:|---|---:|---:|---:|",
    ]
    for n, child in zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes)), strict=True):
        orders = order_book(n, np.random.default_rng(child))
        for mechanism in MECHANISMS:
            us, repeats = median_us(orders, mechanism)
            trades = len(clear(orders, RETAIL_EUR_PER_MWH, FEED_IN_EUR_PER_MWH, mechanism))
            lines.append(f"| {n:,} | {mechanism} | {us:,.1f} | {trades:,} | {repeats:,} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, time every book, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the order books")
    args = parser.parse_args()
    print(f"market clearing time ({os.cpu_count()} CPUs; one interval, median)\n")
    print(market_table(seed=args.seed))


if __name__ == "__main__":
    main()
