"""Compiled contracts: the committed ABI + bytecode artifacts, and the errors they declare."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import function_signature_to_4byte_selector

from settlement.chain.errors import ChainError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "contracts" / "artifacts"
"""Where ``make contracts`` writes the committed ABI + bytecode artifacts."""


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode (``0x``-prefixed hex)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """Read the artifact ``<directory>/<name>.json`` written by ``make contracts``."""
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ChainError(f"{path}: no contract artifact (run `make contracts`)") from exc
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])


def error_selectors(artifacts: Iterable[Artifact]) -> dict[bytes, tuple[str, list[str]]]:
    """4-byte selector -> (name, argument types) of every custom error in ``artifacts``, and of
    Solidity's own ``Error(string)`` and ``Panic(uint256)``."""
    selectors: dict[bytes, tuple[str, list[str]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["string"]),
        bytes.fromhex("4e487b71"): ("Panic", ["uint256"]),
    }
    for artifact in artifacts:
        for item in artifact.abi:
            if item["type"] == "error":
                types = [arg["type"] for arg in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                selectors[function_signature_to_4byte_selector(signature)] = (item["name"], types)
    return selectors
