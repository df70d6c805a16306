"""The engine end to end: energy balance, determinism, infeasible intervals, the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import DEFAULT, scenario
from twin.cli import app
from twin.engine import run_scenario
from twin.results import RunFolder, list_runs, open_run
from twin.schemas import SCHEMAS

CORE_TABLES = (
    "nodes",
    "node_power",
    "bus_voltage",
    "branch_loading",
    "grid_exchange",
    "intervals",
    "kpis",
)


def test_energy_balance_every_interval(day_run: RunFolder) -> None:
    power = day_run.table("node_power").groupby("time")["p_mw"].sum()
    exchange = day_run.table("grid_exchange").set_index("time")
    intervals = day_run.table("intervals").set_index("time")
    assert intervals["converged"].all()
    assert len(exchange) == 96
    balance = power + exchange["losses_mw"] - exchange["import_mw"]
    assert np.abs(balance.to_numpy()).max() < 1e-6  # MW, solver tolerance


def test_losses_are_positive_and_small(day_run: RunFolder) -> None:
    exchange = day_run.table("grid_exchange")
    assert (exchange["losses_mw"] > 0).all()
    kpis = day_run.kpis()
    assert 0 < kpis["losses_mwh"] < 0.1 * kpis["consumption_mwh"]


def test_sign_convention(day_run: RunFolder) -> None:
    nodes = day_run.table("nodes").set_index("node_id")
    power = day_run.table("node_power")
    power["kind"] = power["node_id"].astype(str).map(nodes["kind"])
    assert (power.loc[power.kind == "consumer", "p_mw"] >= 0).all()
    assert (power.loc[power.kind.isin(["solar", "wind"]), "p_mw"] <= 0).all()
    assert (power.loc[power.kind == "solar", "p_mw"] < 0).any()


def test_battery_soc_within_limits(day_run: RunFolder) -> None:
    cfg = scenario().nodes
    state = day_run.table("battery_state")
    assert len(state) > 0
    assert state["soc_kwh"].min() >= cfg.battery_soc_min * cfg.battery_capacity_kwh - 1e-9
    assert state["soc_kwh"].max() <= cfg.battery_soc_max * cfg.battery_capacity_kwh + 1e-9


def test_scheduled_outage_zeroes_the_node_for_its_intervals(day_run: RunFolder) -> None:
    power = day_run.table("node_power")
    wind = power[power["node_id"] == "wind-0"].set_index("time")["p_mw"]
    start = pd.Timestamp(scenario().run.start)
    during = wind[start + pd.Timedelta(hours=6) : start + pd.Timedelta(hours=7, minutes=45)]
    assert len(during) == 8
    assert (during == 0).all()
    assert (wind.drop(during.index) < 0).any()
    intervals = day_run.table("intervals")
    assert intervals["nodes_out"].sum() == 8
    assert (intervals["flags"] == "outage").sum() == 8


def test_run_folder_is_complete(day_run: RunFolder) -> None:
    for name in CORE_TABLES:
        frame = day_run.table(name)
        assert list(frame.columns) == SCHEMAS[name][0].names
    manifest = day_run.manifest
    for key in (
        "scenario",
        "seed",
        "days",
        "interval_s",
        "versions",
        "git_revision",
        "started",
        "finished",
        "chain",
        "tables",
    ):
        assert key in manifest
    assert day_run.table("grid_exchange")["time"].dt.tz is not None
    assert not list(day_run.path.parent.glob(".*partial*"))


def digest(path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.glob("*.parquet"))
    }


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    sc = scenario("run.days=1", "nodes.outage_rate_per_day=0.2")
    a = run_scenario(sc, tmp_path / "a").path
    b = run_scenario(sc, tmp_path / "b").path
    c = run_scenario(
        scenario("run.days=1", "run.seed=7", "nodes.outage_rate_per_day=0.2"), tmp_path / "c"
    ).path
    da, db, dc = digest(a), digest(b), digest(c)
    assert set(da) >= {f"{t}.parquet" for t in CORE_TABLES}
    assert da == db
    assert da["node_power.parquet"] != dc["node_power.parquet"]
    assert json.loads((a / "manifest.json").read_text())["seed"] == 42


@pytest.mark.slow
def test_same_seed_same_bytes_with_permits_signed_against_the_chain_clock(tmp_path: Path) -> None:
    # the data buyer, the stakers and the buyback sign permits whose deadline is the chain's
    # clock + 1 h: with the embedded chain's clock on the wall clock, two runs of one seed
    # differed in transaction hashes (data_sales, stakes, treasury, transactions, kpis)
    from twin.scenario import load_scenario

    overrides = [
        "run.days=2",
        "devices.transfers=[]",
        "devices.data_sales.start_day=1",
        "devices.data_sales.sale_days=1",
    ]
    sc = load_scenario(DEFAULT.parent / "depin_economy.toml", overrides)
    a = run_scenario(sc, tmp_path / "a").path
    b = run_scenario(sc, tmp_path / "b").path
    assert len(pd.read_parquet(a / "data_sales.parquet"))  # a permit-signed sale happened
    assert digest(a) == digest(b)


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["fast", "pandapower"])
def test_overloaded_grid_flags_infeasible_and_completes(tmp_path: Path, solver: str) -> None:
    sc = scenario("run.days=1", "nodes.load_scale=100", f"grid.solver={solver}")
    result = run_scenario(sc, tmp_path / "heavy")
    run = open_run(result.path)
    intervals = run.table("intervals")
    assert len(intervals) == 96
    assert (~intervals["converged"]).any()
    assert intervals.loc[~intervals["converged"], "flags"].str.contains("infeasible").all()
    exchange = run.table("grid_exchange")
    assert exchange.loc[~intervals["converged"].to_numpy(), "import_mw"].isna().all()
    assert result.kpis["infeasible_intervals"][0] == (~intervals["converged"]).sum()


def test_cli_one_day_writes_a_complete_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "results" / "cli-day"
    result = CliRunner().invoke(
        app, ["run", str(DEFAULT), "--days", "1", "--seed", "3", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "self-sufficiency" in result.output
    run = open_run(out)
    assert run.manifest["seed"] == 3
    assert run.manifest["days"] == 1
    for name in CORE_TABLES:
        assert (out / f"{name}.parquet").is_file()
    assert [r.path for r in list_runs(out.parent)] == [out]
    # a second run into the same folder is refused, the first left intact
    again = CliRunner().invoke(app, ["run", str(DEFAULT), "--days", "1", "--out", str(out)])
    assert again.exit_code == 2
    assert open_run(out).manifest["seed"] == 3


def test_reference_and_fast_solver_runs_agree(day_run: RunFolder, tmp_path: Path) -> None:
    sc = scenario(
        "run.days=1",
        "grid.solver=pandapower",
        'nodes.outages=[{node_id = "wind-0", start_h = 6.0, duration_h = 2.0}]',
    )
    ref = open_run(run_scenario(sc, tmp_path / "ref").path)
    assert day_run.manifest["solver"] == "fast"
    assert ref.manifest["solver"] == "pandapower"
    pd.testing.assert_frame_equal(ref.table("node_power"), day_run.table("node_power"))
    vm = ref.table("bus_voltage")["vm_pu"] - day_run.table("bus_voltage")["vm_pu"]
    assert np.abs(vm).max() < 1e-4
    load = ref.table("branch_loading")["loading_percent"]
    assert np.abs(load - day_run.table("branch_loading")["loading_percent"]).max() < 0.1
    balance = ref.table("node_power").groupby("time")["p_mw"].sum().to_numpy()
    exchange = ref.table("grid_exchange")
    residual = balance + exchange["losses_mw"].to_numpy() - exchange["import_mw"].to_numpy()
    assert np.abs(residual).max() < 1e-6


def test_hourly_intervals_run_with_the_boosted_forecaster(tmp_path: Path) -> None:
    """``run.interval_s = 3600`` is a valid setting: the gb forecaster trains on hourly
    history (a feature with no value at that step is a constant, not a crash)."""
    sc = scenario("run.days=2", "run.interval_s=3600", "devices.upload_intervals=24")
    assert sc.forecasting.model == "gb"
    run = open_run(run_scenario(sc, tmp_path / "hourly").path)
    plans = run.table("dispatch_plans")
    assert not plans.empty
    power = run.table("node_power")
    assert len(power) == 48 * len(run.table("nodes"))
    assert np.isfinite(run.kpis()["self_sufficiency"])
