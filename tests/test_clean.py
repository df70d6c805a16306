"""``gridtwin clean``: the partial folders a killed run left behind, listed, removed on request."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from twin.cli import app
from twin.results import RunWriter, partial_runs


def test_clean_lists_then_removes_partial_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    writer = RunWriter(results / "killed")  # a run that never finished: its hidden folder
    (writer.tmp / "node_power.parquet").write_bytes(b"x" * 1000)
    (results / "broken").mkdir()
    (results / "broken" / "manifest.json").write_text("{oops")
    assert partial_runs(results) == [writer.tmp]
    listed = CliRunner().invoke(app, ["clean", str(results)])
    assert listed.exit_code == 0
    assert f"partial  {writer.tmp}" in listed.output
    assert "broken" in listed.output
    assert writer.tmp.exists()  # listing removes nothing
    removed = CliRunner().invoke(app, ["clean", str(results), "--remove"])
    assert removed.exit_code == 0
    assert not writer.tmp.exists()
    assert partial_runs(results) == []
    assert (results / "broken").exists()  # a broken finished run is only listed
