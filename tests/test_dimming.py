"""The grid operator's dimming (§14a EnWG): violations removed, floors kept, energy and money
traced (scenarios/flex_stressed.toml, two days)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grid.dimming import give_way
from settlement.market.grid_fee import fee_reduction_micro_eur
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify_market import verify_bills, verify_fee_reductions

ROOT = Path(__file__).resolve().parent.parent
STRESSED = ROOT / "scenarios" / "flex_stressed.toml"
DT_H = 0.25
FLOOR_MW = 0.0042


def test_dimming_keeps_the_floor_and_switching_off_takes_whole_devices() -> None:
    s_bus = np.array([1.0, 2.0])
    x = np.array([0.0178, 0.0068])  # 22 kW and 11 kW chargers above the 4.2 kW floor
    need = [(0.01, s_bus)]
    dim = give_way(need, np.array([0, 1]), x, "dim")
    assert (dim <= x + 1e-15).all()
    assert (dim >= 0).all()
    assert float(dim @ s_bus) == pytest.approx(0.01)  # the linear estimate just clears
    off = give_way(need, np.array([0, 1]), np.array([0.022, 0.011]), "switch_off")
    assert off.tolist() == [0.022, 0.0]  # the largest contribution, whole


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunFolder]:
    """The stressed scenario with curtailment alone, switching off, and §14a dimming."""
    base = tmp_path_factory.mktemp("dimming")
    out = {}
    for name, overrides in (
        ("alone", ["flex.dimming.enabled=false"]),
        ("switch_off", ["flex.dimming.mode=switch_off"]),
        ("dim", []),
    ):
        sc = load_scenario(STRESSED, ["chain.enabled=false", *overrides])
        run_scenario(sc, base / name)
        out[name] = open_run(base / name)
    return out


@pytest.mark.slow
def test_dimming_removes_the_violations_with_less_energy(runs: dict[str, RunFolder]) -> None:
    alone, off, dim = (runs[n].kpis() for n in ("alone", "switch_off", "dim"))
    assert alone["violations"] > 0  # demand-driven: curtailing generation cannot help
    assert dim["dimming_violations_before"] > 0
    assert dim["violations"] == dim["dimming_violations_after"] == 0
    assert off["violations"] == 0
    assert 0 < dim["dimmed_kwh"] < off["dimmed_kwh"]
    assert dim["hp_comfort_violation_kelvin_hours"] <= off["hp_comfort_violation_kelvin_hours"]


@pytest.mark.slow
def test_no_device_is_dimmed_below_the_floor(runs: dict[str, RunFolder]) -> None:
    rows = runs["dim"].table("dimming")
    assert len(rows)
    assert (rows["p_mw"] >= FLOOR_MW - 1e-12).all()
    assert (rows["requested_mw"] > rows["p_mw"]).all()
    np.testing.assert_allclose(
        rows["dimmed_kwh"], (rows["requested_mw"] - rows["p_mw"]) * 1e3 * DT_H
    )
    assert runs["dim"].kpis()["dimmed_min_kw"] >= 4.2 - 1e-9


@pytest.mark.slow
def test_dimmed_energy_is_what_the_devices_lost(runs: dict[str, RunFolder]) -> None:
    run = runs["dim"]
    rows = run.table("dimming").set_index(["time", "node_id"])
    power = run.table("node_power").set_index(["time", "node_id"])["p_mw"]
    np.testing.assert_allclose(power.reindex(rows.index), rows["p_mw"])  # metered = dimmed
    ev = run.table("flex_ev").set_index(["time", "node_id"])["p_mw"]
    hp = run.table("flex_heat_pumps").set_index(["time", "node_id"])["p_mw"]
    flex = pd.concat([ev, hp])
    dimmed = rows[rows["kind"] != "battery"]
    np.testing.assert_allclose(flex.reindex(dimmed.index), dimmed["p_mw"])
    # the sessions count what was charged, not what was asked
    sessions = run.table("ev_sessions")
    assert ev.sum() * 1e3 * DT_H == pytest.approx(sessions["delivered_kwh"].sum(), rel=1e-9)
    # the buildings: heat in minus demand is what their thermal mass lost or gained
    sc = load_scenario(STRESSED).flex.heat_pump
    table = run.table("flex_heat_pumps").sort_values(["node_id", "time"])
    for _, one in table.groupby("node_id"):
        stored = (one["indoor_c"].iloc[-1] - sc.initial_c) * sc.store_kwh_per_k
        assert stored == pytest.approx(one["heat_kwh"].sum() - one["demand_kwh"].sum(), abs=1e-6)
    devices = run.table("dimming_devices")
    assert devices["dimmed_kwh"].sum() == pytest.approx(rows["dimmed_kwh"].sum())
    assert run.kpis()["dimmed_kwh"] == pytest.approx(rows["dimmed_kwh"].sum())


@pytest.mark.slow
def test_energy_balances_every_interval(runs: dict[str, RunFolder]) -> None:
    for run in runs.values():
        power = run.table("node_power").groupby("time")["p_mw"].sum()
        grid = run.table("grid_exchange").set_index("time")
        np.testing.assert_allclose(power + grid["losses_mw"], grid["import_mw"], atol=1e-6)


@pytest.mark.slow
def test_the_fee_reduction_is_credited_and_paid_by_the_operator(
    runs: dict[str, RunFolder],
) -> None:
    run = runs["dim"]
    sc = load_scenario(STRESSED)
    per_device = fee_reduction_micro_eur(150.0, 2 * 86_400)
    assert per_device == round(150e6 * 2 / 365)
    devices = run.table("dimming_devices")
    assert (devices["grid_fee_reduction_micro_eur"] == per_device).all()
    bills = run.table("bills").set_index("owner")
    due = devices.groupby("owner").size() * per_device
    credited = bills["grid_fee_reduction_micro_eur"]
    assert (credited.reindex(due.index) == due).all()
    assert credited.drop(due.index).eq(0).all()  # owners without a controllable device
    dimmed_owners = devices[devices["dimmed_kwh"] > 0]["owner"].unique()
    assert len(dimmed_owners)
    assert (credited[dimmed_owners] > 0).all()
    kpis = run.kpis()
    total = int(credited.sum())
    assert kpis["grid_fee_reduction_eur"] == pytest.approx(total / 1e6)
    # what the owners get, the operator pays: its fee revenue less the reductions
    assert kpis["grid_operator_net_fees_eur"] == pytest.approx(kpis["grid_fees_eur"] - total / 1e6)
    assert kpis["community_cost_eur"] == pytest.approx(bills["cost_micro_eur"].sum() / 1e6)
    config = run.manifest["config"]
    check = verify_bills(
        run.table("bills"),
        run.table("trades"),
        run.table("node_power"),
        run.table("nodes"),
        config,
        devices,
    )
    assert check.ok, check.detail
    assert verify_fee_reductions(devices, config).ok
    tampered = devices.assign(
        grid_fee_reduction_micro_eur=devices["grid_fee_reduction_micro_eur"] + 1
    )
    assert not verify_bills(
        run.table("bills"),
        run.table("trades"),
        run.table("node_power"),
        run.table("nodes"),
        config,
        tampered,
    ).ok
    assert not verify_fee_reductions(tampered, config).ok
    assert sc.flex.dimming.fee_reduction_eur_per_year == 150.0


@pytest.mark.parametrize(
    ("override", "key", "reason"),
    [
        ("flex.dimming.floor_kw=-1.0", "flex.dimming.floor_kw", "greater than or equal to 0"),
        ("flex.dimming.mode=cut", "flex.dimming.mode", "'dim' or 'switch_off'"),
        ("flex.dimming.fee_reduction_eur_per_year=nan", "fee_reduction_eur_per_year", "finite"),
        ("market.network_aware=false", "flex.dimming.enabled", "network_aware"),
        ("flex.dimming.speed=1", "flex.dimming.speed", "unknown key"),
    ],
)
def test_bad_dimming_values_name_file_key_and_reason(override: str, key: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(STRESSED, [override])
    message = str(err.value)
    assert "flex_stressed.toml" in message
    assert key in message
    assert reason in message


def test_dimming_is_off_by_default() -> None:
    assert not load_scenario(ROOT / "scenarios" / "flex.toml").flex.dimming.enabled
