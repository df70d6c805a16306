"""Slither on the contracts: every finding in our sources is triaged, with a reason.

forge (the pinned npm binary) compiles ``src/`` with the pinned solc-js behind
``tools/solc`` into a temporary folder; Slither (``slither-analyzer``, the test extra) reads
that build with ``slither.config.json`` (OpenZeppelin's sources and the tests filtered out).
Each finding is keyed by its detector and the element it names first (``Contract.function``
or ``Contract.function.variable``); a finding not in ``slither.triage.json`` fails the test,
and so does a triage entry that no longer matches a finding (a stale reason).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_forge import CONTRACTS, MISSING, forge_binary


def _slither() -> str | None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("slither", path=path)


def _element(element: dict[str, Any]) -> str:
    """Contract.function or Contract.function.variable of a Slither result's element."""
    names = [str(element["name"])]
    parent = element.get("type_specific_fields", {}).get("parent")
    while parent:
        names.append(str(parent["name"]))
        parent = parent.get("type_specific_fields", {}).get("parent")
    return ".".join(reversed(names))


def findings(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check, element) of every detector result in a Slither JSON report."""
    out = set()
    for result in report["results"].get("detectors", []):
        first = result["elements"][0] if result["elements"] else {"name": "?"}
        out.add((str(result["check"]), _element(first)))
    return out


def test_element_names_walk_up_to_the_contract() -> None:
    variable = {
        "name": "sum",
        "type_specific_fields": {
            "parent": {
                "name": "_settle",
                "type_specific_fields": {"parent": {"name": "Settlement"}},
            }
        },
    }
    assert _element(variable) == "Settlement._settle.sum"
    report = {"results": {"detectors": [{"check": "x", "elements": [variable]}]}}
    assert findings(report) == {("x", "Settlement._settle.sum")}


@pytest.mark.slow
@pytest.mark.forge
@pytest.mark.timeout(1800)
def test_every_slither_finding_is_triaged(tmp_path: Path) -> None:
    forge, slither = forge_binary(), _slither()
    if forge is None or slither is None:
        missing = MISSING if forge is None else "slither is not installed: pip install -e '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    out = tmp_path / "out"
    env = dict(
        os.environ,
        HOME=str(tmp_path),
        FOUNDRY_OUT=str(out),
        FOUNDRY_CACHE_PATH=str(tmp_path / "cache"),
        FOUNDRY_OFFLINE="true",
        PATH=os.pathsep.join([str(forge.parent), os.environ.get("PATH", "")]),
    )
    build = subprocess.run(
        [str(forge), "build", "--build-info", "--skip", "./test/**"],
        cwd=CONTRACTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    report_path = tmp_path / "slither.json"
    run = subprocess.run(
        [slither, ".", "--foundry-out-directory", str(out), "--json", str(report_path)],
        cwd=CONTRACTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert report_path.is_file(), (run.stdout + run.stderr)[-4000:]
    report = json.loads(report_path.read_text())
    assert report["success"], report.get("error")
    found = findings(report)
    triage = json.loads((CONTRACTS / "slither.triage.json").read_text())["findings"]
    triaged = {(t["check"], t["element"]) for t in triage}
    assert all(t["reason"].strip() for t in triage)
    untriaged = sorted(found - triaged)
    stale = sorted(triaged - found)
    assert not untriaged, f"Slither findings without a triage entry: {untriaged}"
    assert not stale, f"triage entries that match no finding (remove them): {stale}"
