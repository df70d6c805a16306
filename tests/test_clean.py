"""``gridtwin clean``: the partial folders failed or killed runs left behind, listed with their
state, removed on request (never a running one)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from twin.cli import app
from twin.partial import partial_run, read_status, write_status
from twin.results import RunWriter, partial_runs


def test_clean_lists_then_removes_partial_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    writer = RunWriter(results / "killed")  # a run that never finished: its hidden folder
    writer.append("kpis", {"name": ["x"], "value": [1.0], "unit": ["-"]})
    (writer.tmp / "node_power.parquet").write_bytes(b"x" * 1000)
    (results / "broken").mkdir()
    (results / "broken" / "manifest.json").write_text("{oops")
    assert partial_runs(results) == [writer.tmp]
    assert partial_run(writer.tmp).state == "running"  # this process writes it
    listed = CliRunner().invoke(app, ["clean", str(results)])
    assert listed.exit_code == 0
    assert f"partial  {writer.tmp}  (running" in listed.output
    assert "broken" in listed.output
    assert writer.tmp.exists()  # listing removes nothing
    CliRunner().invoke(app, ["clean", str(results), "--remove"])
    assert writer.tmp.exists()  # a running run is never removed
    status = read_status(writer.tmp)
    assert status is not None
    write_status(writer.tmp, {**status, "pid": 2**22 + 1})  # its process is gone: killed
    assert partial_run(writer.tmp).state == "killed"
    removed = CliRunner().invoke(app, ["clean", str(results), "--remove"])
    assert removed.exit_code == 0
    assert f"removed  {writer.tmp}  (killed" in removed.output
    assert not writer.tmp.exists()
    assert partial_runs(results) == []
    assert (results / "broken").exists()  # a broken finished run is only listed


def test_a_failed_writer_is_kept_and_marked(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path / "run", config={"name": "x"}, scenario_file="x.toml")
    writer.append("kpis", {"name": ["x"], "value": [1.0], "unit": ["-"]})
    kept = writer.keep(RuntimeError("node gone"))
    part = partial_run(kept)
    assert (part.state, part.error) == ("failed", "RuntimeError: node gone")
    assert part.out == tmp_path / "run"
    assert part.config == {"name": "x"}
    assert (kept / "kpis.parquet").stat().st_size > 0  # closed: a readable Parquet file
