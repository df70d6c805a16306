"""Integer units of settlement, and the one place where floats become them.

Physics and forecasting work in floats (MW); whatever reaches the market, the journal or the
chain is an integer: energy in watt-hours, money in micro-euro, tokens in their base units,
as web3.py types ``Wei``. The ``NewType``s below mark them in signatures; arrays of them are
``int64`` arrays (``WhArray`` ...).

:func:`mw_to_wh` is the float -> integer boundary for energy: a power held over an interval,
rounded half to even to whole watt-hours.
"""

from __future__ import annotations

from typing import NewType

import numpy as np
import numpy.typing as npt

#: Energy [Wh].
Wh = NewType("Wh", int)
#: Money [micro-euro, 1e-6 EUR].
MicroEur = NewType("MicroEur", int)
#: Token amounts [base units, 10**-decimals of a token].
TokenUnits = NewType("TokenUnits", int)

#: Arrays of the same units (``int64``).
WhArray = NewType("WhArray", npt.NDArray[np.int64])
MicroEurArray = NewType("MicroEurArray", npt.NDArray[np.int64])
TokenUnitsArray = NewType("TokenUnitsArray", npt.NDArray[np.int64])

#: Micro-euro in one euro.
MICRO_EUR_PER_EUR = 1_000_000


def wh_per_mw(interval_s: int) -> float:
    """Watt-hours of one MW held for ``interval_s`` seconds [Wh/MW]."""
    return interval_s / 3600.0 * 1e6


def mw_to_wh(p_mw: npt.ArrayLike, interval_s: int) -> WhArray:
    """Energy of a power held over one interval, in whole watt-hours.

    Parameters
    ----------
    p_mw : array_like
        Power [MW], any shape; NaN is not allowed (map it first).
    interval_s : int
        Interval length [s].

    Returns
    -------
    ndarray of int64
        ``rint(p_mw * interval_s / 3600 * 1e6)`` [Wh], same shape.
    """
    return WhArray(
        np.rint(np.asarray(p_mw, dtype=np.float64) * wh_per_mw(interval_s)).astype(np.int64)
    )


def eur_to_micro_eur(amount_eur: float) -> MicroEur:
    """A euro amount as whole micro-euro (rounded half to even)."""
    return MicroEur(round(amount_eur * MICRO_EUR_PER_EUR))
