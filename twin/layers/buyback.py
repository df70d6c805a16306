"""The revenue schedule's buyback inside a run: each epoch's burn, and the ``buybacks`` table.

With ``devices.emission.schedule = "revenue"`` the devices layer opens a :class:`BuybackDesk`:
it deploys ``BuybackBurn`` (:mod:`settlement.depin.buyback`) at the reference price
``devices.emission.token_price_eur`` and has the Treasury name it (by the Treasury's owner,
the operator, at set-up: the economy layer hands the Treasury to the timelock when the run
starts). At each epoch's end, after the epoch's rewards are minted, :meth:`BuybackDesk.burn`

1. draws the revenue that reached the Treasury since the last draw (the protocol fees of the
   batches committed since; a batch still in flight is drawn at a later epoch's end, and what
   arrives after the last epoch stays in the Treasury);
2. buys as many tokens as the buyback holds revenue for (:func:`tokens_for_revenue`), sold by
   the device owners pro rata to the tokens each holds (:func:`sales_pro_rata`; staked tokens
   are the staking contract's, not the owner's to sell), each sale by a permit the owner signs
   with its own key; the contract burns every token it buys;

and returns what was burned: the next epoch's emission (capped by the constant pool).

The ``buybacks`` table has one row a draw (``kind = "draw"``, one an epoch, possibly of 0:
revenue drawn from the Treasury, account = the buyback) and one a sale (``kind = "sale"``:
account = the seller, units sold and burned, micro-euro paid); the draws of revenue are also
``buyback`` rows of the ``treasury`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from settlement.depin.buyback import BuybackBurn
from settlement.depin.client import REWARD_DECIMALS, DepinContracts
from settlement.depin.emission import sales_pro_rata, tokens_for_revenue

#: A treasury movement for the economy layer: (time_s, kind, account, amount, tx_hash).
Movement = tuple[float, str, str, int, str]


@dataclass
class _Rows:
    """Rows of the ``buybacks`` table."""

    epoch: list[int] = field(default_factory=list)
    time: list[np.datetime64] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    account: list[str] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    tx_hash: list[str] = field(default_factory=list)

    def add(
        self,
        epoch: int,
        time: np.datetime64,
        kind: str,
        account: str,
        units: int,
        amount: int,
        tx_hash: str,
    ) -> None:
        for name, value in zip(
            ("epoch", "time", "kind", "account", "units", "amount", "tx_hash"),
            (epoch, time, kind, account, units, amount, tx_hash),
            strict=True,
        ):
            getattr(self, name).append(value)

    def table(self) -> dict[str, pa.Array]:
        return {
            "epoch": pa.array(self.epoch, pa.int64()),
            "time": pa.array(self.time, pa.timestamp("us")),
            "kind": pa.array(self.kind, pa.string()),
            "account": pa.array(self.account, pa.string()),
            "units": pa.array(self.units, pa.int64()),
            "amount_micro_eur": pa.array(self.amount, pa.int64()),
            "tx_hash": pa.array(self.tx_hash, pa.string()),
        }


class BuybackDesk:
    """The run's buyback-and-burn; see the module docstring.

    Parameters
    ----------
    depin : DepinContracts
        The run's DePIN contracts.
    treasury : str
        The community Treasury (owned by the operator until the run starts).
    price_eur_per_token : float
        The reference token price [EUR/token].
    holders : sequence of (str, str)
        The device owners who may sell: (participant name, address), each once.
    holder_key : callable
        A holder's private key by its participant name: each signs its own sales.
    movements : list, optional
        The economy layer's treasury movements: each draw is appended as a ``buyback`` row.
    """

    def __init__(
        self,
        depin: DepinContracts,
        treasury: str,
        price_eur_per_token: float,
        holders: Sequence[tuple[str, str]],
        holder_key: Callable[[str], bytes],
        movements: list[Movement] | None = None,
    ) -> None:
        self.depin = depin
        self.price_micro_eur = round(price_eur_per_token * 1_000_000)
        self.buyback = BuybackBurn(depin, treasury, self.price_micro_eur)
        self.buyback.authorize()
        self.holders = list(holders)
        self.holder_key = holder_key
        self.movements = movements if movements is not None else []
        self.rows = _Rows()
        self.last_burned = 0  # at the last epoch's end [base units]

    def burn(self, epoch: int, time: np.datetime64, time_s: float) -> tuple[int, int]:
        """Draw the new revenue, buy and burn what it buys; (burned [base units], paid
        [micro-euro]) at this epoch's end."""
        drawn, receipt = self.buyback.draw()
        tx = receipt["transactionHash"].to_0x_hex()
        self.rows.add(epoch, time, "draw", self.buyback.address, 0, drawn, tx)  # every draw
        if drawn:  # the Treasury pays (and emits Paid) only when there is new revenue
            self.movements.append((time_s, "buyback", self.buyback.address, -drawn, tx))
        units = tokens_for_revenue(self.buyback.budget(), self.price_micro_eur, REWARD_DECIMALS)
        held = [self.depin.reward_balance(address) for _, address in self.holders]
        burned = paid = 0
        for (name, _), sell in zip(self.holders, sales_pro_rata(held, units), strict=True):
            if sell <= 0 or self.buyback.quote(sell) <= 0:
                continue  # too little to fetch one micro-euro: the contract would refuse it
            sale = self.buyback.sell_with_permit(sell, self.holder_key(name))
            self.rows.add(
                epoch, time, "sale", sale.seller, sale.units, sale.paid_micro_eur, sale.tx_hash
            )
            burned += sale.units
            paid += sale.paid_micro_eur
        self.last_burned = burned
        return burned, paid

    def table(self) -> dict[str, pa.Array]:
        """The ``buybacks`` table."""
        return self.rows.table()

    def kpis(self) -> dict[str, tuple[float, str]]:
        """What the buyback burned [token] and paid [EUR] over the run, read on chain."""
        burned, paid, _ = self.buyback.totals()
        return {
            "buyback_burned_tokens": (burned / 10**REWARD_DECIMALS, "token"),
            "buyback_paid_eur": (paid / 1e6, "EUR"),
        }
