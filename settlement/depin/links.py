"""When a device's signed uploads reach the journal: its meter link's dropouts and delay.

A device signs each upload period's readings when the period ends (its nonce: the period's
upload counter, whatever the link does) and sends them in nonce order. An upload is *due* at
its period's end, the *slot* of that period; the journal receives uploads slot by slot. A
device whose link has a delay of ``d`` periods sends a period's upload in slot ``p + d``; a
link that is down at a slot's end sends nothing then, and every held upload goes with the
first slot at which the link is up. :func:`arrival_slots` turns both into the slot at which
each period's upload arrives (``late`` periods: ``slot - period``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def arrival_slots(
    slot_end_s: npt.ArrayLike,
    down_s: Sequence[tuple[float, float]] = (),
    delay_periods: int = 0,
) -> IntArray:
    """The slot at which each period's upload reaches the journal.

    Parameters
    ----------
    slot_end_s : array_like of float, shape (n,)
        The end of each upload period (its slot), increasing [s from the run's start].
    down_s : sequence of (float, float)
        The link's dropouts, each ``[start, end)`` [s from the run's start]: a slot whose end
        falls inside one sends nothing.
    delay_periods : int
        The link's delay [upload periods] (0: each upload in its own period's slot).

    Returns
    -------
    ndarray of int64, shape (n,)
        The arrival slot of each period's upload, non-decreasing (uploads stay in nonce
        order) and at least the period itself; ``n`` where it arrives after the last slot.
    """
    if delay_periods < 0:
        raise ValueError(f"delay_periods must be >= 0, got {delay_periods}")
    end = np.asarray(slot_end_s, dtype=np.float64)
    n = len(end)
    up = np.ones(n, dtype=bool)
    for start, stop in down_s:
        up &= ~((end >= start) & (end < stop))
    # next_up[q]: the first slot >= q whose link is up (n: none in the run)
    next_up = np.full(n + 1, n, dtype=np.int64)
    for q in range(n - 1, -1, -1):
        next_up[q] = q if up[q] else next_up[q + 1]
    due = np.minimum(np.arange(n, dtype=np.int64) + delay_periods, n)
    return next_up[due]
