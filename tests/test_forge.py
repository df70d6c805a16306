"""Foundry's fuzz and invariant tests of the contracts (settlement/chain/contracts/test/*.t.sol).

``forge test`` runs with the pinned npm binary (@foundry-rs/forge-linux-amd64, installed by
``make test``) and the pinned solc-js behind ``tools/solc`` (foundry.toml: offline, no solc
download). The invariants: credits are conserved by every batch; no account loses credits
without its allowance; debts equal claims; rewards never exceed an epoch's total (nor its
cap); the genesis is minted at most once, within its cap; no role escalates. Any failing test,
or no test at all, fails this one.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.anvil import _PLATFORMS, NODE_MODULES

CONTRACTS = NODE_MODULES.parent
MISSING = "forge is not installed: run `make test` (it runs npm ci in settlement/chain/contracts)"


def forge_binary() -> Path | None:
    """The forge executable of the npm package @foundry-rs/forge-<platform>, or None."""
    import platform

    suffix = _PLATFORMS.get((platform.system(), platform.machine()))
    candidates = [NODE_MODULES / ".bin" / "forge"]
    if suffix is not None:
        candidates.insert(0, NODE_MODULES / "@foundry-rs" / f"forge-{suffix}" / "bin" / "forge")
    return next((b for b in candidates if b.is_file() and os.access(b, os.X_OK)), None)


@pytest.mark.slow
@pytest.mark.forge
@pytest.mark.timeout(1800)
def test_forge_fuzz_and_invariant_tests_pass(tmp_path: Path) -> None:
    forge = forge_binary()
    if forge is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    # HOME in a temporary folder: forge writes nothing under ~/.foundry
    env = dict(os.environ, HOME=str(tmp_path), FOUNDRY_OFFLINE="true", NO_COLOR="1")
    done = subprocess.run(
        [str(forge), "test"],
        cwd=CONTRACTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) tests passed, (\d+) failed", output)
    assert summary is not None, output[-3000:]
    passed, failed = int(summary[1]), int(summary[2])
    assert failed == 0, output[-3000:]
    assert passed >= 10, output[-3000:]
    for invariant in (
        "invariant_creditsConserved",
        "invariant_noLossWithoutAllowance",
        "invariant_debtsEqualClaims",
        "invariant_rewardsWithinEpochTotal",
        "invariant_noRoleEscalates",
    ):
        assert re.search(rf"\[PASS\] {invariant}\(\)", output), invariant
