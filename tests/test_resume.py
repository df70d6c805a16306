"""A failed or killed run keeps its journal and what it wrote; ``--resume`` finishes it to the
bytes of an uninterrupted run.

One day of the default scenario in 4-hour batches (6 chunks). A run is killed (SIGKILL, from
the ``GRIDTWIN_KILL_AT`` hook) after its first chunk, mid-run and during its final step, and
another fails in-process after its second chunk; each is resumed and every table compared
with the uninterrupted run's (Arrow equality of the whole table, and the KPIs).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import twin.engine
from tests.conftest import DEFAULT, ROOT, scenario
from twin.cli import app
from twin.engine import run_scenario
from twin.partial import KILL_ENV, partial_of, partial_run, read_chunks
from twin.results import ResumeError, RunFolder, RunWriter, open_run
from twin.resume import resumable

ARGS = ["run.days=1", "chain.batch_hours=4"]
CLI = [str(DEFAULT), "--days", "1", "--set", "chain.batch_hours=4", "--quiet"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("whole") / "run"
    run_scenario(scenario(*ARGS), out)
    return open_run(out)


def assert_same_run(a: RunFolder, b: RunFolder) -> None:
    """Every table equal (Arrow content), the same tables, the same KPIs."""
    assert a.manifest["tables"] == b.manifest["tables"]
    for name in a.manifest["tables"]:
        ta, tb = (pq.read_table(r.path / f"{name}.parquet") for r in (a, b))
        assert ta.equals(tb), name
    assert a.kpis() == pytest.approx(b.kpis(), nan_ok=True)
    assert a.manifest["config"] == b.manifest["config"]


def test_a_failed_run_keeps_its_journal_and_chunks_then_resumes(
    whole: RunFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]
    write_chunk = twin.engine.write_chunk

    def failing(*args: object, **kwargs: object) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise OSError("disk gone")
        write_chunk(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(twin.engine, "write_chunk", failing)
    out = tmp_path / "results" / "run"
    failed = CliRunner().invoke(app, ["run", *CLI, "--out", str(out)])
    assert failed.exit_code != 0
    assert not out.exists()  # nothing in results/ that looks complete
    [kept] = partial_of(out)
    assert f"gridtwin run --resume {kept}" in " ".join(failed.output.split())
    part = partial_run(kept)
    assert part.state == "failed"
    assert "disk gone" in (part.error or "")
    # the journal of the batches already on chain, and the chunks written, readable
    with sqlite3.connect(kept / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] >= 2
    assert pq.read_table(kept / "node_power.parquet").num_rows == 2 * 16 * 66
    listed = CliRunner().invoke(app, ["clean", str(out.parent)])
    assert f"partial {kept} (failed" in " ".join(listed.output.split())
    monkeypatch.setattr(twin.engine, "write_chunk", write_chunk)
    resumed = CliRunner().invoke(app, ["run", "--resume", str(kept), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert not kept.exists()
    assert_same_run(open_run(out), whole)
    assert open_run(out).manifest["resumed"]["chunks_replayed"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill_at", ["node_power:1", "node_power:4", "nodes:1"], ids=["chunk1", "mid", "final"]
)
def test_a_killed_run_resumes_to_the_same_bytes(
    whole: RunFolder, tmp_path: Path, kill_at: str
) -> None:
    out = tmp_path / "results" / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{KILL_ENV: kill_at})
    child = subprocess.run(
        [sys.executable, "-m", "twin.cli", "run", *CLI, "--out", str(out)],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert not out.exists()
    [kept] = partial_of(out)
    assert partial_run(kept).state == "killed"
    assert (kept / "ledger.sqlite").is_file()
    written = read_chunks(kept)
    table, count = kill_at.split(":")
    assert sum(name == table for name, _, _ in written) == int(count)
    found = resumable(out)  # by where it was to land
    assert found.path == kept
    result = run_scenario(found.scenario, found.out, None, found.scenario_file, resume=kept)
    assert result.path == out
    assert not kept.exists()
    assert partial_of(out) == []
    assert_same_run(open_run(out), whole)


def test_a_replay_that_differs_is_refused_and_the_killed_run_kept(tmp_path: Path) -> None:
    out = tmp_path / "run"
    writer = RunWriter(out, config=scenario(*ARGS).model_dump(mode="json"))
    writer.append("kpis", {"name": ["x"], "value": [1.0], "unit": ["-"]})  # not what it writes
    kept = writer.keep(RuntimeError("killed"))
    found = resumable(out)
    with pytest.raises(ResumeError, match="not the same run"):
        run_scenario(found.scenario, found.out, None, None, resume=kept)
    assert partial_of(out) == [kept]  # untouched; the replay's own folder removed
    assert read_chunks(kept) == [("kpis", 1, read_chunks(kept)[0][2])]


def test_resume_on_an_rpc_chain_is_refused_with_the_journal_named(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sc = scenario(*ARGS, 'chain.rpc_url="http://127.0.0.1:1"')
    kept = RunWriter(out, config=sc.model_dump(mode="json")).keep(RuntimeError("killed"))
    with pytest.raises(ResumeError, match=r"RPC chain .* not supported") as refused:
        resumable(kept)
    assert str(kept / "ledger.sqlite") in str(refused.value)
    result = CliRunner().invoke(app, ["run", "--resume", str(kept)])
    assert result.exit_code == 2
    assert "not supported" in result.output
