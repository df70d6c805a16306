"""Trade leaves, Merkle trees and proofs, hashed exactly as the Settlement contract hashes them.

The conventions are OpenZeppelin's, so that ``MerkleProof`` on-chain and the
``@openzeppelin/merkle-tree`` JavaScript library off-chain agree with this module bit for bit:

- **Leaf** of a trade: ``keccak256(keccak256(abi.encode(batchId, tradeId, seller, buyer,
  energyWh, paymentMicroEur)))`` with the Solidity types ``(uint256, uint256, address, address,
  uint256, uint256)``. The double hash keeps a leaf (a hash of 32 bytes) from ever being read as
  an internal node (a hash of 64 bytes). ``Settlement.tradeLeaf`` computes the same on-chain.
- **Internal node**: ``keccak256(min(a, b) ++ max(a, b))``, the sorted ("commutative") pair hash of
  ``MerkleProof``, so a proof is a plain list of sibling hashes, without left/right flags.
- **Tree shape**: the one of OpenZeppelin's ``StandardMerkleTree.of(values, types,
  {sortLeaves: false})``: a complete binary tree stored as an array of ``2 n - 1`` nodes, node
  ``i`` with children ``2 i + 1`` and ``2 i + 2``, leaf ``k`` (in the given order) at position
  ``2 n - 2 - k``. Leaves keep the order given (trade order), which makes a trade's index in its
  batch the index of its leaf.
- **One leaf**: the root is the leaf itself and its proof is empty.
- **No leaf**: the root is 32 zero bytes (:data:`EMPTY_ROOT`); no leaf verifies against it, as
  ``Settlement.verifyTrade`` returns false for a batch whose root is zero.

Fields are integers: energy in Wh, payment in micro-euro (the EnergyCredit base unit). Each
per-trade integer must lie in ``[0, 2**64)``; the batch id in ``[0, 2**256)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from settlement.chain.keccak_rows import leaf_rows, tree_nodes

__all__ = [
    "EMPTY_ROOT",
    "RootMemo",
    "hash_pair",
    "keccak256",
    "merkle_proof",
    "merkle_root",
    "merkle_tree",
    "multiproof",
    "trade_leaves",
    "tree_proof",
    "verify_proof",
]

IntColumn = Sequence[int] | npt.NDArray[np.integer[Any]]
"""A column of integers: a sequence of Python ints or a NumPy integer array."""

EMPTY_ROOT = bytes(32)
"""Root of a tree with no leaf (32 zero bytes)."""

_WORD = 32
_FIELDS = 6  # batchId, tradeId, seller, buyer, energyWh, paymentMicroEur


def _pick_keccak() -> Callable[[bytes], bytes]:
    """The fastest keccak-256 at hand for one message: pysha3 (~1 us a hash) if installed,
    else eth-hash. Many rows at once: :mod:`settlement.chain.keccak_rows`."""
    try:
        import sha3  # safe-pysha3, installed with eth-tester[py-evm]
    except ImportError:  # pragma: no cover - depends on the environment
        from eth_hash.auto import keccak as eth_keccak

        return eth_keccak

    keccak_256 = sha3.keccak_256

    def pysha3_keccak(data: bytes) -> bytes:
        return bytes(keccak_256(data).digest())

    return pysha3_keccak


keccak256: Callable[[bytes], bytes] = _pick_keccak()
"""keccak-256 (Ethereum's, not NIST SHA3-256) of ``data``, 32 bytes."""


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Hash two nodes as ``MerkleProof``'s commutative hash: keccak256 of the sorted pair.

    Parameters
    ----------
    a, b : bytes
        Two 32-byte nodes.

    Returns
    -------
    bytes
        The parent node, 32 bytes; ``hash_pair(a, b) == hash_pair(b, a)``.
    """
    return keccak256(a + b if a <= b else b + a)


def _uint64_column(name: str, values: IntColumn, n: int) -> npt.NDArray[np.uint64]:
    """``values`` as ``n`` unsigned 64-bit integers; floats, negatives and overflow fail."""
    if isinstance(values, np.ndarray):
        array = values
    else:  # a plain sequence of Python ints: NumPy would guess float64 for [0, 2**63]
        items = list(values)
        if not all(isinstance(v, int | np.integer) for v in items):
            raise TypeError(f"{name}: integers required (Wh, micro-euro, ids)")
        try:
            array = np.array(items, dtype=np.uint64)
        except OverflowError as exc:
            raise ValueError(f"{name}: every value must lie in [0, 2**64)") from exc
    if array.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: integers required (Wh, micro-euro, ids), got {array.dtype}")
    if array.dtype.kind == "i" and n and int(array.min()) < 0:
        raise ValueError(f"{name}: every value must lie in [0, 2**64), got {int(array.min())}")
    return array.astype(np.uint64)


def _address_column(name: str, addresses: Sequence[str], n: int) -> npt.NDArray[np.uint8]:
    """``n`` hex addresses (``0x`` + 40 hex digits, any case) as an ``(n, 20)`` byte array."""
    if len(addresses) != n:
        raise ValueError(f"{name}: expected {n} addresses, got {len(addresses)}")
    cache: dict[str, bytes] = dict.fromkeys(addresses, b"")  # each distinct one, in order
    for address in cache:
        text = str(address)
        if len(text) != 42 or not text.startswith(("0x", "0X")):
            raise ValueError(f"{name}: not a 20-byte hex address: {address!r}")
        try:
            cache[address] = bytes.fromhex(text[2:])
        except ValueError as exc:
            raise ValueError(f"{name}: not a 20-byte hex address: {address!r}") from exc
    joined = b"".join(map(cache.__getitem__, addresses))
    return np.frombuffer(joined, dtype=np.uint8).reshape(n, 20)


def trade_leaves(
    batch_id: int,
    trade_ids: IntColumn,
    sellers: Sequence[str],
    buyers: Sequence[str],
    energy_wh: IntColumn,
    payment_micro_eur: IntColumn,
) -> list[bytes]:
    """The Merkle leaves of a batch's trades, as ``Settlement.tradeLeaf`` computes them.

    ``abi.encode`` of six static values is six 32-byte big-endian words (an address sits in the
    low 20 bytes of its word); the words are laid out with NumPy for the whole batch at once,
    then each 192-byte row is hashed twice.

    Parameters
    ----------
    batch_id : int
        The batch the trades belong to, in ``[0, 2**256)``.
    trade_ids : array_like of int
        One id per trade, in ``[0, 2**64)``.
    sellers, buyers : sequence of str
        The seller's and the buyer's account address per trade (``0x`` + 40 hex digits).
    energy_wh : array_like of int
        Energy per trade [Wh], in ``[0, 2**64)``.
    payment_micro_eur : array_like of int
        What the buyer pays the seller per trade [micro-euro], in ``[0, 2**64)``.

    Returns
    -------
    list of bytes
        One 32-byte leaf per trade, in the order given.

    Raises
    ------
    ValueError
        If the lengths differ, an address is malformed or an integer is out of range.
    TypeError
        If an integer column holds floats.
    """
    if not 0 <= batch_id < 2**256:
        raise ValueError(f"batch_id must lie in [0, 2**256), got {batch_id}")
    n = len(sellers)
    words = np.zeros((n, _FIELDS, _WORD), dtype=np.uint8)
    words[:, 0, :] = np.frombuffer(int(batch_id).to_bytes(_WORD, "big"), dtype=np.uint8)
    columns: list[tuple[int, str, IntColumn]] = [
        (1, "trade_ids", trade_ids),
        (4, "energy_wh", energy_wh),
        (5, "payment_micro_eur", payment_micro_eur),
    ]
    for field, name, values in columns:
        column = _uint64_column(name, values, n).astype(">u8")
        words[:, field, _WORD - 8 :] = column.view(np.uint8).reshape(n, 8)
    words[:, 2, _WORD - 20 :] = _address_column("sellers", sellers, n)
    words[:, 3, _WORD - 20 :] = _address_column("buyers", buyers, n)
    return split_words(leaf_rows(words.tobytes(), _FIELDS * _WORD))


def split_words(data: bytes) -> list[bytes]:
    """``data`` cut into its 32-byte words, in order."""
    return [data[i : i + _WORD] for i in range(0, len(data), _WORD)]


def merkle_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """The whole tree as OpenZeppelin's flat array: root first, leaf ``k`` at ``2 n - 2 - k``.

    Parameters
    ----------
    leaves : sequence of bytes
        32-byte leaves, in order.

    Returns
    -------
    list of bytes
        ``2 n - 1`` nodes (empty for no leaf); node ``i`` has children ``2 i + 1``, ``2 i + 2``.
    """
    return split_words(_tree_bytes(leaves))


def _tree_bytes(leaves: Sequence[bytes]) -> bytes:
    """:func:`merkle_tree`'s nodes, concatenated (one compiled call: keccak_rows.tree_nodes)."""
    if set(map(len, leaves)) - {_WORD}:
        got = next(len(leaf) for leaf in leaves if len(leaf) != _WORD)
        raise ValueError(f"a leaf must be 32 bytes, got {got}")
    return tree_nodes(b"".join(leaves))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle root of ``leaves`` (:data:`EMPTY_ROOT` for none, the leaf itself for one).

    Parameters
    ----------
    leaves : sequence of bytes
        32-byte leaves, in order.

    Returns
    -------
    bytes
        The 32-byte root.
    """
    return _tree_bytes(leaves)[:_WORD] or EMPTY_ROOT


def tree_proof(tree: Sequence[bytes], index: int) -> list[bytes]:
    """The proof of leaf ``index`` from a tree built by :func:`merkle_tree` (no rehashing).

    Parameters
    ----------
    tree : sequence of bytes
        The flat tree of :func:`merkle_tree`.
    index : int
        Position of the leaf in the leaves the tree was built from.

    Returns
    -------
    list of bytes
        Sibling hashes from the leaf up to (not including) the root.
    """
    n = (len(tree) + 1) // 2
    if not 0 <= index < n:
        raise IndexError(f"leaf index {index} out of range for {n} leaves")
    position = len(tree) - 1 - index
    proof = []
    while position > 0:
        proof.append(tree[position + 1 if position % 2 else position - 1])
        position = (position - 1) // 2
    return proof


def multiproof(tree: Sequence[bytes], indices: Sequence[int]) -> tuple[list[bytes], list[bool]]:
    """A multiproof of leaves ``indices`` in ``tree``, as OpenZeppelin's ``getMultiProof``.

    Parameters
    ----------
    tree : sequence of bytes
        The flat tree of :func:`merkle_tree`.
    indices : sequence of int
        Distinct leaf positions; ``MerkleProof.multiProofVerify`` then takes their leaves in
        ascending position order.

    Returns
    -------
    proof, proof_flags : list of bytes, list of bool
        The sibling hashes the leaves do not provide; per hashing step, True to take the next
        hash from the leaves and computed hashes, False to take it from ``proof``.
    """
    n = (len(tree) + 1) // 2
    if not indices or len(set(indices)) != len(indices):
        raise ValueError("a multiproof needs distinct leaf indices, at least one")
    if not all(0 <= i < n for i in indices):
        raise IndexError(f"leaf index out of range for {n} leaves")
    stack = sorted((len(tree) - 1 - i for i in indices), reverse=True)
    proof, flags = list[bytes](), list[bool]()
    head = 0  # a queue: stack[head:] are the nodes still to hash
    while head < len(stack) and stack[head] > 0:
        j = stack[head]
        head += 1
        sibling = j + 1 if j % 2 else j - 1
        if head < len(stack) and stack[head] == sibling:
            flags.append(True)
            head += 1
        else:
            flags.append(False)
            proof.append(tree[sibling])
        stack.append((j - 1) // 2)
    return proof, flags


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The proof that ``leaves[index]`` is in the tree of ``leaves``.

    Parameters
    ----------
    leaves : sequence of bytes
        32-byte leaves, in order.
    index : int
        Position of the leaf to prove.

    Returns
    -------
    list of bytes
        Sibling hashes, leaf to root; empty for a one-leaf tree. For many proofs of one batch,
        build the tree once with :func:`merkle_tree` and call :func:`tree_proof`.
    """
    return tree_proof(merkle_tree(leaves), index)


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` proves ``leaf`` under ``root``, as ``MerkleProof.verify`` decides.

    Parameters
    ----------
    root : bytes
        The 32-byte root; :data:`EMPTY_ROOT` proves nothing.
    leaf : bytes
        The 32-byte leaf.
    proof : sequence of bytes
        Sibling hashes, leaf to root.

    Returns
    -------
    bool
        True if hashing ``leaf`` up through ``proof`` gives ``root``.
    """
    if root == EMPTY_ROOT:
        return False
    node = bytes(leaf)
    for sibling in proof:
        node = hash_pair(node, bytes(sibling))
    return node == bytes(root)


class RootMemo:
    """Merkle roots of byte strings already hashed once, looked up by a BLAKE2b digest.

    A device computes the root of its readings; the journal later derives it again from the
    readings it receives. The same bytes give the same root, so the second derivation is a
    lookup, while bytes changed on the way (a tampered reading) miss and are hashed in full.
    What is kept is whatever ``compute`` derives from the bytes alone: a root, or a root and
    the leaves under it.
    An entry is handed out once and then dropped; past ``max_entries`` the memo starts over.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._roots: dict[bytes, bytes] = {}

    def root(self, data: bytes, compute: Callable[[bytes], bytes]) -> bytes:
        """``compute(data)``, or its result when ``data`` was seen before (once)."""
        return self.roots([data], lambda items: [compute(items[0])])[0]

    def roots(
        self, items: Sequence[bytes], compute: Callable[[list[bytes]], list[bytes]]
    ) -> list[bytes]:
        """:meth:`root` of each of ``items``; those not seen before are derived together, in
        one call of ``compute`` (a list of byte strings to a list of results, in order)."""
        keys = [hashlib.blake2b(data, digest_size=32).digest() for data in items]
        found = [self._roots.pop(key, None) for key in keys]
        missing = [i for i, root in enumerate(found) if root is None]
        derived = compute([items[i] for i in missing]) if missing else []
        for i, root in zip(missing, derived, strict=True):
            found[i] = root
            if len(self._roots) >= self.max_entries:
                self._roots.clear()
            self._roots[keys[i]] = root
        return [root for root in found if root is not None]
