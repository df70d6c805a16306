"""``gridtwin faults``: every fault of the table survived with no data lost.

The table runs once (``--quick``: nine one-day runs, two of them on anvil when it is
installed); its rows, written with ``--json``, must each show the expected behaviour and
0 data lost. Without anvil its two rows are skipped (a failure under ``CI``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import twin.faults
from settlement.chain.anvil_node import anvil_binary
from twin.cli import app
from twin.faults import FAULTS
from twin.faults.base import Fault, Outcome


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, Any]]]:
    rows = tmp_path_factory.mktemp("faults") / "rows.json"
    result = CliRunner().invoke(app, ["faults", "--quick", "--json", str(rows)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(rows.read_text())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_fault_is_survived_with_no_data_lost(table: tuple[str, list[dict[str, Any]]]) -> None:
    output, rows = table
    assert [r["fault"] for r in rows] == list(FAULTS)
    for row in rows:
        assert row["fault"] in output
        if row["skipped"]:
            assert anvil_binary() is None, row
            assert not os.environ.get("CI"), row
            assert row["observed"].startswith("skipped: anvil is not installed")
            continue
        assert row["ok"], row
        assert row["lost"] == 0, row
    observed = {r["fault"]: r["observed"] for r in rows}
    assert "held back 2 batches" in observed["chain-down-8h"]
    assert "96/96 intervals on self-consumption" in observed["forecast-feed-down-24h"]
    same = re.search(r"(\d+)/(\d+) tables byte-identical", observed["process-killed-resumed"])
    assert same is not None
    assert same[1] == same[2], observed["process-killed-resumed"]
    assert (
        "72 orders of community, member-0002, member-0005 arrived after the gate"
        in (observed["orders-after-gate-closure"])
    )


def _fake(lost: int, behaved: bool = True) -> Fault:
    return Fault("fake", "nothing lost", lambda folder, quick: Outcome("ran", behaved, lost))


@pytest.mark.parametrize(("lost", "behaved"), [(1, True), (0, False)])
def test_a_row_that_loses_data_or_misbehaves_fails_the_command(
    monkeypatch: pytest.MonkeyPatch, lost: int, behaved: bool
) -> None:
    monkeypatch.setitem(twin.faults.FAULTS, "fake", _fake(lost, behaved))
    result = CliRunner().invoke(app, ["faults", "--only", "fake"])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "1 of 1 faults failed" in result.output


def test_a_crashing_fault_is_a_failed_row_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(folder: Path, quick: bool) -> Outcome:
        raise OSError("disk gone")

    monkeypatch.setitem(twin.faults.FAULTS, "fake", Fault("fake", "-", crash))
    result = CliRunner().invoke(app, ["faults", "--only", "fake"])
    assert result.exit_code == 1
    assert "crashed: OSError: disk gone" in " ".join(result.output.split())


def test_anvil_faults_skip_without_anvil_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("twin.faults.chain.anvil_binary", lambda: None)
    fault = FAULTS["node-restart-with-state"]
    monkeypatch.delenv("CI", raising=False)
    row = fault.result(tmp_path, quick=True)
    assert row.skipped
    assert row.ok
    assert row.lost is None
    assert row.observed.startswith("skipped: anvil is not installed")
    monkeypatch.setenv("CI", "1")
    assert not fault.result(tmp_path, quick=True).ok


def test_an_unknown_fault_is_refused() -> None:
    result = CliRunner().invoke(app, ["faults", "--only", "no-such-fault"])
    assert result.exit_code == 2
    assert "unknown fault no-such-fault" in result.output
