"""Reward Merkle multiproofs: every subset of small trees, and the same root and proof as
OpenZeppelin's JavaScript merkle-tree library."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess

import pytest

from settlement.chain import merkle
from settlement.chain.artifacts import ARTIFACTS_DIR
from settlement.depin.rewards import reward_leaves


def _process_multiproof(leaves: list[bytes], proof: list[bytes], flags: list[bool]) -> bytes:
    """MerkleProof.processMultiProof, transcribed."""
    assert len(leaves) + len(proof) == len(flags) + 1
    queue, hashes = list(leaves), list[bytes]()
    proof_iter = iter(proof)
    for flag in flags:
        a = queue.pop(0) if queue else hashes.pop(0)
        b = (queue.pop(0) if queue else hashes.pop(0)) if flag else next(proof_iter)
        hashes.append(merkle.hash_pair(a, b))
    return hashes[-1] if flags else leaves[0]


def test_multiproof_proves_every_subset_of_small_trees() -> None:
    for n in range(1, 8):
        leaves = reward_leaves(3, list(range(n)), [d * 11 for d in range(n)])
        tree = merkle.merkle_tree(leaves)
        for size in range(1, n + 1):
            for subset in itertools.combinations(range(n), size):
                proof, flags = merkle.multiproof(tree, subset)
                assert _process_multiproof([leaves[i] for i in subset], proof, flags) == tree[0]
    with pytest.raises(ValueError, match="distinct"):
        merkle.multiproof(tree, [1, 1])


JS_CHECK = """
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const types = ["uint256", "uint256", "uint256"];
const tree = StandardMerkleTree.of(input.values, types, { sortLeaves: false });
const multi = tree.getMultiProof(input.indices);
const out = { root: tree.root, proof: multi.proof, flags: multi.proofFlags };
process.stdout.write(JSON.stringify(out));
"""


def test_same_root_and_multiproof_as_openzeppelin_merkle_tree_js() -> None:
    contracts_dir = ARTIFACTS_DIR.parent
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the JavaScript cross-check needs it")
    if not (contracts_dir / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.fail("settlement/chain/contracts/node_modules is missing: run `make contracts`")
    epoch, n, indices = 2**70 + 3, 37, [2, 3, 4, 5, 17, 30, 36]
    device_ids, amounts = [d * 3 for d in range(n)], [10**15 + d for d in range(n)]
    values = [[str(epoch), str(d), str(a)] for d, a in zip(device_ids, amounts, strict=True)]
    result = subprocess.run(
        ["node", "-e", JS_CHECK],
        input=json.dumps({"values": values, "indices": indices}),
        capture_output=True,
        text=True,
        cwd=contracts_dir,
        timeout=60,
        check=True,
    )
    js = json.loads(result.stdout)
    tree = merkle.merkle_tree(reward_leaves(epoch, device_ids, amounts))
    assert "0x" + tree[0].hex() == js["root"]
    proof, flags = merkle.multiproof(tree, indices)
    assert ["0x" + p.hex() for p in proof] == js["proof"]
    assert flags == js["flags"]
