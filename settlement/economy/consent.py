"""A member's consent to move its EnergyCredit: an allowance it grants with its own key.

Two ways, both signed by the member and by nobody else:

- :func:`grant_allowance`: the member sends ``approve`` itself. On a dev chain (embedded or
  anvil) the operator first sends the member the ether that one ``approve`` costs
  (``fund_gas``): the member signs and sends its own transaction, so its consent is its
  signature on exactly that allowance, for exactly that spender.
- An ERC-2612 ``permit`` (EnergyCredit is ``ERC20Permit``; ``Chain.sign_permit``): the member
  signs the allowance off chain and the operator relays it, without ether. Settlement's batch
  allowances, stakes and data purchases use this.

Either way the operator never holds a power to move the member's credits.
"""

from __future__ import annotations

from eth_account import Account
from web3 import Web3
from web3.types import TxReceipt

from settlement.chain.connection import Chain
from settlement.units import MicroEur

#: Gas bound of one ``approve`` (about 46,000 to set, 29,000 to change a non-zero allowance).
APPROVE_GAS = 60_000


def gas_funding_wei(chain: Chain, account: str, gas: int) -> int:
    """The ether [wei] ``account`` lacks to pay ``gas`` at twice today's gas price."""
    need = 2 * gas * chain.gas_price()
    have = int(chain.w3.eth.get_balance(Web3.to_checksum_address(account)))
    return max(0, need - have)


def grant_allowance(
    chain: Chain,
    owner_key: bytes | str,
    spender: str,
    amount_micro_eur: MicroEur,
    *,
    fund_gas: bool = False,
) -> TxReceipt:
    """The owner's own ``EnergyCredit.approve(spender, amount)``, signed with ``owner_key``.

    Parameters
    ----------
    chain : Chain
        The chain with EnergyCredit.
    owner_key : bytes or str
        The member's private key: it signs and sends (and pays the gas).
    spender : str
        The contract allowed to pull (an AssetShares offering or distribution).
    amount_micro_eur : MicroEur
        The allowance [micro-euro]; it replaces any earlier one.
    fund_gas : bool
        First send the member the ether it lacks for this transaction, from the operator.
    """
    owner = Account.from_key(owner_key).address
    if fund_gas:
        shortfall_wei = gas_funding_wei(chain, owner, APPROVE_GAS)
        if shortfall_wei:
            chain.send_ether(owner, shortfall_wei)
    args = [Web3.to_checksum_address(spender), int(amount_micro_eur)]
    credit = chain.contract("EnergyCredit")
    return chain.transact(credit, "approve", args, gas=APPROVE_GAS, key=owner_key)


def allowance(chain: Chain, owner: str, spender: str) -> MicroEur:
    """What ``spender`` may still pull from ``owner`` [micro-euro]."""
    credit = chain.contract("EnergyCredit")
    args = (Web3.to_checksum_address(owner), Web3.to_checksum_address(spender))
    return MicroEur(int(chain.call(credit, "allowance", *args)))


#: Gas bound of one EnergyCredit ``transfer`` to an account that holds none yet.
TRANSFER_GAS = 80_000


def transfer_credits(
    chain: Chain,
    owner_key: bytes | str,
    to: str,
    amount_micro_eur: MicroEur,
    *,
    fund_gas: bool = False,
) -> TxReceipt:
    """The owner's own ``EnergyCredit.transfer(to, amount)``, signed with ``owner_key``: a
    member paying into the treasury (its consent is its signature on exactly this payment).

    ``fund_gas``: first send the owner the ether it lacks for this transaction, from the
    operator (dev chains).
    """
    owner = Account.from_key(owner_key).address
    if fund_gas and (shortfall_wei := gas_funding_wei(chain, owner, TRANSFER_GAS)):
        chain.send_ether(owner, shortfall_wei)
    args = [Web3.to_checksum_address(to), int(amount_micro_eur)]
    credit = chain.contract("EnergyCredit")
    return chain.transact(credit, "transfer", args, gas=TRANSFER_GAS, key=owner_key)
