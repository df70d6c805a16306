"""The protocol fee: the community's share of each P2P trade, paid into its treasury.

A trade of value ``payment`` [micro-euro] pays ``payment x bps / 10,000``, rounded half to
even to whole micro-euro, in exact integer arithmetic (no float ever touches the amount). The
seller pays it out of its receipt, as it pays the grid fee
(:func:`settlement.market.bills.net_payments`): the buyer pays the trade's price and nothing
else, the seller receives ``payment - grid fee - protocol fee``, the treasury the fee.

Why the seller: under the ex-post rules a seller sells metered surplus it would otherwise
export at the feed-in price, so its gain from a trade is ``(price - feed-in) x energy``; at the
default mid-market price that margin is half the retail/feed-in spread, ~60 % of the price at
the default tariffs, against a fee of 0.5 %. A buyer's gain is the same spread's other half, so
either side could bear it; charging the seller keeps the buyer's price exactly the community
price the rule announces and keeps the fee where the grid fee already is (one deduction from
one receipt, no new debit from any member). A seller ends up worse off than utility-only only
where the fee exceeds its margin: ``bps / 10,000 x price > price - feed-in``, i.e. never at a
price above ``feed-in / (1 - bps / 10,000)``; with a price at feed-in (a sharing price set to
it) any fee makes the seller lose.
"""

from __future__ import annotations

import numpy as np

from settlement.units import MicroEurArray

#: Basis points in one whole.
BPS = 10_000


def protocol_fees(payment_micro_eur: np.ndarray, bps: int) -> MicroEurArray:
    """Each trade's protocol fee [micro-euro]: ``payment x bps / 10,000``, half to even.

    Parameters
    ----------
    payment_micro_eur : ndarray of int
        Each trade's value [micro-euro].
    bps : int
        The fee [basis points], ``0 .. 10,000``.
    """
    if not 0 <= bps <= BPS:
        raise ValueError(f"protocol fee {bps} bps outside 0..{BPS}")
    scaled = np.asarray(payment_micro_eur, dtype=np.int64) * np.int64(bps)
    whole, rest = np.divmod(scaled, BPS)
    up = (2 * rest > BPS) | ((2 * rest == BPS) & (whole % 2 == 1))
    return MicroEurArray((whole + up).astype(np.int64))
