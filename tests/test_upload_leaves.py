"""Leaves derived once: many uploads' roots at once, the journal's leaves, the tree's levels."""

from __future__ import annotations

import numpy as np

from settlement.chain.merkle import EMPTY_ROOT, hash_pair, keccak256, merkle_tree
from settlement.depin import devices as dv
from settlement.depin import fraud
from settlement.depin.leaves import reading_leaves, readings_root, upload_trees
from settlement.depin.readings import verify_uploads
from settlement.depin.uploads import sign_period, sign_upload
from settlement.depin.verdict import ACCEPTED, TAMPERED

CHAIN = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
P = 8


def fleet() -> list[dv.Device]:
    """Two consumers, as far as the journal's signature and root checks go."""
    return dv.make_devices(["a", "b"], ["consumer", "consumer"], [0.01, 0.01], [0.0, 0.0], 7)


def reference_tree(leaves: list[bytes]) -> list[bytes]:
    """OpenZeppelin's flat tree node by node, as :func:`merkle_tree` once built it."""
    n = len(leaves)
    tree = [b""] * (n - 1) + list(reversed(leaves))
    for i in range(n - 2, -1, -1):
        tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
    return tree


def test_merkle_tree_hashes_level_blocks_as_node_by_node() -> None:
    for n in [*range(70), 255, 256, 257, 1000]:
        leaves = [keccak256(i.to_bytes(4, "big")) for i in range(n)]
        assert merkle_tree(leaves) == reference_tree(leaves)


def test_upload_trees_are_each_uploads_root_and_leaves() -> None:
    sizes = [3, 0, 5, 1]
    ids = np.repeat([4, 9, 2, 7], sizes)
    intervals = np.concatenate([np.arange(s) + 10 * k for k, s in enumerate(sizes)])
    energy = np.arange(len(ids), dtype=np.int64) * 37 - 100  # negatives sign-extended
    roots, leaves = upload_trees(ids, intervals, energy, sizes)
    assert leaves == b"".join(reading_leaves(ids, intervals, energy))
    ends = np.cumsum(sizes)
    for k, (start, end) in enumerate(zip(ends - sizes, ends, strict=True)):
        rows = slice(int(start), int(end))
        assert roots[k] == readings_root(ids[rows], intervals[rows], energy[rows])
    assert roots[1] == EMPTY_ROOT


def test_sign_period_signs_what_sign_upload_signs() -> None:
    devices = fleet()
    energy = np.arange(2 * P, dtype=np.int64).reshape(P, 2) * 11
    period = sign_period(
        devices, 3, energy, [5, 6], chain_id=CHAIN, verifying_contract=CONTRACT, period_intervals=P
    )
    intervals = 3 * P + np.arange(P)
    for j, device in enumerate(devices):
        one = sign_upload(
            device, 3, intervals, energy[:, j], 5 + j, chain_id=CHAIN, verifying_contract=CONTRACT
        )
        assert (period[j].readings_root, period[j].signature) == (one.readings_root, one.signature)


def test_the_journal_keeps_the_leaves_of_the_readings_it_received() -> None:
    devices = fleet()
    intervals = np.arange(P)
    domain = {"chain_id": CHAIN, "verifying_contract": CONTRACT}
    honest = sign_upload(devices[0], 0, intervals, np.full(P, 40), 0, **domain)
    tampered = fraud.tamper(sign_upload(devices[1], 0, intervals, np.full(P, 50), 0, **domain))
    forged = sign_upload(fraud.forger(devices[0], 7), 0, intervals, np.full(P, 99), 1, **domain)
    result = verify_uploads(
        [honest, tampered, forged],
        dv.registry_of(devices),
        **domain,
        period_intervals=P,
    )
    status = result.status.reshape(3, P)
    assert (status[0] == ACCEPTED).all()
    assert (status[1:] == TAMPERED).all()
    leaves = result.leaves.reshape(3, P, 32)
    assert leaves[0].tobytes() == b"".join(reading_leaves(1, intervals, np.full(P, 40)))
    received = tampered.energy_wh  # the readings as they arrived, not as signed
    assert leaves[1].tobytes() == b"".join(reading_leaves(2, intervals, received))
    assert not leaves[2].any()  # a forged signature: its readings never hashed
