"""Device NFT sales that pay the ERC-2981 royalty: ``DeviceMarket`` on a chain.

``DeviceRegistry`` reports one royalty for every device (OpenZeppelin's ERC2981: a receiver,
the installer or the community treasury, and a share in basis points, set at deployment).
``DeviceMarket`` (``settlement/chain/contracts/src/DeviceMarket.sol``) enforces it: one call
moves the device's NFT from seller to buyer, ``royaltyInfo(price)`` of the buyer's
EnergyCredit to the receiver and the rest of the price to the seller, atomically. Rewards
follow the NFT (``Rewards`` pays ``ownerOf`` at payout time).

Consent, both sides, with their own keys (:meth:`DeviceMarket.sell`):

- the seller approves the market for the device (ERC-721 ``approve``, its own transaction;
  the operator sends it the ether the gas costs on a dev chain) and signs the :class:`Sale`
  (EIP-712);
- the buyer signs the same :class:`Sale` and an ERC-2612 permit of exactly the price to the
  market (EnergyCredit's ``permit``);
- the operator relays ``buyWithPermit``: it holds no power over either's NFT or credits.

Amounts are integers [EnergyCredit base units = micro-euro].
"""

from __future__ import annotations

from typing import Any, NamedTuple

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.erc2612 import CREDIT_DOMAIN, sign_permit
from settlement.depin.client import DepinContracts
from settlement.economy.consent import gas_funding_wei
from settlement.units import MicroEur

#: EIP-712 domain name of DeviceMarket's sales.
SALE_DOMAIN_NAME = "gridtwin DeviceMarket"
BPS = 10_000
_SALE_TYPES = {
    "Sale": [
        {"name": "deviceId", "type": "uint256"},
        {"name": "seller", "type": "address"},
        {"name": "buyer", "type": "address"},
        {"name": "price", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
_DEPLOY_GAS = 3_000_000
_APPROVE_GAS = 80_000
_SALE_GAS = 300_000
_SALE_WINDOW_S = 3_600


def royalty_of(price_micro_eur: int, bps: int) -> MicroEur:
    """ERC-2981's royalty of a sale: ``price x bps // 10000``, rounded down [micro-euro]."""
    if not 0 <= bps <= BPS:
        raise ValueError(f"royalty bps {bps} outside [0, {BPS}]")
    return MicroEur(int(price_micro_eur) * int(bps) // BPS)


class Sale(NamedTuple):
    """``DeviceMarket.Sale``: the terms seller and buyer both sign."""

    device_id: int
    seller: str
    buyer: str
    price: int
    nonce: int
    deadline: int


class Sold(NamedTuple):
    """A settled sale, from its ``DeviceSold`` event: amounts [micro-euro]."""

    device_id: int
    seller: str
    buyer: str
    price: int
    receiver: str
    royalty: int
    nonce: int
    tx_hash: str
    block: int
    gas_used: int


def sign_sale(key: bytes | str, sale: Sale, *, chain_id: int, market: str) -> bytes:
    """``key``'s EIP-712 signature of ``sale`` in ``market``'s domain (65 bytes r, s, v)."""
    domain = {
        "name": SALE_DOMAIN_NAME,
        "version": "1",
        "chainId": int(chain_id),
        "verifyingContract": Web3.to_checksum_address(market),
    }
    message = {
        "deviceId": int(sale.device_id),
        "seller": Web3.to_checksum_address(sale.seller),
        "buyer": Web3.to_checksum_address(sale.buyer),
        "price": int(sale.price),
        "nonce": int(sale.nonce),
        "deadline": int(sale.deadline),
    }
    return bytes(Account.sign_typed_data(key, domain, _SALE_TYPES, message).signature)


class DeviceMarket:
    """``DeviceMarket`` over ``depin``'s registry and the chain's EnergyCredit.

    Parameters
    ----------
    depin : DepinContracts
        The DePIN contracts (their chain has EnergyCredit deployed).
    address : str, optional
        Attach to a deployed market; else the operator deploys one (it has no roles).
    """

    def __init__(self, depin: DepinContracts, address: str | None = None) -> None:
        self.depin = depin
        self.chain: Chain = depin.chain
        artifact = load_artifact("DeviceMarket")
        if address is not None:
            self.contract: Contract = self.chain.attach(artifact, address)
            return
        credit = self.chain.contract("EnergyCredit").address
        registry = depin.contract("DeviceRegistry").address
        self.contract = self.chain.deploy_contract(artifact, credit, registry, gas=_DEPLOY_GAS)

    @property
    def address(self) -> str:
        """The market's address."""
        return str(self.contract.address)

    def manifest(self) -> dict[str, str]:
        """What a run's manifest records: {"DeviceMarket": address}."""
        return {"DeviceMarket": self.address}

    def sale_nonce(self, device_id: int) -> int:
        """Sales of ``device_id`` settled so far: the nonce its next :class:`Sale` names."""
        return int(self.chain.call(self.contract, "saleNonce", int(device_id)))

    def approve(self, device_id: int, seller_key: bytes | str, *, fund_gas: bool = True) -> None:
        """The seller's own ERC-721 ``approve(market, device_id)``, signed with its key.

        ``fund_gas``: first send the seller the ether it lacks for it, from the operator.
        """
        seller = Account.from_key(seller_key).address
        if fund_gas and (shortfall_wei := gas_funding_wei(self.chain, seller, _APPROVE_GAS)):
            self.chain.send_ether(seller, shortfall_wei)
        registry = self.depin.contract("DeviceRegistry")
        args = [self.contract.address, int(device_id)]
        self.chain.transact(registry, "approve", args, gas=_APPROVE_GAS, key=seller_key)

    def sell(
        self,
        device_id: int,
        price_micro_eur: int,
        seller_key: bytes | str,
        buyer_key: bytes | str,
        *,
        fund_gas: bool = True,
    ) -> Sold:
        """Sell ``device_id`` at ``price_micro_eur`` with both sides' consent (module docstring).

        The seller approves the market (its transaction); both sign the sale; the buyer signs
        an EnergyCredit permit of the price; the operator relays ``buyWithPermit``.

        Raises
        ------
        TransactionRevertedError
            When the market refuses (the seller does not own the device, the buyer's credits
            are short, ...): then nothing moved.
        """
        chain = self.chain
        seller = Account.from_key(seller_key).address
        buyer = Account.from_key(buyer_key).address
        self.approve(device_id, seller_key, fund_gas=fund_gas)
        deadline = chain.block_timestamp() + _SALE_WINDOW_S
        sale = Sale(
            int(device_id),
            seller,
            buyer,
            int(price_micro_eur),
            self.sale_nonce(device_id),
            deadline,
        )
        market = self.address
        seller_sig = sign_sale(seller_key, sale, chain_id=chain.chain_id, market=market)
        buyer_sig = sign_sale(buyer_key, sale, chain_id=chain.chain_id, market=market)
        credit = chain.contract("EnergyCredit")
        permit = sign_permit(
            buyer_key,
            chain_id=chain.chain_id,
            token=str(credit.address),
            spender=market,
            value=sale.price,
            nonce=int(chain.call(credit, "nonces", buyer)),
            deadline=deadline,
            domain_name=CREDIT_DOMAIN,
        )
        args: list[Any] = [
            tuple(sale),
            seller_sig,
            buyer_sig,
            permit.deadline,
            permit.v,
            permit.r,
            permit.s,
        ]
        receipt = chain.transact(self.contract, "buyWithPermit", args, gas=_SALE_GAS)
        return self.sold_event(receipt)

    def sold_event(self, receipt: TxReceipt) -> Sold:
        """The ``DeviceSold`` event of a sale's receipt.

        Raises
        ------
        ValueError
            When the receipt holds no (or more than one) ``DeviceSold`` of this market.
        """
        events = [
            e
            for e in self.contract.events.DeviceSold().process_receipt(receipt, errors=DISCARD)
            if Web3.to_checksum_address(e["address"]) == self.contract.address
        ]
        if len(events) != 1:
            raise ValueError(f"{len(events)} DeviceSold events in the receipt, not one")
        a = events[0]["args"]
        return Sold(
            int(a["deviceId"]),
            str(a["seller"]),
            str(a["buyer"]),
            int(a["price"]),
            str(a["royaltyReceiver"]),
            int(a["royalty"]),
            int(a["nonce"]),
            "0x" + bytes(receipt["transactionHash"]).hex(),
            int(receipt["blockNumber"]),
            int(receipt["gasUsed"]),
        )
