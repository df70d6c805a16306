"""ERC-2612 permits signed off chain with the holder's own key: its consent to one spender.

A holder signs ``Permit(owner, spender, value, nonce, deadline)`` in its token's EIP-712
domain; the operator relays it (``permit``, or a contract's ``...WithPermit``) without ether
and without any power over the holder's tokens beyond exactly that value to exactly that
spender. Used for RewardToken stakes and buyback sales and for EnergyCredit device purchases.
"""

from __future__ import annotations

from typing import NamedTuple

from eth_account import Account
from web3 import Web3

#: EIP-712 domain name of the RewardToken's ERC-2612 permit.
REWARD_TOKEN_DOMAIN = "gridtwin Reward"
#: EIP-712 domain name of EnergyCredit's ERC-2612 permit.
CREDIT_DOMAIN = "gridtwin EnergyCredit"


class Permit(NamedTuple):
    """An owner's ERC-2612 permit of ``value`` to ``spender``, signed with its key."""

    owner: str
    spender: str
    value: int
    deadline: int
    v: int
    r: bytes
    s: bytes


def sign_permit(
    key: bytes | str,
    *,
    chain_id: int,
    token: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
    domain_name: str = REWARD_TOKEN_DOMAIN,
) -> Permit:
    """The owner's ERC-2612 ``Permit`` of ``value`` [base units] to ``spender``, signed with
    ``key`` in the token's domain (``domain_name``, version "1"): by default the RewardToken's
    ("gridtwin Reward"); EnergyCredit's is "gridtwin EnergyCredit"."""
    owner = Account.from_key(key).address
    domain = {
        "name": domain_name,
        "version": "1",
        "chainId": int(chain_id),
        "verifyingContract": Web3.to_checksum_address(token),
    }
    types = {
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }
    spender = Web3.to_checksum_address(spender)
    message = {
        "owner": owner,
        "spender": spender,
        "value": int(value),
        "nonce": int(nonce),
        "deadline": int(deadline),
    }
    signed = Account.sign_typed_data(key, domain, types, message)
    return Permit(
        owner,
        spender,
        int(value),
        int(deadline),
        int(signed.v),
        int(signed.r).to_bytes(32, "big"),
        int(signed.s).to_bytes(32, "big"),
    )
