"""The ``DataMarket`` contract: a data buyer's permit-signed payment, split in one transaction.

The buyer signs, with its own key, an ERC-2612 permit for exactly a sale's payment to the
DataMarket; the operator (SELLER) submits the sale with it: ``DataMarket.sellData`` pulls the
payment from the buyer and pays each contributing device's share to the device NFT's owner
(``DeviceRegistry.payeeOf`` at payout time) and the rest to the treasury, and reverts unless
the split sums to the payment. Events ``DataPayout`` (one a device) and ``DataSold`` (one a
sale) record every micro-euro. Amounts: micro-euro.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.units import MicroEur

_DEPLOY_GAS = 2_000_000
# Gas bounds of a sale (base: permit, pull, treasury; per device: payee lookup, transfer).
_SELL_GAS = (160_000, 60_000)


@dataclass(frozen=True)
class SaleEvents:
    """What a sale's receipt says: the buyer, the payment, the treasury's part, the release
    digest, and (device id, payee, amount) of every payout [micro-euro]."""

    sale: int
    buyer: str
    amount_micro_eur: int
    to_devices_micro_eur: int
    to_treasury_micro_eur: int
    release_root: bytes
    payouts: list[tuple[int, str, int]]


class DataMarket:
    """The run's ``DataMarket`` on ``chain``, at ``address`` (:meth:`deploy` makes one)."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.attach(load_artifact("DataMarket"), address)

    @classmethod
    def deploy(cls, chain: Chain, *, registry: str, treasury: str) -> DataMarket:
        """Deploy a DataMarket paying the owners of ``registry``'s devices and ``treasury``;
        the operator is admin (until :meth:`hand_over`) and SELLER."""
        args = (
            chain.contract("EnergyCredit").address,
            Web3.to_checksum_address(registry),
            Web3.to_checksum_address(treasury),
            chain.operator,
            chain.operator,
        )
        contract = chain.deploy_contract(load_artifact("DataMarket"), *args, gas=_DEPLOY_GAS)
        return cls(chain, str(contract.address))

    @property
    def address(self) -> str:
        """The contract's address (the spender of the buyer's permits)."""
        return str(self.contract.address)

    def hand_over(self, admin: str) -> None:
        """Give DEFAULT_ADMIN to ``admin`` (a timelock); the operator keeps SELLER."""
        self.chain.hand_over_admin([self.contract], admin)

    def sell(
        self,
        sale: int,
        buyer_key: bytes | str,
        amount_micro_eur: MicroEur,
        device_ids: Sequence[int],
        device_micro_eur: Sequence[int],
        treasury_micro_eur: int,
        release_root: bytes,
    ) -> TxReceipt:
        """Sale ``sale``: the buyer signs a permit of ``amount_micro_eur`` for this contract
        (valid one hour of chain time), and the operator submits the sale with its split."""
        deadline = self.chain.block_timestamp() + 3_600
        owner, value, deadline, v, r, s = self.chain.sign_permit(
            buyer_key, int(amount_micro_eur), spender=self.address, deadline=deadline
        )
        args = [
            int(sale),
            owner,
            value,
            deadline,
            v,
            r,
            s,
            [int(d) for d in device_ids],
            [int(a) for a in device_micro_eur],
            int(treasury_micro_eur),
            release_root,
        ]
        gas = min(_SELL_GAS[0] + _SELL_GAS[1] * len(device_ids), self.chain.block_gas_limit())
        return self.chain.transact(self.contract, "sellData", args, gas=gas)

    def events(self, receipt: TxReceipt) -> SaleEvents:
        """The ``DataSold`` and ``DataPayout`` events of a sale's receipt."""
        sold = self.contract.events.DataSold().process_receipt(receipt, errors=DISCARD)
        if len(sold) != 1:
            raise ValueError(f"expected one DataSold event, found {len(sold)}")
        a = sold[0].args
        payouts = [
            (int(e.args.deviceId), str(e.args.payee), int(e.args.amount))
            for e in self.contract.events.DataPayout().process_receipt(receipt, errors=DISCARD)
        ]
        return SaleEvents(
            int(a.saleId),
            str(a.buyer),
            int(a.amount),
            int(a.toDevices),
            int(a.toTreasury),
            bytes(a.releaseRoot),
            payouts,
        )

    def sold(self, sale: int) -> bool:
        """Whether sale ``sale`` was made."""
        return bool(self.chain.call(self.contract, "sold", int(sale)))
