"""secp256k1 with coincurve: a key's address, and 65-byte recoverable signatures of digests.

Signatures are ``r || s || v`` with ``v`` in {27, 28} and low ``s`` (libsecp256k1, RFC 6979),
equal byte for byte to eth-account's; recovery accepts what OpenZeppelin's ``ECDSA.recover``
accepts.

A signature made here is recovered later by the journal from the same bytes: what
:func:`sign_digest` signs is kept (:data:`_SIGNED`: digest and signature, the signer's
address), and :func:`recover_signer` of exactly those bytes, after the same checks of ``v``,
``r`` and ``s``, is a lookup; any other bytes (a changed digest, a forged or altered
signature) are recovered in full.
"""

from __future__ import annotations

from functools import lru_cache

import coincurve
from eth_utils import to_checksum_address

from settlement.chain.merkle import keccak256

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of secp256k1: a private key lies in ``[1, n)``."""
_HALF_N = SECP256K1_N // 2


@lru_cache(maxsize=2**16)
def signing_key(private_key: bytes) -> coincurve.PrivateKey:
    """coincurve's key object, kept: building one costs a point multiplication (~60 us)."""
    return coincurve.PrivateKey(private_key)


def key_address(private_key: bytes) -> str:
    """The checksummed Ethereum address of a 32-byte private key."""
    public = signing_key(private_key).public_key.format(compressed=False)
    return to_checksum_address(keccak256(public[1:])[-20:])


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address (``0x`` + 40 hex digits, any case)."""
    text = str(address)
    if len(text) != 42 or not text.startswith(("0x", "0X")):
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    return bytes.fromhex(text[2:])


@lru_cache(maxsize=2**16)
def _signer(private_key: bytes) -> bytes:
    """The 20-byte address of a private key."""
    public = signing_key(private_key).public_key.format(compressed=False)
    return keccak256(public[1:])[-20:]


#: Signer address of each (digest ++ signature) signed here and not yet recovered; past
#: :data:`_MAX_SIGNED` it starts over (what is dropped is recovered in full).
_SIGNED: dict[bytes, bytes] = {}
_MAX_SIGNED = 200_000


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """Sign a 32-byte digest: 65 bytes ``r || s || v``, ``v`` in {27, 28} (as eth-account)."""
    raw = signing_key(private_key).sign_recoverable(digest, hasher=None)
    signature = raw[:64] + bytes([raw[64] + 27])
    if len(_SIGNED) >= _MAX_SIGNED:
        _SIGNED.clear()
    _SIGNED[bytes(digest) + signature] = _signer(private_key)
    return signature


def recover_signer(digest: bytes, signature: bytes) -> bytes | None:
    """The 20-byte address that signed ``digest``, or None if ``signature`` is not valid.

    Valid as OpenZeppelin's ``ECDSA.recover`` sees it: 65 bytes, ``v`` in {27, 28},
    ``0 < r < n`` and ``0 < s <= n / 2`` (no malleable high-``s`` twin).
    """
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= _HALF_N):
        return None
    signed = _SIGNED.pop(bytes(digest) + bytes(signature), None)
    if signed is not None:  # these very bytes were signed here: their signer
        return signed
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except Exception:  # libsecp256k1: no point recovers from this signature
        return None
    return keccak256(public.format(compressed=False)[1:])[-20:]
