"""Participants' keys and addresses: derived from the run seed, the same on every chain."""

from __future__ import annotations

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
