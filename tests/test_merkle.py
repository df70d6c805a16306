"""Trade leaves, roots and proofs: against eth_abi, against OpenZeppelin's JS library, and edges."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.chain import merkle

CONTRACTS = Path(__file__).resolve().parent.parent / "settlement" / "chain" / "contracts"
TYPES = ["uint256", "uint256", "address", "address", "uint256", "uint256"]


def reference_leaf(
    batch_id: int, trade_id: int, seller: str, buyer: str, energy_wh: int, payment: int
) -> bytes:
    """The leaf the slow, obviously right way: eth_abi's encoder and eth-hash."""
    values = [batch_id, trade_id, seller, buyer, energy_wh, payment]
    return keccak(keccak(encode(TYPES, values)))


def random_trades(n: int, seed: int = 0, accounts: int = 20) -> dict[str, list]:
    """``n`` random trades among ``accounts`` random addresses."""
    rng = np.random.default_rng(seed)
    pool = ["0x" + bytes(rng.integers(0, 256, 20, dtype=np.uint8)).hex() for _ in range(accounts)]
    return {
        "trade_ids": [int(x) for x in rng.integers(0, 2**63, n, dtype=np.int64)],
        "sellers": [pool[i] for i in rng.integers(0, accounts, n)],
        "buyers": [pool[i] for i in rng.integers(0, accounts, n)],
        "energy_wh": [int(x) for x in rng.integers(0, 10**7, n)],
        "payment_micro_eur": [int(x) for x in rng.integers(0, 10**9, n)],
    }


def leaves_of(batch_id: int, trades: dict[str, list]) -> list[bytes]:
    return merkle.trade_leaves(batch_id, **trades)


addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint64 = st.integers(0, 2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(
    batch_id=st.integers(0, 2**256 - 1),
    rows=st.lists(st.tuples(uint64, addresses, addresses, uint64, uint64), max_size=8),
)
def test_leaves_equal_eth_abi_encoding(batch_id: int, rows: list[tuple]) -> None:
    trade_ids, sellers, buyers, energy, payment = (
        (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    )
    got = merkle.trade_leaves(batch_id, trade_ids, sellers, buyers, energy, payment)
    assert got == [reference_leaf(batch_id, *row) for row in rows]


def test_leaves_accept_numpy_columns_and_any_address_case() -> None:
    trades = random_trades(50, seed=1)
    plain = leaves_of(3, trades)
    as_numpy = {
        k: (np.asarray(v, dtype=np.int64) if k not in ("sellers", "buyers") else v)
        for k, v in trades.items()
    }
    as_numpy["sellers"] = [a.upper().replace("0X", "0x") for a in trades["sellers"]]
    assert leaves_of(3, as_numpy) == plain
    assert leaves_of(4, trades) != plain  # the batch id is part of every leaf


@pytest.mark.parametrize(
    ("column", "bad", "error"),
    [
        ("energy_wh", [1.5], TypeError),
        ("energy_wh", [-1], ValueError),
        ("payment_micro_eur", [2**64], ValueError),
        ("trade_ids", [1, 2], ValueError),
        ("sellers", ["0x1234"], ValueError),
        ("buyers", ["0x" + "zz" * 20], ValueError),
    ],
)
def test_bad_trades_are_refused(column: str, bad: list, error: type[Exception]) -> None:
    trades = random_trades(1)
    trades[column] = bad
    with pytest.raises(error):
        leaves_of(1, trades)


def test_empty_and_single_leaf_trees() -> None:
    assert merkle.merkle_root([]) == merkle.EMPTY_ROOT == bytes(32)
    assert merkle.trade_leaves(1, [], [], [], [], []) == []
    leaf = leaves_of(1, random_trades(1))[0]
    assert merkle.merkle_root([leaf]) == leaf
    assert merkle.merkle_proof([leaf], 0) == []
    assert merkle.verify_proof(leaf, leaf, [])
    assert not merkle.verify_proof(merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    with pytest.raises(IndexError):
        merkle.merkle_proof([leaf], 1)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_proof_verifies_and_tampering_fails(n: int) -> None:
    leaves = leaves_of(9, random_trades(n, seed=n))
    tree = merkle.merkle_tree(leaves)
    root = merkle.merkle_root(leaves)
    assert tree[0] == root
    assert len(tree) == 2 * n - 1
    for i, leaf in enumerate(leaves):
        proof = merkle.tree_proof(tree, i)
        assert proof == merkle.merkle_proof(leaves, i)
        assert len(proof) <= int(np.ceil(np.log2(n)))
        assert merkle.verify_proof(root, leaf, proof)
        assert not merkle.verify_proof(root, leaves[(i + 1) % n], proof)
        forged = [bytes(32), *proof[1:]]
        assert not merkle.verify_proof(root, leaf, forged)


def test_hash_pair_is_commutative_keccak_of_sorted_pair() -> None:
    a, b = keccak(b"a"), keccak(b"b")
    assert merkle.hash_pair(a, b) == merkle.hash_pair(b, a) == keccak(min(a, b) + max(a, b))
    assert merkle.keccak256(b"") == keccak(b"")


def test_a_day_of_leaves_hashes_fast() -> None:
    trades = random_trades(4800, seed=4, accounts=100)
    started = time.perf_counter()
    root = merkle.merkle_root(leaves_of(1, trades))
    elapsed_s = time.perf_counter() - started
    assert len(root) == 32
    assert elapsed_s < 1.0, f"4,800 leaves + root took {elapsed_s:.2f} s"


JS_CHECK = """
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(input.values, input.types, { sortLeaves: false });
const proofs = input.values.map((_, i) => tree.getProof(i));
process.stdout.write(JSON.stringify({ root: tree.root, proofs }));
"""


def test_same_root_and_proofs_as_openzeppelin_merkle_tree_js() -> None:
    """An independent implementation: @openzeppelin/merkle-tree (StandardMerkleTree)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the JavaScript cross-check needs it")
    if not (CONTRACTS / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.fail("settlement/chain/contracts/node_modules is missing: run `make contracts`")
    trades = random_trades(37, seed=7)
    batch_id = 2**200 + 5
    columns = ["trade_ids", "sellers", "buyers", "energy_wh", "payment_micro_eur"]
    values = [[str(batch_id), *(str(trades[c][i]) for c in columns)] for i in range(37)]
    result = subprocess.run(
        ["node", "-e", JS_CHECK],
        input=json.dumps({"values": values, "types": TYPES}),
        capture_output=True,
        text=True,
        cwd=CONTRACTS,
        timeout=60,
        check=True,
    )
    js = json.loads(result.stdout)
    leaves = leaves_of(batch_id, trades)
    assert "0x" + merkle.merkle_root(leaves).hex() == js["root"]
    for i in range(37):
        assert ["0x" + p.hex() for p in merkle.merkle_proof(leaves, i)] == js["proofs"][i]


def test_root_memo_hands_out_each_root_once_and_misses_changed_bytes() -> None:
    calls: list[bytes] = []

    def compute(data: bytes) -> bytes:
        calls.append(data)
        return merkle.merkle_root([merkle.keccak256(data)])

    memo = merkle.RootMemo(max_entries=2)
    first = memo.root(b"readings", compute)
    assert memo.root(b"readings", compute) == first  # the second derivation: a lookup
    assert calls == [b"readings"]
    assert memo.root(b"readings", compute) == first  # handed out once: computed again
    assert memo.root(b"tampered", compute) != first  # other bytes miss
    assert calls == [b"readings", b"readings", b"tampered"]
    memo.root(b"x", compute)
    memo.root(b"y", compute)  # past max_entries the memo starts over
    assert memo.root(b"readings", compute) == first
    assert len(calls) == 6
