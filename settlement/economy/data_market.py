"""The ``DataMarket`` contract: a data buyer's permit-signed payment, split in one transaction
or, for more devices than one transaction can pay, in chunks.

The buyer signs, with its own key, an ERC-2612 permit for exactly a sale's payment to the
DataMarket; the operator (SELLER) submits the sale with it: ``DataMarket.sellData`` pulls the
payment from the buyer and pays each contributing device's share to the device NFT's owner
(``DeviceRegistry.payeeOf`` at payout time) and the rest to the treasury, and reverts unless
the split sums to the payment. Events ``DataPayout`` (one a device) and ``DataSold`` (one a
sale) record every micro-euro. Amounts: micro-euro.

A sale whose gas bound exceeds the run's budget (``chain.max_tx_gas``, as the settlement's
chunks, the rewards' claims and the asset shares' distributions) is made in chunks:
``openSale`` pulls the whole payment into the contract and commits to the split (device count,
totals, :func:`split_digest` of the whole list), then ``payChunk`` pays the next devices, the
last one the treasury too, and closes the sale with the same ``DataSold``. :meth:`DataMarket.sell`
reads how far an open sale got on chain first, so a seller killed between chunks and restarted
sends only the rest (fault points ``after_sale_open:<sale>`` and
``after_sale_chunk:<sale>:<chunk>``, :mod:`settlement.chain.fault_points`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.fault_points import fault_point
from settlement.units import MicroEur

_DEPLOY_GAS = 2_000_000
# Gas bounds of a sale (base: permit, pull, treasury; per device: payee lookup, transfer).
_SELL_GAS = (160_000, 60_000)
# A chunked sale: the opening (permit, pull, the commitment's storage), then per chunk a base
# (its progress, or at the close the treasury's transfer and the event) plus per device.
_OPEN_GAS = 300_000
_CHUNK_GAS = (150_000, 60_000)


def split_digest(device_ids: Sequence[int], amounts: Sequence[int]) -> bytes:
    """``DataMarket.splitDigest``: the hash chain ``h = keccak256(abi.encode(h, id, amount))``
    over the whole split, from ``h = 0``; what a chunked sale's opening commits to."""
    digest = bytes(32)
    for device, amount in zip(device_ids, amounts, strict=True):
        digest = keccak(digest + int(device).to_bytes(32, "big") + int(amount).to_bytes(32, "big"))
    return digest


def devices_per_chunk(gas_budget: int) -> int:
    """How many devices one ``payChunk`` pays within ``gas_budget`` [gas]."""
    count = (gas_budget - _CHUNK_GAS[0]) // _CHUNK_GAS[1]
    if count < 1 or gas_budget < _OPEN_GAS:
        raise ValueError(
            f"chain.max_tx_gas: a budget of {gas_budget:,} gas pays no device a DataMarket"
            f" chunk (it needs {max(_OPEN_GAS, sum(_CHUNK_GAS)):,}): raise chain.max_tx_gas"
        )
    return count


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
        *,
        gas_budget: int | None = None,
    ) -> list[TxReceipt]:
        """Sale ``sale``: the buyer signs a permit of ``amount_micro_eur`` for this contract
        (valid one hour of chain time), and the operator submits the sale with its split: one
        ``sellData`` when its gas bound fits ``gas_budget`` [gas] (or none is given), else
        ``openSale`` and ``payChunk`` transactions that each fit. The receipts it sent, in
        order; a sale left open on chain (a killed seller) is continued where it stopped."""
        ids = [int(d) for d in device_ids]
        amounts = [int(a) for a in device_micro_eur]
        bound = _SELL_GAS[0] + _SELL_GAS[1] * len(ids)
        is_open, start = self.progress(sale)
        if not is_open and (gas_budget is None or bound <= gas_budget):
            owner, value, deadline, v, r, s = self._permit(buyer_key, amount_micro_eur)
            args = [int(sale), owner, value, deadline, v, r, s, ids, amounts]
            args += [int(treasury_micro_eur), release_root]
            gas = min(bound, self.chain.block_gas_limit())
            return [self.chain.transact(self.contract, "sellData", args, gas=gas)]
        count = devices_per_chunk(
            self.chain.block_gas_limit() if gas_budget is None else gas_budget
        )
        receipts = []
        if not is_open:
            owner, value, deadline, v, r, s = self._permit(buyer_key, amount_micro_eur)
            args = [int(sale), owner, value, deadline, v, r, s, len(ids), sum(amounts)]
            args += [int(treasury_micro_eur), split_digest(ids, amounts), release_root]
            receipts.append(self.chain.transact(self.contract, "openSale", args, gas=_OPEN_GAS))
            fault_point("after_sale_open", sale)
        for first in range(start, max(len(ids), 1), count):
            some = ids[first : first + count]
            chunk = [int(sale), first, some, amounts[first : first + count]]
            gas = _CHUNK_GAS[0] + _CHUNK_GAS[1] * len(some)
            receipts.append(self.chain.transact(self.contract, "payChunk", chunk, gas=gas))
            fault_point("after_sale_chunk", f"{sale}:{first // count}")
        return receipts

    def _permit(
        self, buyer_key: bytes | str, amount_micro_eur: MicroEur
    ) -> tuple[str, int, int, int, bytes, bytes]:
        deadline = self.chain.block_timestamp() + 3_600
        return self.chain.sign_permit(
            buyer_key, int(amount_micro_eur), spender=self.address, deadline=deadline
        )

    def progress(self, sale: int) -> tuple[bool, int]:
        """(whether sale ``sale`` is open, being paid in chunks; its next unpaid device)."""
        is_open, next_device = self.chain.call(self.contract, "openSaleProgress", int(sale))
        return bool(is_open), int(next_device)

    def events(self, receipts: TxReceipt | Sequence[TxReceipt]) -> SaleEvents:
        """The ``DataSold`` and ``DataPayout`` events of a sale's receipts (one for a one-shot
        sale; the opening and every chunk for a chunked one)."""
        if not isinstance(receipts, Sequence):
            receipts = [receipts]
        sold = [
            e
            for receipt in receipts
            for e in self.contract.events.DataSold().process_receipt(receipt, errors=DISCARD)
        ]
        if len(sold) != 1:
            raise ValueError(f"expected one DataSold event, found {len(sold)}")
        a = sold[0].args
        payouts = [p for receipt in receipts for p in self.payouts(receipt)]
        return SaleEvents(
            int(a.saleId),
            str(a.buyer),
            int(a.amount),
            int(a.toDevices),
            int(a.toTreasury),
            bytes(a.releaseRoot),
            payouts,
        )

    def payouts(self, receipt: TxReceipt) -> list[tuple[int, str, int]]:
        """(device id, payee, amount [micro-euro]) of each ``DataPayout`` of one receipt."""
        return [
            (int(e.args.deviceId), str(e.args.payee), int(e.args.amount))
            for e in self.contract.events.DataPayout().process_receipt(receipt, errors=DISCARD)
        ]

    def sold(self, sale: int) -> bool:
        """Whether sale ``sale`` was made."""
        return bool(self.chain.call(self.contract, "sold", int(sale)))
