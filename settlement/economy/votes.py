"""CommunityVotes, the members' votes: minted once, in one transaction or in chunks, then sealed.

A community small enough has every member's votes minted in the contract's constructor, which
seals it. A community whose constructor would need more gas than one transaction may be
given (``chain.max_tx_gas``, at most 95 % of the block gas limit) deploys the contract empty
with the operator as its setup minter; the operator mints the members in ``mintChunk``
transactions, each within the budget, and then calls ``seal()``: after it nobody can mint or
burn, and the whole supply is fixed. The DAO's governor is deployed only after the seal
(:meth:`settlement.economy.dao.CommunityDao.deploy`), so no proposal sees a partial supply.
"""

from __future__ import annotations

from collections.abc import Sequence

from web3.contract import Contract

from settlement.chain.artifacts import Artifact
from settlement.chain.connection import Chain
from settlement.chain.errors import ChainError
from settlement.chain.roles import ZERO_ADDRESS

# Gas bounds, measured on eth-tester with room to spare (tests/test_economy_chain.py prints them).
_VOTES_GAS = (3_000_000, 80_000)  # deploy: base, per member
_MINT_CHUNK_GAS = 150_000  # mintChunk: base (plus _VOTES_GAS[1] per member)
_SEAL_GAS = 80_000


def votes_chunks(n_members: int, gas_budget: int) -> list[tuple[int, int]] | None:
    """How CommunityVotes is minted to ``n_members`` within ``gas_budget`` [gas] a
    transaction: None if the constructor mints them all, else the ``[lo, hi)`` member ranges
    of the ``mintChunk`` transactions (each within the budget). Raises ``ValueError`` if the
    budget fits not even one member a chunk."""
    if _VOTES_GAS[0] + _VOTES_GAS[1] * n_members <= gas_budget:
        return None
    per_tx = (gas_budget - _MINT_CHUNK_GAS) // _VOTES_GAS[1]
    if per_tx < 1 or gas_budget < _VOTES_GAS[0]:
        need = max(_VOTES_GAS[0], _MINT_CHUNK_GAS + _VOTES_GAS[1])
        raise ValueError(
            f"chain.max_tx_gas: a budget of {gas_budget:,} gas a transaction fits no"
            f" CommunityVotes transaction (its deploy needs {need:,}): raise chain.max_tx_gas"
            " or set economy.enabled = false"
        )
    return [(lo, min(lo + per_tx, n_members)) for lo in range(0, n_members, per_tx)]


def deploy_votes(
    chain: Chain,
    artifact: Artifact,
    holders: Sequence[str],
    amounts: Sequence[int],
    gas_budget: int,
) -> Contract:
    """Deploy CommunityVotes with ``amounts[i]`` votes to ``holders[i]``, sealed, no
    transaction given more than ``gas_budget`` [gas]; raises :class:`ChainError` unless the
    contract is sealed with exactly the members' votes."""
    chunks = votes_chunks(len(holders), gas_budget)
    if chunks is None:  # one transaction: minted and sealed in the constructor
        gas = _VOTES_GAS[0] + _VOTES_GAS[1] * len(holders)
        token = chain.deploy_contract(artifact, list(holders), list(amounts), ZERO_ADDRESS, gas=gas)
    else:  # the operator mints chunk after chunk, then seals
        token = chain.deploy_contract(artifact, [], [], chain.operator, gas=_VOTES_GAS[0])
        for lo, hi in chunks:
            gas = _MINT_CHUNK_GAS + _VOTES_GAS[1] * (hi - lo)
            args = [list(holders[lo:hi]), list(amounts[lo:hi])]
            chain.transact(token, "mintChunk", args, gas=gas)
        chain.transact(token, "seal", [], gas=_SEAL_GAS)
    sealed = chain.call(token, "isSealed")
    if not sealed or int(chain.call(token, "totalSupply")) != sum(amounts):
        raise ChainError("CommunityVotes: not sealed with the members' votes")
    return token
