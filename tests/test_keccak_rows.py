"""The compiled keccak-256 of many rows, and its Merkle tree, against pysha3 and node by node."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import sha3

from settlement.chain.keccak_rows import keccak_rows, leaf_rows, tree_nodes, tree_roots
from settlement.chain.merkle import hash_pair


def pysha3_rows(data: bytes, row: int) -> bytes:
    return b"".join(sha3.keccak_256(data[i : i + row]).digest() for i in range(0, len(data), row))


@pytest.mark.parametrize("row", range(8, 8 * 36 + 1, 8))  # one, two and three blocks of 136 bytes
def test_each_row_hashes_as_pysha3_hashes_it(row: int) -> None:
    data = np.random.default_rng(row).integers(0, 256, 7 * row, dtype=np.uint8).tobytes()
    assert keccak_rows(data, row) == pysha3_rows(data, row)
    assert leaf_rows(data, row) == pysha3_rows(pysha3_rows(data, row), 32)


def test_no_rows_no_digests_and_rows_that_are_not_whole_lanes_are_refused() -> None:
    assert keccak_rows(b"", 96) == b""
    assert tree_nodes(b"") == b""
    with pytest.raises(ValueError, match="12 bytes"):
        keccak_rows(bytes(24), 12)
    with pytest.raises(ValueError, match="100 bytes"):
        keccak_rows(bytes(100), 32)


def test_the_tree_is_the_sorted_pair_tree_node_by_node_equal_siblings_included() -> None:
    rng = np.random.default_rng(3)
    for n in [1, 2, 3, 4, 5, 63, 64, 65, 200]:
        leaves = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(n)]
        leaves[n // 2 :: 3] = [leaves[0]] * len(leaves[n // 2 :: 3])  # equal siblings too
        tree = [b""] * (n - 1) + list(reversed(leaves))
        for i in range(n - 2, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        assert tree_nodes(b"".join(leaves)) == b"".join(tree)


def test_many_trees_roots_at_once_whatever_the_threads_split() -> None:
    rng = np.random.default_rng(5)
    for sizes in ([], [0], [1], [96] * 66, [0, 3, 96, 0, 1, 500] * 20, [5000, 1]):
        leaves = rng.integers(0, 256, 32 * sum(sizes), dtype=np.uint8).tobytes()
        roots, start = [], 0
        for n in sizes:
            roots.append(tree_nodes(leaves[start : start + 32 * n])[:32] or bytes(32))
            start += 32 * n
        assert tree_roots(leaves, np.array(sizes, dtype=np.int64)) == b"".join(roots)
    with pytest.raises(ValueError, match="sum to 2, not 3"):
        tree_roots(bytes(96), np.array([1, 1]))


def test_a_column_hashed_in_two_halves_is_the_column_hashed_at_once() -> None:
    data = np.random.default_rng(6).integers(0, 256, 5001 * 96, dtype=np.uint8).tobytes()
    assert keccak_rows(data, 96) == pysha3_rows(data, 96)  # 5,001 rows: split on two threads


def _hash_in_child(data: bytes, queue: multiprocessing.Queue) -> None:
    queue.put(keccak_rows(data, 96))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_process_forked_after_hashing_on_two_threads_hashes_on_its_own() -> None:
    data = np.random.default_rng(8).integers(0, 256, 4096 * 96, dtype=np.uint8).tobytes()
    want = keccak_rows(data, 96)  # the parent's second thread is running now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_hash_in_child, args=(data, queue), daemon=True)
    child.start()
    try:
        got = queue.get(timeout=30)  # the child's own thread, not the parent's, which it lacks
    finally:
        child.kill()
        child.join(timeout=10)
    assert got == want
