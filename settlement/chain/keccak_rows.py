"""keccak-256 of many rows at once, and OpenZeppelin's sorted-pair Merkle tree over them,
compiled with numba.

A Merkle tree of a day's readings or a week's trades is tens of thousands of keccak-256 hashes
of 32 to 192 bytes each; one call of pysha3 per hash costs more in the interpreter than in the
hash. Here a whole column of equal-length rows, or a whole tree, is one compiled call. The
permutation is Keccak-f[1600] as its reference specifies it (FIPS 202, section 3.2), with
Ethereum's keccak-256 parameters (rate 136 bytes, padding ``0x01 ... 0x80``); its round is
written out lane by lane so that the 25 lanes stay in registers. The digests are byte for byte
pysha3's (tested against it and, through :mod:`settlement.chain.merkle`, against
OpenZeppelin's ``MerkleProof``).

Rows are read as little-endian 64-bit lanes, so a row is a whole number of lanes
(``row % 8 == 0``: the leaves' 32, 96 and 192 bytes are); any other length is refused.
Compiled functions are cached on disk (numba's ``cache=True``): the first run on a machine
compiles them once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np
import numpy.typing as npt

__all__ = ["keccak_rows", "leaf_rows", "tree_nodes", "tree_roots"]

_RATE_LANES = 17  # 136 bytes
_DIGEST_LANES = 4  # 32 bytes

#: The round constants of iota, one per round.
_ROUND_CONSTANTS = np.array(
    [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ],
    dtype=np.uint64,
)  # fmt: skip

U64Array = npt.NDArray[np.uint64]
I64Array = npt.NDArray[np.int64]


@nb.njit(inline="always")
def _rotl(x: np.uint64, n: int) -> np.uint64:
    s = np.uint64(n)
    return (x << s) | (x >> (np.uint64(64) - s))


@nb.njit(cache=True)
def _permute(s: U64Array, rcs: U64Array) -> None:
    """Keccak-f[1600] on the 25 lanes ``s`` (lane ``x + 5 y``), in place."""
    a0 = s[0]
    a1 = s[1]
    a2 = s[2]
    a3 = s[3]
    a4 = s[4]
    a5 = s[5]
    a6 = s[6]
    a7 = s[7]
    a8 = s[8]
    a9 = s[9]
    a10 = s[10]
    a11 = s[11]
    a12 = s[12]
    a13 = s[13]
    a14 = s[14]
    a15 = s[15]
    a16 = s[16]
    a17 = s[17]
    a18 = s[18]
    a19 = s[19]
    a20 = s[20]
    a21 = s[21]
    a22 = s[22]
    a23 = s[23]
    a24 = s[24]
    for rc in rcs:
        # theta: each lane takes the parities of two neighbouring columns
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ _rotl(c1, 1)
        d1 = c0 ^ _rotl(c2, 1)
        d2 = c1 ^ _rotl(c3, 1)
        d3 = c2 ^ _rotl(c4, 1)
        d4 = c3 ^ _rotl(c0, 1)
        # rho and pi: lane (x, y) rotated by its offset moves to (y, 2 x + 3 y)
        b0 = a0 ^ d0
        b1 = _rotl(a6 ^ d1, 44)
        b2 = _rotl(a12 ^ d2, 43)
        b3 = _rotl(a18 ^ d3, 21)
        b4 = _rotl(a24 ^ d4, 14)
        b5 = _rotl(a3 ^ d3, 28)
        b6 = _rotl(a9 ^ d4, 20)
        b7 = _rotl(a10 ^ d0, 3)
        b8 = _rotl(a16 ^ d1, 45)
        b9 = _rotl(a22 ^ d2, 61)
        b10 = _rotl(a1 ^ d1, 1)
        b11 = _rotl(a7 ^ d2, 6)
        b12 = _rotl(a13 ^ d3, 25)
        b13 = _rotl(a19 ^ d4, 8)
        b14 = _rotl(a20 ^ d0, 18)
        b15 = _rotl(a4 ^ d4, 27)
        b16 = _rotl(a5 ^ d0, 36)
        b17 = _rotl(a11 ^ d1, 10)
        b18 = _rotl(a17 ^ d2, 15)
        b19 = _rotl(a23 ^ d3, 56)
        b20 = _rotl(a2 ^ d2, 62)
        b21 = _rotl(a8 ^ d3, 55)
        b22 = _rotl(a14 ^ d4, 39)
        b23 = _rotl(a15 ^ d0, 41)
        b24 = _rotl(a21 ^ d1, 2)
        # chi, then iota
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rc
    s[0] = a0
    s[1] = a1
    s[2] = a2
    s[3] = a3
    s[4] = a4
    s[5] = a5
    s[6] = a6
    s[7] = a7
    s[8] = a8
    s[9] = a9
    s[10] = a10
    s[11] = a11
    s[12] = a12
    s[13] = a13
    s[14] = a14
    s[15] = a15
    s[16] = a16
    s[17] = a17
    s[18] = a18
    s[19] = a19
    s[20] = a20
    s[21] = a21
    s[22] = a22
    s[23] = a23
    s[24] = a24


@nb.njit(cache=True)
def _absorb(s: U64Array, lanes: U64Array, rcs: U64Array) -> None:
    """Hash one message of whole lanes into a fresh state ``s`` (the digest: its lanes 0-3)."""
    s[:] = 0
    n = len(lanes)
    j = 0
    while n - j >= _RATE_LANES:
        for t in range(_RATE_LANES):
            s[t] ^= lanes[j + t]
        _permute(s, rcs)
        j += _RATE_LANES
    for t in range(n - j):
        s[t] ^= lanes[j + t]
    s[n - j] ^= np.uint64(0x01)  # keccak's padding, first and last byte of the block
    s[_RATE_LANES - 1] ^= np.uint64(0x8000000000000000)
    _permute(s, rcs)


@nb.njit(cache=True, nogil=True)
def _hash_rows(rows: U64Array, out: U64Array, rcs: U64Array) -> None:
    s = np.empty(25, np.uint64)
    for i in range(rows.shape[0]):
        _absorb(s, rows[i], rcs)
        out[i, :] = s[:_DIGEST_LANES]


@nb.njit(inline="always")
def _bswap(x: np.uint64) -> np.uint64:
    x = ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)) | (
        (x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)
    )
    x = ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)) | (
        (x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)
    )
    return (x << np.uint64(32)) | (x >> np.uint64(32))


@nb.njit(cache=True, nogil=True)
def _fill_tree(tree: U64Array, rcs: U64Array) -> None:
    """Nodes ``n - 2`` down to 0 of a flat tree whose last ``n`` rows hold the leaves."""
    s = np.empty(25, np.uint64)
    pair = np.empty(2 * _DIGEST_LANES, np.uint64)
    for i in range(tree.shape[0] // 2 - 1, -1, -1):
        left, right = tree[2 * i + 1], tree[2 * i + 2]
        swap = False  # the smaller node first, bytes compared as the big-endian words they are
        for t in range(_DIGEST_LANES):
            a, b = _bswap(left[t]), _bswap(right[t])
            if a != b:
                swap = bool(b < a)
                break
        first, second = (right, left) if swap else (left, right)
        pair[:_DIGEST_LANES] = first
        pair[_DIGEST_LANES:] = second
        _absorb(s, pair, rcs)
        tree[i, :] = s[:_DIGEST_LANES]


@nb.njit(cache=True, nogil=True)
def _fill_roots(leaves: U64Array, ends: I64Array, out: U64Array, rcs: U64Array) -> None:
    """The root of each tree whose leaves are ``leaves[ends[i - 1]:ends[i]]`` into ``out[i]``."""
    start = 0
    for i in range(len(ends)):
        n = ends[i] - start
        if n == 0:
            out[i, :] = 0  # EMPTY_ROOT
        else:
            tree = np.empty((2 * n - 1, _DIGEST_LANES), np.uint64)
            tree[n - 1 :] = leaves[start : ends[i]][::-1]
            _fill_tree(tree, rcs)
            out[i, :] = tree[0]
        start = ends[i]


#: Rows from which a column is hashed in two halves on two threads (the kernels release the
#: GIL); below it a thread's hand-over costs more than it saves.
_SPLIT_ROWS = 2048
#: The second thread, and the process it belongs to: a child forked from this process has
#: no such thread, and builds its own (else it would wait for it forever).
_POOL: tuple[int, ThreadPoolExecutor] | None = None
_TWO_CORES = (os.cpu_count() or 1) >= 2


def _halves(n: int, run: Callable[[int, int], None], rows: int) -> None:
    """``run(0, n)``, as ``run(0, m)`` and ``run(m, n)`` on two threads when there are
    ``rows`` >= ``_SPLIT_ROWS`` to hash and the machine has a second core."""
    global _POOL
    if n < 2 or rows < _SPLIT_ROWS or not _TWO_CORES:
        run(0, n)
        return
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="keccak"))
    half = _POOL[1].submit(run, n // 2, n)
    run(0, n // 2)
    half.result()


def _lanes(data: bytes, row: int) -> U64Array:
    if row <= 0 or row % 8 or len(data) % row:
        raise ValueError(f"rows of {row} bytes must be whole lanes and tile {len(data)} bytes")
    lanes = np.frombuffer(data, dtype="<u8").astype(np.uint64, copy=False)
    return lanes.reshape(len(data) // row, row // 8)


def _bytes(lanes: U64Array) -> bytes:
    return lanes.astype("<u8", copy=False).tobytes()


def keccak_rows(data: bytes, row: int) -> bytes:
    """keccak-256 of each ``row``-byte row of ``data``, the 32-byte digests concatenated.

    Raises
    ------
    ValueError
        When ``row`` is not a positive multiple of 8 bytes or does not tile ``data``.
    """
    rows = _lanes(data, row)
    out = np.empty((len(rows), _DIGEST_LANES), np.uint64)
    _halves(len(rows), lambda a, b: _hash_rows(rows[a:b], out[a:b], _ROUND_CONSTANTS), len(rows))
    return _bytes(out)


def leaf_rows(data: bytes, row: int) -> bytes:
    """OpenZeppelin ``StandardMerkleTree`` leaves, ``keccak256(keccak256(r))`` of each
    ``row``-byte row ``r`` of ``data`` (an ``abi.encode``), concatenated."""
    return keccak_rows(keccak_rows(data, row), 32)


def tree_nodes(leaves: bytes) -> bytes:
    """The flat tree of :func:`settlement.chain.merkle.merkle_tree` over the concatenated
    32-byte ``leaves``: ``2 n - 1`` nodes, root first, leaf ``k`` at ``2 n - 2 - k``."""
    lanes = _lanes(leaves, 32)
    n = len(lanes)
    if n == 0:
        return b""
    tree = np.empty((2 * n - 1, _DIGEST_LANES), np.uint64)
    tree[n - 1 :] = lanes[::-1]
    _fill_tree(tree, _ROUND_CONSTANTS)
    return _bytes(tree)


def tree_roots(leaves: bytes, sizes: npt.NDArray[np.int64]) -> bytes:
    """The roots of several trees (as :func:`tree_nodes`'s first node; 32 zero bytes for no
    leaf) whose concatenated 32-byte leaves are ``leaves``, ``sizes[i]`` leaves each, in order;
    the roots concatenated.

    Raises
    ------
    ValueError
        When the sizes do not sum to the number of leaves.
    """
    lanes = _lanes(leaves, 32)
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64))
    total = int(ends[-1]) if len(ends) else 0
    if total != len(lanes):
        raise ValueError(f"tree sizes sum to {total}, not {len(lanes)}")
    out = np.empty((len(ends), _DIGEST_LANES), np.uint64)

    def run(a: int, b: int) -> None:
        first = int(ends[a - 1]) if a else 0
        _fill_roots(lanes[first:], ends[a:b] - first, out[a:b], _ROUND_CONSTANTS)

    _halves(len(ends), run, len(lanes))
    return _bytes(out)
