"""The token economy's emission schedule and its per-epoch accounting, as pure functions.

The reward pool of epoch ``n`` [token base units] follows ``devices.emission``:

- ``constant``: ``pool_0`` every epoch (gridtwin's original fixed pool);
- ``halving``: ``pool_0 // 2**(n // halving_epochs)``: halved every ``halving_epochs`` epochs;
- ``decay``: ``floor(pool_0 * (1 - decay_per_epoch)**n)``: a steady exponential decay.

A partial epoch (the run's last) gets its share of its epoch's pool
(:func:`settlement.depin.rewards.epoch_pool`).

Supply accounting: the RewardToken is minted only by the genesis allocation and by rewards,
and burned only by slashes, so at every epoch end ``supply = genesis + sum(emitted) -
sum(burned)``; circulating supply is what is not staked (``supply - staked``). The break-even
token value of an epoch is the EUR value of one token at which the epoch's rewards equal its
protocol revenue: ``revenue_eur / emitted_tokens``.
"""

from __future__ import annotations

from typing import Literal

Schedule = Literal["constant", "halving", "decay"]
"""The emission schedules of ``devices.emission.schedule``."""


def epoch_emission(
    pool_0: int,
    epoch: int,
    schedule: Schedule = "constant",
    *,
    halving_epochs: int = 52,
    decay_per_epoch: float = 0.0,
) -> int:
    """The full pool of epoch ``epoch`` [base units] under ``schedule`` (see the module).

    Parameters
    ----------
    pool_0 : int
        The first epoch's pool [base units].
    epoch : int
        Epoch index, from 0.
    schedule : {"constant", "halving", "decay"}
        The schedule.
    halving_epochs : int
        Epochs between halvings (``halving``).
    decay_per_epoch : float
        Share of the pool lost each epoch (``decay``), in [0, 1).
    """
    if epoch < 0 or pool_0 < 0:
        raise ValueError("epoch and pool_0 must be non-negative")
    if schedule == "constant":
        return int(pool_0)
    if schedule == "halving":
        if halving_epochs < 1:
            raise ValueError("halving_epochs must be >= 1")
        return int(pool_0) >> (epoch // halving_epochs)
    if schedule == "decay":
        if not 0.0 <= decay_per_epoch < 1.0:
            raise ValueError("decay_per_epoch must lie in [0, 1)")
        return int(int(pool_0) * (1.0 - decay_per_epoch) ** epoch)
    raise ValueError(f"unknown emission schedule {schedule!r}")


def break_even_eur_per_token(revenue_micro_eur: int, emitted_units: int, decimals: int) -> float:
    """The token value [EUR/token] at which an epoch's rewards equal its protocol revenue
    (NaN when nothing was emitted)."""
    if emitted_units <= 0:
        return float("nan")
    return (revenue_micro_eur / 1e6) / (emitted_units / 10**decimals)
