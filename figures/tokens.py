"""Token amounts: integers in token base units in the tables, tokens on every page.

The ``rewards`` table keeps ``amount`` in RewardToken base units (one token is
``10**REWARD_DECIMALS`` of them, :data:`settlement.depin.client.REWARD_DECIMALS`). Sums are
exact (Python integers, beyond 64 bits); what a page shows is tokens with the token's
decimals, as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from settlement.depin.client import REWARD_DECIMALS

#: The unit token amounts are shown in.
TOKEN_UNIT = "tokens"


def token_sum(values: Iterable[object]) -> int:
    """Exact sum of token amounts [base units] (ints, numeric strings); unreadable ones skipped."""
    total = 0
    for value in values:
        try:
            total += int(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            continue
    return total


def tokens(base_units: int) -> Decimal:
    """An amount in base units as tokens, exactly."""
    return Decimal(int(base_units)).scaleb(-REWARD_DECIMALS)


def format_tokens(base_units: int) -> str:
    """An amount in base units as tokens with the token's decimals: ``1234567`` -> ``1.234567``.

    Thousands separated by commas: ``4999999933`` -> ``4,999.999933``.
    """
    return f"{tokens(base_units):,.{REWARD_DECIMALS}f}"


def tokens_float(base_units: pd.Series) -> np.ndarray:
    """Amounts in base units as tokens [float] (for a figure's axis; tables stay exact)."""
    return pd.to_numeric(base_units, errors="coerce").to_numpy(dtype=float) / 10**REWARD_DECIMALS
