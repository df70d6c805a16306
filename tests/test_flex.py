"""Flexible loads: EV sessions, heat pumps with a thermal store, their LP, their run record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.flex_dispatch import FlexDispatcher
from grid.flex import EvFleet, HeatPumpFleet, ev_sessions, heat_pump_cop, outdoor_temperature_c
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
FLEX = ROOT / "scenarios" / "flex.toml"
DT_H = 0.25


def test_sessions_follow_the_profile_runs() -> None:
    p = np.zeros((20, 2))
    p[2:5, 0] = 0.011  # 3 intervals at 11 kW: 8.25 kWh
    p[10:11, 0] = 0.004  # a second session, 1 kWh
    p[18:20, 1] = 0.0037  # runs to the window's end
    s = ev_sessions(p, 900, dwell_h=4.0)
    assert s.ev.tolist() == [0, 0, 1]
    assert s.arrival.tolist() == [2, 10, 18]
    # 4 h = 16 intervals of dwell, cut at the next arrival and at the window's end
    assert s.departure.tolist() == [10, 20, 20]
    np.testing.assert_allclose(s.need_kwh, [8.25, 1.0, 1.85])


def test_uncontrolled_charging_delivers_the_need_at_full_power() -> None:
    p = np.zeros((12, 1))
    p[1:3, 0] = 0.011
    fleet = EvFleet(p_max_mw=np.array([0.011]), sessions=ev_sessions(p, 900, 2.0))
    powers = []
    for k in range(12):
        mw = fleet.limit(k, np.array([1.0]), DT_H)
        fleet.apply(k, mw, DT_H)
        powers.append(mw[0])
    np.testing.assert_allclose(powers[1:3], [0.011, 0.011])
    assert sum(powers) * 1e3 * DT_H == pytest.approx(5.5)
    assert fleet.shortfall_kwh() == pytest.approx([0.0])


def test_a_car_that_would_leave_short_charges_at_its_latest_start() -> None:
    p = np.zeros((12, 1))
    p[0:4, 0] = 0.011  # 11 kWh, departure at 8 (2 h dwell)
    fleet = EvFleet(p_max_mw=np.array([0.011]), sessions=ev_sessions(p, 900, 2.0))
    for k in range(12):
        fleet.apply(k, fleet.limit(k, np.zeros(1), DT_H), DT_H)  # asked never to charge
    assert fleet.shortfall_kwh() == pytest.approx([0.0])


def test_fixed_heat_pump_keeps_the_store_and_the_heat_balance_holds() -> None:
    n = 96
    cop = np.full((n, 1), 3.0)
    profile = np.full((n, 1), 0.002)
    heat_kw = profile * 1e3 * cop
    hp = HeatPumpFleet(
        p_max_mw=np.array([0.004]),
        heat_kw=heat_kw,
        cop=cop,
        kwh_per_k=8.0,
        comfort_min_c=20.0,
        comfort_max_c=22.0,
        store_kwh=np.array([8.0]),
    )
    for k in range(n):
        hp.apply(k, hp.limit(k, profile[k], DT_H), DT_H)
    assert hp.temperature_c() == pytest.approx([21.0])
    # off for an hour: the store loses the hour's demand, 6 kWh_th = 0.75 K
    for k in range(4):
        hp.apply(k, hp.limit(k, np.zeros(1), DT_H), DT_H)
    assert hp.temperature_c() == pytest.approx([21.0 - 0.75])


def test_cop_rises_with_outdoor_temperature() -> None:
    cop = heat_pump_cop(np.array([-10.0, 0.0, 10.0]), 35.0)
    assert np.all(np.diff(cop) > 0)
    assert 1.5 < cop[0] < cop[-1] < 8.0
    ground = heat_pump_cop(np.array([-10.0, 10.0]), 35.0, ground_source=True)
    assert ground[0] == pytest.approx(ground[1], rel=1e-2)  # brine, not air, feeds it


def test_outdoor_temperature_is_colder_in_january_nights() -> None:
    times = pd.DatetimeIndex(["2016-01-15 04:00", "2016-07-16 14:00"], tz="UTC")
    cold, warm = outdoor_temperature_c(times)
    assert cold < 0.0 < 18.0 < warm


def test_lp_charges_in_the_cheap_hours_and_keeps_the_band() -> None:
    h = 16
    price = np.full(h, 300.0)
    price[8:12] = 100.0
    lp = FlexDispatcher(
        horizon_steps=h,
        interval_s=900,
        ev_p_max_mw=np.array([0.011]),
        hp_p_max_mw=np.array([0.004]),
        hp_store_max_kwh=16.0,
        hp_kwh_per_k=8.0,
        shortfall_eur_per_kwh=2.0,
        comfort_eur_per_kelvin_hour=20.0,
    )
    heat = np.full((1, h), 6.0)
    plan = lp.plan(
        price, np.array([5.5]), np.array([14]), np.array([1.0]), np.full((1, h), 3.0), heat
    )
    assert plan is not None
    ev, hp = plan
    assert ev[0].sum() * 1e3 * DT_H == pytest.approx(5.5)
    assert ev[0, :8].sum() == pytest.approx(0.0, abs=1e-9)  # waits for the cheap hours
    store = 1.0 + np.cumsum((3.0 * hp[0] * 1e3 - heat[0]) * DT_H)
    assert store.min() >= -1e-6
    assert store.max() <= 16.0 + 1e-6


@pytest.fixture(scope="module")
def flex_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunFolder]:
    """Two days of scenarios/flex.toml: smart, and uncontrolled with fixed heat pumps."""
    base = tmp_path_factory.mktemp("flex")
    runs = {}
    for name, overrides in (
        ("smart", []),
        ("uncontrolled", ["flex.ev.mode=uncontrolled", "flex.heat_pump.mode=fixed"]),
    ):
        sc = load_scenario(FLEX, ["run.days=2", "chain.enabled=false", *overrides])
        run_scenario(sc, base / name)
        runs[name] = open_run(base / name)
    return runs


@pytest.mark.slow
def test_ev_energy_is_the_sum_of_charging_power(flex_runs: dict[str, RunFolder]) -> None:
    for run in flex_runs.values():
        ev = run.table("flex_ev")
        sessions = run.table("ev_sessions")
        power = run.table("node_power")
        charged_kwh = ev["p_mw"].sum() * 1e3 * DT_H
        assert charged_kwh == pytest.approx(sessions["delivered_kwh"].sum(), rel=1e-9)
        metered = power[power["node_id"].isin(ev["node_id"].unique())]["p_mw"].sum()
        assert metered * 1e3 * DT_H == pytest.approx(charged_kwh, rel=1e-9)
        gone = sessions[sessions["departed"]]
        assert (gone["delivered_kwh"] >= gone["need_kwh"] - 1e-6).all()


@pytest.mark.slow
def test_heat_store_balances(flex_runs: dict[str, RunFolder]) -> None:
    sc = load_scenario(FLEX).flex.heat_pump
    for run in flex_runs.values():
        hp = run.table("flex_heat_pumps").sort_values(["node_id", "time"])
        np.testing.assert_allclose(hp["heat_kwh"], hp["p_mw"] * 1e3 * DT_H * hp["cop"])
        for _, one in hp.groupby("node_id"):
            # heat in minus the building's demand is the heat stored in its thermal mass
            stored = (one["indoor_c"].iloc[-1] - sc.initial_c) * sc.store_kwh_per_k
            net = one["heat_kwh"].sum() - one["demand_kwh"].sum()
            assert stored == pytest.approx(net, abs=1e-6)
        kpis = run.kpis()
        assert kpis["hp_heat_mwh"] == pytest.approx(hp["heat_kwh"].sum() / 1e3)
        assert kpis["hp_comfort_violation_kelvin_hours"] >= 0.0
    fixed = flex_runs["uncontrolled"].table("flex_heat_pumps")
    np.testing.assert_allclose(fixed["indoor_c"], sc.initial_c)


@pytest.mark.slow
def test_smart_flex_costs_less_and_energy_balances(flex_runs: dict[str, RunFolder]) -> None:
    smart, base = flex_runs["smart"].kpis(), flex_runs["uncontrolled"].kpis()
    assert smart["ev_sessions"] == base["ev_sessions"] > 0
    assert smart["ev_sessions_short"] == 0
    assert smart["community_cost_eur"] < base["community_cost_eur"]
    for run in flex_runs.values():
        power = run.table("node_power").groupby("time")["p_mw"].sum()
        grid = run.table("grid_exchange").set_index("time")
        np.testing.assert_allclose(power + grid["losses_mw"], grid["import_mw"], atol=1e-6)


@pytest.mark.parametrize(
    ("override", "key", "reason"),
    [
        ("flex.ev.charger_kw=7.0", "flex.ev.charger_kw", "3.7, 11, 22 kW"),
        ("flex.ev.mode=fast", "flex.ev.mode", "'uncontrolled' or 'smart'"),
        ("flex.ev.profiles=[]", "flex.ev.profiles", "at least 1"),
        ("flex.ev.dwell_h=0.0", "flex.ev.dwell_h", "greater than or equal to 0.25"),
        ("flex.heat_pump.comfort_min_c=23.0", "flex.heat_pump", "comfort_min_c must be below"),
        ("flex.heat_pump.store_kwh_per_k=nan", "flex.heat_pump.store_kwh_per_k", "finite"),
        ("flex.colour=1", "flex.colour", "unknown key"),
    ],
)
def test_bad_flex_values_name_file_key_and_reason(override: str, key: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(FLEX, [override])
    message = str(err.value)
    assert "flex.toml" in message
    assert key in message
    assert reason in message


def test_flex_is_off_by_default() -> None:
    sc = load_scenario(ROOT / "scenarios" / "default.toml")
    assert not sc.flex.enabled


def test_flex_on_a_grid_without_flexible_loads_is_refused_before_the_run(tmp_path: Path) -> None:
    from tests.conftest import DEFAULT

    scenario = load_scenario(DEFAULT, ["run.days=1", "flex.enabled=true"])
    with pytest.raises(ScenarioError, match=r"flex\.enabled: no consumer of this grid") as err:
        run_scenario(scenario, tmp_path / "run")
    assert "1-LV-semiurb4--2-sw" in str(err.value)
    assert not (tmp_path / "run").exists()
