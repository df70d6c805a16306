"""Members' signed delegations and ballots (EIP-712): a member signs, the operator submits.

Members need no ether to take part in governance: a member signs a ``Delegation`` for
``CommunityVotes.delegateBySig`` and a ``Ballot`` for ``CommunityGovernor.castVoteBySig`` with
its own key, and the operator sends both (and pays their gas). Each signature is bound to the
chain id, the contract's address and the signer's current nonce, so it cannot be replayed on
another chain, contract, or twice. These functions are pure: the caller reads the nonce.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_account import Account

#: EIP-712 domain names (the contracts' constructors); both at version "1".
VOTES_DOMAIN_NAME = "gridtwin CommunityVotes"
GOVERNOR_DOMAIN_NAME = "gridtwin CommunityGovernor"


class Support(IntEnum):
    """A ballot's choice (GovernorCountingSimple)."""

    AGAINST = 0
    FOR = 1
    ABSTAIN = 2


@dataclass(frozen=True)
class Delegation:
    """A member's signed ``delegateBySig``: its votes go to ``delegatee`` (itself, usually)."""

    delegator: str
    delegatee: str
    nonce: int
    expiry_s: int
    v: int
    r: bytes
    s: bytes


@dataclass(frozen=True)
class Ballot:
    """A member's signed ``castVoteBySig`` on one proposal."""

    proposal_id: int
    support: Support
    voter: str
    signature: bytes


def _domain(name: str, chain_id: int, contract: str) -> dict[str, object]:
    return {"name": name, "version": "1", "chainId": chain_id, "verifyingContract": contract}


def sign_delegation(
    key: bytes | str,
    *,
    chain_id: int,
    votes_token: str,
    delegatee: str,
    nonce: int,
    expiry_s: int,
) -> Delegation:
    """Sign a delegation of the key's votes to ``delegatee``.

    Parameters
    ----------
    key : bytes or str
        The member's private key.
    chain_id : int
        The chain's id (EIP-155).
    votes_token : str
        The CommunityVotes address.
    delegatee : str
        Who receives the votes (the member itself to vote in person).
    nonce : int
        The member's current ``CommunityVotes.nonces`` (shared with ERC-2612 permits).
    expiry_s : int
        Last block timestamp at which the signature is valid [s since the Unix epoch].
    """
    types = {
        "Delegation": [
            {"name": "delegatee", "type": "address"},
            {"name": "nonce", "type": "uint256"},
            {"name": "expiry", "type": "uint256"},
        ]
    }
    message = {"delegatee": delegatee, "nonce": nonce, "expiry": expiry_s}
    domain = _domain(VOTES_DOMAIN_NAME, chain_id, votes_token)
    signed = Account.sign_typed_data(key, domain, types, message)
    return Delegation(
        delegator=Account.from_key(key).address,
        delegatee=delegatee,
        nonce=nonce,
        expiry_s=expiry_s,
        v=int(signed.v),
        r=int(signed.r).to_bytes(32, "big"),
        s=int(signed.s).to_bytes(32, "big"),
    )


def sign_ballot(
    key: bytes | str,
    *,
    chain_id: int,
    governor: str,
    proposal_id: int,
    support: Support,
    nonce: int,
) -> Ballot:
    """Sign the key's vote ``support`` on ``proposal_id``.

    ``nonce`` is the voter's current ``CommunityGovernor.nonces``; the other parameters as in
    :func:`sign_delegation`.
    """
    voter = Account.from_key(key).address
    types = {
        "Ballot": [
            {"name": "proposalId", "type": "uint256"},
            {"name": "support", "type": "uint8"},
            {"name": "voter", "type": "address"},
            {"name": "nonce", "type": "uint256"},
        ]
    }
    message = {"proposalId": proposal_id, "support": int(support), "voter": voter, "nonce": nonce}
    domain = _domain(GOVERNOR_DOMAIN_NAME, chain_id, governor)
    signed = Account.sign_typed_data(key, domain, types, message)
    return Ballot(proposal_id, Support(support), voter, bytes(signed.signature))
