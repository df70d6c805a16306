"""Participants' keys and addresses.

On the embedded chain a participant's key is derived from the run seed (:func:`participant_keys`
with ``from_seed``), so the same scenario and seed give the same addresses and bytes: worth it
on a chain that lives and dies with the run. Anyone who knows the seed knows those keys, so on
any RPC chain the keys are fresh (the OS's randomness), held in memory only, never printed nor
written to the run folder: only the addresses are.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from eth_keys import keys

from settlement.chain.merkle import keccak256

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def participant_private_key(owner: str, seed: int) -> bytes:
    """The 32-byte secp256k1 key of participant ``owner``: keccak256(tag, ``seed``, ``owner``).

    Deterministic (same owner and run seed in ``[0, 2**256)``: same key, on every chain) and
    distinct per owner. For simulation only: anyone who knows the seed knows the keys.
    """
    key = keccak256(b"gridtwin.participant" + seed.to_bytes(32, "big") + owner.encode())
    while not 0 < int.from_bytes(key, "big") < _SECP256K1_N:  # pragma: no cover - p ~ 2**-128
        key = keccak256(key)
    return key


def participant_addresses(owners: Sequence[str], seed: int) -> list[str]:
    """The checksummed address of each owner's :func:`participant_private_key`."""
    return [
        keys.PrivateKey(participant_private_key(owner, seed)).public_key.to_checksum_address()
        for owner in owners
    ]


def participant_keys(owners: Sequence[str], seed: int, *, from_seed: bool) -> list[bytes]:
    """Each owner's private key: :func:`participant_private_key` when ``from_seed`` (the
    embedded chain), else a fresh random key (any RPC chain)."""
    if from_seed:
        return [participant_private_key(owner, seed) for owner in owners]
    keys_ = []
    for _owner in owners:
        key = secrets.token_bytes(32)
        while not 0 < int.from_bytes(key, "big") < _SECP256K1_N:  # pragma: no cover
            key = secrets.token_bytes(32)
        keys_.append(key)
    return keys_


def key_address(key: bytes) -> str:
    """The checksummed address of private key ``key``."""
    return keys.PrivateKey(key).public_key.to_checksum_address()
