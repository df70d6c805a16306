"""The committed contract artifacts are what the committed sources compile to."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from settlement.chain.artifacts import ARTIFACTS_DIR, load_artifact
from settlement.chain.connection import CONTRACTS

CONTRACTS_DIR = ARTIFACTS_DIR.parent


@pytest.mark.slow
def test_artifacts_match_a_fresh_compile(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot recompile the contracts to compare")
    if not (CONTRACTS_DIR / "node_modules" / "solc").is_dir():
        pytest.fail("settlement/chain/contracts/node_modules is missing: run `make contracts`")
    subprocess.run(
        ["node", "build.js", "--out", str(tmp_path)],
        cwd=CONTRACTS_DIR,
        check=True,
        capture_output=True,
        timeout=900,  # solc-js with via-IR: ~1-2 min alone, 4+ min on a loaded machine
    )
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in ARTIFACTS_DIR.glob("*.json"))
    assert fresh == committed, "artifacts differ in number: run `make contracts`"
    for name in fresh:
        new = json.loads((tmp_path / name).read_text())
        old = json.loads((ARTIFACTS_DIR / name).read_text())
        assert new == old, f"{name} is stale: run `make contracts` and commit the artifacts"


def test_artifacts_have_the_api_gridtwin_uses() -> None:
    for name in CONTRACTS:
        artifact = load_artifact(name)
        assert artifact.bytecode.startswith("0x")
        assert len(artifact.bytecode) > 1000
    functions = {
        item["name"]: [arg["type"] for arg in item["inputs"]]
        for item in load_artifact("Settlement").abi
        if item["type"] == "function"
    }
    assert functions["commitBatch"] == [
        "uint256",
        "bytes32",
        "uint256",
        "uint256",
        "address[]",
        "int256[]",
    ]
    assert functions["batchRoot"] == ["uint256"]
    assert functions["verifyTrade"] == ["uint256", "bytes32", "bytes32[]"]
    credit = {i["name"] for i in load_artifact("EnergyCredit").abi if i["type"] == "function"}
    assert {"permit", "mint", "mintBatch", "transfer", "balanceOf", "decimals", "cap"} <= credit
    assert "settle" not in credit  # no function moves credits without an allowance
