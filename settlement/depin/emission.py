"""The token economy's emission schedule and its per-epoch accounting, as pure functions.

The reward pool of epoch ``n`` [token base units] follows ``devices.emission``:

- ``constant``: ``pool_0`` every epoch (gridtwin's original fixed pool);
- ``halving``: ``pool_0 // 2**(n // halving_epochs)``: halved every ``halving_epochs`` epochs;
- ``decay``: ``floor(pool_0 * (1 - decay_per_epoch)**n)``: a steady exponential decay, in
  exact rational arithmetic on the rate as written (0.05 is 1/20), so 5 % less every epoch
  is 857,375,000 base units of 10**9 at epoch 3, not a float's 857,374,999;
- ``revenue``: burn-and-mint (:func:`revenue_emission`): epoch 0 emits ``pool_0`` (the
  bootstrap: devices must hold tokens before revenue can buy any back); epoch ``n >= 1``
  emits what the buyback burned at the end of epoch ``n - 1``, at most ``pool_0``.

**The revenue schedule, a buyback-and-burn.** Protocol revenue (the market's protocol fees,
paid into the community Treasury in EnergyCredit, micro-euro) buys RewardTokens at a reference
price ``devices.emission.token_price_eur`` [EUR/token] and burns them; the next epoch mints as
many as were burned. At each epoch's end ``BuybackBurn`` (``contracts/src/BuybackBurn.sol``)
draws the Treasury's revenue that arrived since its last draw (``Treasury.drawRevenue``: only
new inflows, never the members' contributions; the DAO's Treasury names the buyback once, at
set-up, before the timelock owns it) and the device owners sell it tokens at the reference
price, pro rata to their liquid (unstaked) holdings (:func:`sales_pro_rata`), each by an
ERC-2612 permit signed with its own key; the contract pays them and burns what it bought, as
the tokens' holder (``ERC20Burnable.burn``). So supply changes by ``emitted - burned`` each
epoch and, when revenue is steady and below the cap, emission converges on the revenue's worth
of tokens at the reference price: the economy pays for its rewards by construction, and
``pool_0`` caps what it can pay. This is Helium's burn-and-mint equilibrium (HIP-20's net
emissions: burned tokens are re-minted, capped) with the burn bought from revenue at a fixed
price instead of by users buying Data Credits: gridtwin has no token market, so the
reference price stands in for one (:func:`tokens_for_revenue`).

A partial epoch (the run's last) gets its share of its epoch's pool
(:func:`settlement.depin.rewards.epoch_pool`).

Supply accounting: the RewardToken is minted only by the genesis allocation and by rewards,
and burned only by slashes and by the revenue schedule's buyback, so at every epoch end
``supply = genesis + sum(emitted) - sum(burned)``; circulating supply is what is not staked
(``supply - staked``). The break-even
token value of an epoch is the EUR value of one token at which the epoch's rewards equal its
protocol revenue: ``revenue_eur / emitted_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

Schedule = Literal["constant", "halving", "decay", "revenue"]
"""The emission schedules of ``devices.emission.schedule``."""


def epoch_emission(
    pool_0: int,
    epoch: int,
    schedule: Schedule = "constant",
    *,
    halving_epochs: int = 52,
    decay_per_epoch: float = 0.0,
    burned_before: int = 0,
) -> int:
    """The full pool of epoch ``epoch`` [base units] under ``schedule`` (see the module).

    Parameters
    ----------
    pool_0 : int
        The first epoch's pool [base units].
    epoch : int
        Epoch index, from 0.
    schedule : {"constant", "halving", "decay", "revenue"}
        The schedule.
    halving_epochs : int
        Epochs between halvings (``halving``).
    decay_per_epoch : float
        Share of the pool lost each epoch (``decay``), in [0, 1).
    burned_before : int
        What the buyback burned at the end of epoch ``epoch - 1`` [base units] (``revenue``).
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
        kept = 1 - Fraction(repr(float(decay_per_epoch)))  # the rate's shortest decimal, exact
        return int(pool_0) * kept.numerator**epoch // kept.denominator**epoch
    if schedule == "revenue":
        return revenue_emission(pool_0, epoch, burned_before)
    raise ValueError(f"unknown emission schedule {schedule!r}")


def break_even_eur_per_token(revenue_micro_eur: int, emitted_units: int, decimals: int) -> float:
    """The token value [EUR/token] at which an epoch's rewards equal its protocol revenue
    (NaN when nothing was emitted)."""
    if emitted_units <= 0:
        return float("nan")
    return (revenue_micro_eur / 1e6) / (emitted_units / 10**decimals)


def revenue_emission(pool_0: int, epoch: int, burned_before: int) -> int:
    """The ``revenue`` schedule's full pool of epoch ``epoch`` [base units]: ``pool_0`` for
    epoch 0 (the bootstrap), else ``min(burned_before, pool_0)``: what the buyback burned at
    the end of the epoch before, capped by the constant pool."""
    if epoch < 0 or pool_0 < 0 or burned_before < 0:
        raise ValueError("epoch, pool_0 and burned_before must be non-negative")
    return int(pool_0) if epoch == 0 else min(int(burned_before), int(pool_0))


def tokens_for_revenue(
    revenue_micro_eur: int, price_micro_eur_per_token: int, decimals: int
) -> int:
    """The most token base units ``revenue_micro_eur`` buys at the reference price (rounded
    down, so the buyback never pays more than it holds: ``BuybackBurn.quote`` of the result
    is at most the revenue)."""
    if price_micro_eur_per_token <= 0:
        raise ValueError("the reference price must be positive")
    if revenue_micro_eur <= 0:
        return 0
    return int(revenue_micro_eur) * 10**decimals // int(price_micro_eur_per_token)


def sales_pro_rata(holdings: Sequence[int], units: int) -> list[int]:
    """What each holder sells [base units] when ``units`` are bought pro rata to
    ``holdings`` (largest remainders; never more than a holder holds; all of it when the
    holdings fall short): the sales sum to ``min(units, sum(holdings))``."""
    held = [max(0, int(h)) for h in holdings]
    total = sum(held)
    want = min(max(0, int(units)), total)
    if want == 0:
        return [0] * len(held)
    sold = [h * want // total for h in held]
    rest = want - sum(sold)
    order = sorted(range(len(held)), key=lambda i: (-(held[i] * want % total), i))
    for i in order:
        if rest == 0:
            break
        if sold[i] < held[i]:
            sold[i] += 1
            rest -= 1
    return sold


def pays_for_itself(
    revenue_micro_eur: int, emitted_units: int, price_eur_per_token: float, decimals: int
) -> bool:
    """Whether the revenue covers the rewards' worth at the reference price:
    ``revenue >= emitted x price`` (the break-even token value is at least the price)."""
    return revenue_micro_eur / 1e6 >= emitted_units / 10**decimals * price_eur_per_token
