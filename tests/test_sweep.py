"""Sweeps on a real dask cluster: a ``dask scheduler`` and two ``dask worker`` processes.

The cluster is started on 127.0.0.1 (free ports, found through the scheduler file) for the
module and stopped afterwards. The sweep: 1-day runs of the default scenario with the
self-consumption rule, PV share x PV profile x seed, where the profile ``NOPE`` passes
validation (any string) and fails inside the run, when the twin is built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.sweep import (
    TABLE,
    RunOutcome,
    SweepError,
    load_sweep,
    read_sweep,
    run_name,
    run_sweep,
    sweep_from_dict,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
SWEEP = f"""
name = "test"
scenarios = ["{DEFAULT.as_posix()}"]
seeds = [1, 2]

[fixed]
run.days = 1
forecasting.battery_control = "self_consumption"

[parameters]
nodes.pv_share = [0.2, 0.6]
nodes.pv_profile = ["PV5", "NOPE"]
"""


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a running scheduler with two single-threaded workers."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    file = tmp / "scheduler.json"
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    scheduler_args = ["--port", "0", "--scheduler-file", str(file), *common]
    procs = [_start(["distributed.cli.dask_scheduler", *scheduler_args], tmp / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None:
            assert procs[0].poll() is None, (tmp / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "scheduler did not start"
            time.sleep(0.2)
            try:
                address = json.loads(file.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not there yet, or half written
                continue
        for i in range(2):
            worker_args = ["--name", f"w{i}", "--memory-limit", "2GB", *common]
            procs.append(
                _start(
                    ["distributed.cli.dask_worker", address, "--nthreads", "1", *worker_args],
                    tmp / f"worker{i}.log",
                )
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            assert len(client.scheduler_info()["workers"]) == 2
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "test.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first(scheduler: str, sweep_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sweep run once on the cluster; its folder."""
    out = tmp_path_factory.mktemp("out") / "sweep"
    run_sweep(load_sweep(sweep_file), out, scheduler=scheduler)
    return out


def test_every_run_in_the_table_failed_ones_reported(first: Path) -> None:
    frame, units = read_sweep(first)
    assert len(frame) == 8
    assert set(frame.columns) >= {"run_folder", "nodes.pv_share", "nodes.pv_profile", "seed"}
    good = frame[frame["nodes.pv_profile"] == "PV5"]
    bad = frame[frame["nodes.pv_profile"] == "NOPE"]
    assert (good["status"] == "ok").all(), good["error"].tolist()
    assert good["error"].isna().all()
    for kpi in ("community_cost_eur", "baseline_cost_eur", "violations", "pv_mwh"):
        assert good[kpi].notna().all()
        assert kpi in units
    assert units["community_cost_eur"] == "EUR"
    assert sorted(good["seed"]) == [1, 1, 2, 2]
    # more PV, more PV energy
    pv = good.groupby("nodes.pv_share")["pv_mwh"].mean()
    assert pv[0.6] > pv[0.2] > 0
    assert (bad["status"] == "failed").all()
    assert bad["error"].str.contains("NOPE").all()
    assert bad["community_cost_eur"].isna().all()
    for name, status in zip(frame["run_folder"], frame["status"], strict=True):
        assert (first / str(name) / "manifest.json").is_file() == (status == "ok")
    assert not list(first.glob(".*.partial-*")), "a failed run left its partial folder"
    assert not list(first.glob(".*.tmp"))


def test_rerun_skips_finished_runs(first: Path, sweep_file: Path, scheduler: str) -> None:
    stamps = {p: p.stat().st_mtime_ns for p in first.glob("*/manifest.json")}
    seen: list[RunOutcome] = []
    frame = run_sweep(
        load_sweep(sweep_file), first, scheduler=scheduler, progress=lambda o, d, t: seen.append(o)
    )
    assert len(seen) == 8
    ok = frame["status"] == "ok"
    assert ok.sum() == 4
    assert frame.loc[ok, "skipped"].all()
    assert not frame.loc[~ok, "skipped"].any()  # failed runs are tried again
    assert {p: p.stat().st_mtime_ns for p in first.glob("*/manifest.json")} == stamps
    pd.testing.assert_frame_equal(frame, read_sweep(first)[0])


def test_same_seed_same_kpis(first: Path, sweep_file: Path, scheduler: str, tmp_path: Path) -> None:
    again = sweep_from_dict(
        {
            "scenarios": [str(DEFAULT)],
            "seeds": [1, 2],
            "fixed": {"run": {"days": 1}, "forecasting.battery_control": "self_consumption"},
            "parameters": {"nodes.pv_share": [0.6], "nodes.pv_profile": ["PV5"]},
        }
    )
    frame = run_sweep(again, tmp_path / "again", scheduler=scheduler)
    assert (frame["status"] == "ok").all()
    assert not frame["skipped"].any()
    # same scenario and seed: same folder name, same KPIs to the bit
    before = read_sweep(first)[0].set_index("run_folder")
    kpis = [c for c in before.columns if c.endswith(("_eur", "_mwh", "_mw", "_pu", "_wh"))]
    assert len(kpis) > 10
    now = frame.set_index("run_folder")
    assert (before.loc[now.index, "status"] == "ok").all()
    pd.testing.assert_frame_equal(now[kpis], before.loc[now.index, kpis])
    one, two = (frame[frame["seed"] == s].iloc[0] for s in (1, 2))
    assert one["consumption_mwh"] != two["consumption_mwh"]  # seeds differ: load noise differs


def test_cli_sweep_on_a_scheduler(first: Path, sweep_file: Path, scheduler: str) -> None:
    args = ["sweep", str(sweep_file), "--scheduler", scheduler, "--out", str(first), "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # the failing runs fail again
    assert "4 runs ok (4 from an earlier sweep), 4 failed" in result.output
    assert result.output.count("failed:") == 4
    assert "NOPE" in result.output
    assert (first / TABLE).is_file()


def test_bad_sweep_file_fails_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SWEEP.replace("run.days = 1", "run.days = 0").replace("seeds = [1, 2]", "seeds = [1]")
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert f"{bad}" in result.output
    assert "run.days: Input should be greater than or equal to 1" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('colour = "red"', "colour: unknown key"),
        ("seeds = [3, 3]", "seeds: values must be unique"),
        ("[parameters]\nnodes.pv_share = 0.2", "parameters.nodes.pv_share: Input should be"),
        ("[parameters]\nnodes.pv_share = [0.2, 0.2]", "nodes.pv_share: values must be unique"),
        ("[parameters]\nnodes.pv_shar = [0.2]", "nodes.pv_shar: unknown key"),
        ("[parameters]\nnodes.pv_share = [0.2, 1.5]", "nodes.pv_share=1.5: nodes.pv_share: Input"),
        (
            "seeds = [1]\n[parameters]\nrun.seed = [1]",
            "parameters.run.seed: give the seeds in `seeds`",
        ),
        ("[parameters]\nrun.days.x = [1]", "run.days.x: 'days' is not a section"),
        (
            "[fixed]\nrun.days = 2\n[parameters]\nrun.days = [1]",
            "run.days: both in [fixed] and in [parameters]",
        ),
    ],
)
def test_sweep_file_errors_name_file_key_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.toml"
    scenarios = f'scenarios = ["{DEFAULT.as_posix()}"]\n'
    path.write_text(scenarios + text)
    with pytest.raises(SweepError) as err:
        load_sweep(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_missing_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('scenarios = ["nope.toml"]\n')
    with pytest.raises(SweepError, match=r"nope\.toml: no such scenario file"):
        load_sweep(path)


def test_run_names_are_deterministic_and_distinct(sweep_file: Path) -> None:
    runs = load_sweep(sweep_file).runs
    names = [r.name for r in runs]
    assert len(set(names)) == len(names) == 8
    assert names == [r.name for r in load_sweep(sweep_file).runs]
    assert names[0].startswith("default__pv_share=0.2__pv_profile=PV5__seed=1__")
    assert run_name(runs[0].scenario, runs[0].parameters) == names[0]


def test_unreachable_scheduler_writes_nothing(sweep_file: Path, tmp_path: Path) -> None:
    import socket

    import dask

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out"
    args = ["sweep", str(sweep_file), "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(out)]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(app, [*args, "--quiet"])
    assert result.exit_code == 2, result.output
    assert "error: dask:" in result.output
    assert not out.exists()
    result = CliRunner().invoke(app, [*args, "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers applies to the local cluster" in result.output
