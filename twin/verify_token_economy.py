"""The ``token_economy`` table against the rewards, the stakes and the chain: each epoch's
emission and supply change, its derived columns, the slashes and the stake on chain."""

from __future__ import annotations

import numpy as np
import pandas as pd

from settlement.depin.client import REWARD_DECIMALS
from settlement.depin.emission import break_even_eur_per_token, pays_for_itself
from twin.checks import Check, row_check


def verify_token_economy(
    economy: pd.DataFrame,
    rewards: pd.DataFrame,
    supply: int,
    stakes: pd.DataFrame | None = None,
    staked_on_chain: int | None = None,
) -> list[Check]:
    """Per epoch (row): emission = the epoch's rewards; the supply change since the row before
    = genesis + emitted - burned; the last epoch's supply = the RewardToken's supply on chain.
    A wrong row is named with its epoch and what disagrees."""
    emitted = rewards.groupby("epoch")["amount"].sum()
    bad: list[str] = []
    before = 0
    for i, row in enumerate(economy.itertuples()):
        e, em, s = int(str(row.epoch)), int(str(row.emitted_units)), int(str(row.supply_units))
        change = int(str(row.genesis_units)) + em - int(str(row.burned_units))
        if em != int(emitted.get(e, 0)):
            bad.append(f"row {i} (epoch {e}): emitted {em:,}, rewards {int(emitted.get(e, 0)):,}")
        if s - before != change:
            bad.append(
                f"row {i} (epoch {e}): supply changed {s - before:,}, "
                f"genesis + emitted - burned = {change:,}"
            )
        before = s
    checks = [
        Check(
            "token_economy: emitted = rewards, supply change = genesis + emitted - burned, "
            "per epoch",
            not bad,
            f"{len(economy)} epochs" + (f"; {'; '.join(bad[:3])}" if bad else ""),
        )
    ]
    last = int(economy["supply_units"].iloc[-1]) if len(economy) else 0
    checks.append(
        Check(
            "token_economy: last supply = RewardToken supply on chain",
            last == supply,
            f"{last:,} base units",
        )
    )
    checks.append(_derived_columns(economy))
    if stakes is not None:
        slashed = int(stakes.loc[stakes["kind"].astype(str) == "slash", "amount_units"].sum())
        total = int(economy["slashed_units"].sum())
        checks.append(
            Check(
                "token_economy: slashed over the epochs = the stakes table's slashes",
                total == slashed,
                f"{total:,} base units" + ("" if total == slashed else f", stakes {slashed:,}"),
            )
        )
    if staked_on_chain is not None and len(economy):
        last = int(economy["staked_units"].iloc[-1])
        checks.append(
            Check(
                "token_economy: last epoch's staked = DeviceStaking's total on chain",
                last == staked_on_chain,
                f"{last:,} base units"
                + ("" if last == staked_on_chain else f", chain {staked_on_chain:,}"),
            )
        )
    return checks


def _derived_columns(economy: pd.DataFrame) -> Check:
    """Each row's derived columns: circulating = supply - staked; the break-even token value
    and ``pays_for_itself`` from the epoch's revenue, emission and reference price."""
    supply = economy["supply_units"].to_numpy(dtype=np.int64)
    staked = economy["staked_units"].to_numpy(dtype=np.int64)
    circulating = economy["circulating_units"].to_numpy(dtype=np.int64)
    revenue = economy["protocol_revenue_micro_eur"].to_numpy(dtype=np.int64)
    emitted = economy["emitted_units"].to_numpy(dtype=np.int64)
    price = economy["reference_price_eur_per_token"].to_numpy(dtype=np.float64)
    stated_even = economy["break_even_eur_per_token"].to_numpy(dtype=np.float64)
    stated_pays = economy["pays_for_itself"].to_numpy(dtype=bool)
    even = np.array(
        [
            break_even_eur_per_token(int(r), int(e), REWARD_DECIMALS)
            for r, e in zip(revenue, emitted, strict=True)
        ]
    )
    pays = np.array(
        [
            pays_for_itself(int(r), int(e), float(p), REWARD_DECIMALS)
            for r, e, p in zip(revenue, emitted, price, strict=True)
        ],
        dtype=bool,
    )
    same_even = np.isclose(stated_even, even, rtol=1e-12, atol=0.0, equal_nan=True)
    bad = (circulating != supply - staked) | ~same_even | (stated_pays != pays)
    return row_check(
        "token_economy: circulating = supply - staked, break-even and pays_for_itself from "
        "revenue and emission",
        "token_economy",
        bad,
        lambda i: (
            f"epoch {economy['epoch'].iat[i]}: circulating {circulating[i]:,} (supply - staked "
            f"{supply[i] - staked[i]:,}), break-even {stated_even[i]:.6g} ({even[i]:.6g}), "
            f"pays_for_itself {bool(stated_pays[i])} ({bool(pays[i])})"
        ),
    )
