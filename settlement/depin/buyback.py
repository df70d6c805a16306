"""The ``BuybackBurn`` contract: protocol revenue buys RewardTokens at a reference price and
burns them (the ``revenue`` emission schedule, :mod:`settlement.depin.emission`).

The Treasury names the buyback once (:meth:`BuybackBurn.authorize`, by the Treasury's owner:
the operator at set-up, before the timelock owns it); from then on :meth:`BuybackBurn.draw`
moves the revenue that reached the Treasury since the last draw into the contract, and
:meth:`BuybackBurn.sell_with_permit` sells a holder's tokens to it at the reference price: the
holder signs an ERC-2612 permit of exactly those tokens to exactly this contract with its own
key (its consent to the sale), the operator submits it, the contract pays the holder from the
revenue it holds and burns the tokens as their holder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.erc2612 import sign_permit
from settlement.depin.client import DepinContracts

_DEPLOY_GAS = 3_000_000
_SET_GAS = 120_000
_DRAW_GAS = 150_000
_SELL_GAS = 200_000


class Sale(NamedTuple):
    """One ``Bought`` event: a holder's tokens sold to the buyback and burned."""

    seller: str
    units: int
    paid_micro_eur: int
    tx_hash: str


class BuybackBurn:
    """The run's ``BuybackBurn`` of ``depin``'s RewardToken, paying in EnergyCredit.

    Parameters
    ----------
    depin : DepinContracts
        The DePIN contracts (deployed); their chain's operator deploys.
    treasury : str
        The Treasury whose revenue it spends.
    price_micro_eur_per_token : int, optional
        Deploy a new contract at this reference price [micro-euro per whole token].
    address : str, optional
        Attach to a deployed contract instead.
    """

    def __init__(
        self,
        depin: DepinContracts,
        treasury: str,
        price_micro_eur_per_token: int | None = None,
        address: str | None = None,
    ) -> None:
        self.depin = depin
        self.chain: Chain = depin.chain
        self.treasury = self.chain.attach(load_artifact("Treasury"), treasury)
        artifact = load_artifact("BuybackBurn")
        if address is not None:
            self.contract: Contract = self.chain.attach(artifact, address)
            return
        if price_micro_eur_per_token is None:
            raise ValueError("price_micro_eur_per_token or address required")
        args = (
            self.chain.contract("EnergyCredit").address,
            depin.contract("RewardToken").address,
            self.treasury.address,
            int(price_micro_eur_per_token),
        )
        self.contract = self.chain.deploy_contract(artifact, *args, gas=_DEPLOY_GAS)

    @property
    def address(self) -> str:
        """The contract's address."""
        return str(self.contract.address)

    def manifest(self) -> Mapping[str, str]:
        """What a run's manifest records: {"BuybackBurn": address}."""
        return {"BuybackBurn": self.address}

    def authorize(self, *, sender: str | None = None) -> TxReceipt:
        """``Treasury.setBuyback(this)``: by the Treasury's owner, once."""
        return self.chain.transact(
            self.treasury, "setBuyback", [self.address], gas=_SET_GAS, sender=sender
        )

    def draw(self) -> tuple[int, TxReceipt]:
        """Draw the Treasury's new revenue into the buyback: (amount [micro-euro], receipt)."""
        receipt = self.chain.transact(self.contract, "draw", [], gas=_DRAW_GAS)
        events = self.contract.events.RevenueDrawn().process_receipt(receipt, errors=DISCARD)
        return int(events[0].args.amount), receipt

    def sell_with_permit(self, units: int, seller_key: bytes | str) -> Sale:
        """Sell ``units`` [base units] of the holder's tokens at the reference price; the holder
        signs the permit with ``seller_key``, the operator submits it."""
        token = self.depin.contract("RewardToken")
        seller = Account.from_key(seller_key).address
        permit = sign_permit(
            seller_key,
            chain_id=self.chain.chain_id,
            token=str(token.address),
            spender=self.address,
            value=int(units),
            nonce=int(self.chain.call(token, "nonces", seller)),
            deadline=self.chain.block_timestamp() + 3_600,
        )
        args = [seller, int(units), permit.deadline, permit.v, permit.r, permit.s]
        receipt = self.chain.transact(self.contract, "sellWithPermit", args, gas=_SELL_GAS)
        sale = self.sales(receipt)
        if len(sale) != 1:
            raise RuntimeError(f"sellWithPermit emitted {len(sale)} Bought events")
        return sale[0]

    def sales(self, receipt: TxReceipt) -> list[Sale]:
        """The ``Bought`` events of ``receipt``."""
        tx = receipt["transactionHash"].to_0x_hex()
        return [
            Sale(str(e.args.seller), int(e.args.units), int(e.args.paid), tx)
            for e in self.contract.events.Bought().process_receipt(receipt, errors=DISCARD)
        ]

    def quote(self, units: int) -> int:
        """What ``units`` fetch at the reference price [micro-euro], rounded down."""
        return int(self._call("quote", int(units)))

    def budget(self) -> int:
        """The revenue the buyback holds [micro-euro]."""
        return int(self._call("budget"))

    def price_micro_eur_per_token(self) -> int:
        """The reference price [micro-euro per token]."""
        return int(self._call("priceMicroEurPerToken"))

    def totals(self) -> tuple[int, int, int]:
        """(burned [base units], paid [micro-euro], drawn [micro-euro]) so far, on chain."""
        return (
            int(self._call("totalBurned")),
            int(self._call("totalPaid")),
            int(self._call("totalDrawn")),
        )

    def authorized(self) -> bool:
        """Whether the Treasury names this contract its buyback."""
        named = str(self.chain.call(self.treasury, "buyback"))
        return Web3.to_checksum_address(named) == Web3.to_checksum_address(self.address)

    def _call(self, function: str, *args: Any) -> Any:
        return self.chain.call(self.contract, function, *args)
