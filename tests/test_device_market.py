"""Device NFT sales on the embedded chain: ERC-2981 royalty paid, money conserved, consent.

Known truths: the buyer's payment equals the seller's receipt plus the royalty, to the base
unit, on chain; the royalty is ``price x bps // 10000`` and lands with the configured
receiver; the NFT, and with it the next reward, goes to the buyer; nothing moves without the
seller's approval or with a short buyer; the operator cannot move an NFT; a royalty above
10,000 bps is refused at deployment.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.chain.participants import participant_private_key
from settlement.depin.client import DepinContracts
from settlement.depin.market import DeviceMarket, royalty_of

CREDITS = 5_000_000_000  # 5,000 EUR [micro-euro]
BPS = 750
DEVICE = 3


@pytest.fixture
def market() -> tuple[DeviceMarket, list[bytes], str]:
    chain = Chain.embedded()
    keys = [participant_private_key(o, 7) for o in ("member-0000", "member-0001")]
    members = [Account.from_key(k).address for k in keys]
    chain.mint_credits(members, CREDITS)
    installer = Account.from_key(participant_private_key("installer", 7)).address
    depin = DepinContracts(chain, royalty_receiver=installer, royalty_bps=BPS)
    depin.register_devices([DEVICE], [members[0]], [members[0]], [1], [6_000])
    return DeviceMarket(depin), keys, installer


def test_a_sale_pays_the_royalty_conserves_money_and_moves_the_rewards(
    market: tuple[DeviceMarket, list[bytes], str],
) -> None:
    dm, keys, installer = market
    chain, depin = dm.chain, dm.depin
    seller, buyer = (Account.from_key(k).address for k in keys)
    price = 1_234_567_891  # 1,234.567891 EUR: the royalty rounds down
    assert depin.royalty_info(DEVICE, price) == (installer, royalty_of(price, BPS))
    before = {a: chain.balance_of(a) for a in (seller, buyer, installer, dm.address)}
    sold = dm.sell(DEVICE, price, keys[0], keys[1])
    after = {a: chain.balance_of(a) for a in before}
    paid = before[buyer] - after[buyer]
    received = after[seller] - before[seller]
    royalty = after[installer] - before[installer]
    assert paid == price == received + royalty  # exactly, on chain
    assert royalty == sold.royalty == price * BPS // 10_000 == 92_592_591
    assert (sold.seller, sold.buyer, sold.receiver, sold.price) == (seller, buyer, installer, price)
    assert after[dm.address] == 0
    assert chain.total_supply() == 2 * CREDITS
    assert depin.owner_of(DEVICE) == buyer
    depin.distribute(0, b"\x01" * 32, [DEVICE], [1_000])
    assert depin.reward_balance(buyer) == 1_000
    assert depin.reward_balance(seller) == 0
    assert dm.sale_nonce(DEVICE) == 1


def test_nothing_moves_without_consent_or_with_a_short_buyer(
    market: tuple[DeviceMarket, list[bytes], str],
) -> None:
    dm, keys, _installer = market
    chain, depin = dm.chain, dm.depin
    seller, buyer = (Account.from_key(k).address for k in keys)
    balances = [chain.balance_of(a) for a in (seller, buyer)]
    with pytest.raises(TransactionRevertedError, match="ERC20InsufficientBalance"):
        dm.sell(DEVICE, CREDITS + 1, keys[0], keys[1])  # the buyer cannot pay
    # the operator, registry admin and registrar, cannot move the NFT
    registry = depin.contract("DeviceRegistry")
    with pytest.raises(TransactionRevertedError, match="ERC721InsufficientApproval"):
        chain.transact(registry, "transferFrom", [seller, chain.operator, DEVICE], gas=100_000)
    # someone else's key cannot sell the seller's device
    stranger = participant_private_key("stranger", 7)
    chain.send_ether(Account.from_key(stranger).address, 10**17)
    with pytest.raises(TransactionRevertedError):
        dm.sell(DEVICE, 1_000_000, stranger, keys[1], fund_gas=False)
    assert [chain.balance_of(a) for a in (seller, buyer)] == balances
    assert depin.owner_of(DEVICE) == seller


def test_a_royalty_above_10000_bps_is_refused_at_deployment() -> None:
    depin = DepinContracts(Chain.embedded(), royalty_bps=10_001)
    with pytest.raises(TransactionRevertedError, match="ERC2981InvalidDefaultRoyalty"):
        depin.deploy()
    with pytest.raises(ValueError, match="outside"):
        royalty_of(100, 10_001)
