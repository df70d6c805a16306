"""Calldata encoded with the codec directly equals web3's ``encode_abi``, or fails as it does."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from settlement.chain.artifacts import ARTIFACTS_DIR, load_artifact
from settlement.chain.calldata import encode_call

W3 = Web3()
CONTRACTS = sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))


def _contract(name: str) -> Contract:
    return W3.eth.contract(
        address=to_checksum_address("0x" + "12" * 20), abi=load_artifact(name).abi
    )


def _value(abi_type: str, rng: np.random.Generator) -> Any:
    """A random value of ``abi_type`` as a caller passes it (addresses checksummed)."""
    if abi_type.endswith("]"):
        base, size = re.fullmatch(r"(.*)\[(\d*)\]", abi_type).groups()  # type: ignore[union-attr]
        n = int(size) if size else int(rng.integers(0, 4))
        return [_value(base, rng) for _ in range(n)]
    if abi_type == "address":
        return to_checksum_address(rng.bytes(20))
    if abi_type == "bool":
        return bool(rng.integers(0, 2))
    if abi_type == "string":
        return "".join(rng.choice(list("abc é✓"), int(rng.integers(0, 40))))
    if abi_type == "bytes":
        return rng.bytes(int(rng.integers(0, 70)))
    if abi_type.startswith("bytes"):
        return rng.bytes(int(abi_type[5:]))
    bits = int(abi_type.lstrip("uint") or 256)
    if abi_type.startswith("uint"):
        return int.from_bytes(rng.bytes(bits // 8), "big")
    return int.from_bytes(rng.bytes(bits // 8), "big") - 2 ** (bits - 1)


def _functions(contract: Contract) -> list[dict[str, Any]]:
    return [dict(e) for e in contract.abi if e.get("type") == "function"]


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_function_encodes_as_web3_does(name: str) -> None:
    contract = _contract(name)
    rng = np.random.default_rng(len(name))
    assert _functions(contract)
    names = [e["name"] for e in _functions(contract)]
    for element in _functions(contract):
        types = [str(p["type"]) for p in element["inputs"]]
        for _ in range(3):
            args = [_value(t, rng) for t in types if not t.startswith("tuple")]
            if len(args) < len(types) or names.count(element["name"]) > 1:
                args = [_value("uint8", rng)] * len(types)  # web3's way: its match, its error
                with_web3(contract, element["name"], args)
                continue
            expected = contract.encode_abi(element["name"], args=args)
            assert encode_call(contract, element["name"], args) == expected


def with_web3(contract: Contract, function: str, args: list[Any]) -> None:
    """``encode_call`` returns what ``encode_abi`` returns, or raises the same error."""
    try:
        expected = contract.encode_abi(function, args=args)
    except Exception as exc:  # the error itself is compared
        with pytest.raises(type(exc)):
            encode_call(contract, function, args)
    else:
        assert encode_call(contract, function, args) == expected


def test_what_needs_web3_goes_to_web3() -> None:
    """A hex string for bytes32 (web3 converts it), a lower-case address (web3 refuses it),
    a wrong count, a negative uint, a numpy integer: the same result or the same error."""
    contract = _contract("Settlement")
    root = bytes(range(32))
    account = to_checksum_address("0x" + "ab" * 20)
    good = [7, root, 3, 1000, [account], [0]]
    cases: list[list[Any]] = [
        good,
        [7, "0x" + root.hex(), 3, 1000, [account], [0]],
        [7, root, 3, 1000, [account.lower()], [0]],
        [7, root, 3, 1000, [account[:-1] + ("a" if account[-1] != "a" else "b")], [0]],
        [7, root, 3, 1000, [account]],
        [-7, root, 3, 1000, [account], [0]],
        [np.int64(7), root, 3, 1000, [account], [0]],
        [7, root[:31], 3, 1000, [account], [0]],
    ]
    for args in cases:
        with_web3(contract, "commitBatch", args)
    expected = contract.encode_abi("commitBatch", args=good)
    web3_path = contract.encode_abi
    contract.encode_abi = None  # type: ignore[assignment]  # the codec's path: web3 not asked
    assert encode_call(contract, "commitBatch", good) == expected
    contract.encode_abi = web3_path
