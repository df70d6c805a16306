"""Batteries, chargers and heat pumps in one LP (``flex.joint_batteries``, issue #18): the joint
programme on known cases, a short run of ``scenarios/flex.toml`` with it (state of charge
within its band, energy balance per interval, the battery LP idle), and the key's validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecasting.dispatch import BatteryDispatcher, BatterySpec
from forecasting.flex_dispatch import BatteryInputs, FlexDispatcher
from forecasting.flex_policy import FlexDispatchPolicy
from twin.build import build
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
FLEX = ROOT / "scenarios" / "flex.toml"
H = 8
SPEC = BatterySpec(
    capacity_kwh=np.array([10.0, 6.0]),
    p_max_mw=np.array([0.004, 0.003]),
    eta_charge=0.95,
    eta_discharge=0.95,
    soc_min=0.05,
    soc_max=0.95,
)


def dispatcher(peak_eur_per_kw: float, n_ev: int = 0, n_hp: int = 0) -> FlexDispatcher:
    return FlexDispatcher(
        horizon_steps=H,
        interval_s=3600,
        ev_p_max_mw=np.full(n_ev, 0.011),
        hp_p_max_mw=np.full(n_hp, 0.003),
        hp_store_max_kwh=16.0,
        hp_kwh_per_k=8.0,
        shortfall_eur_per_kwh=2.0,
        comfort_eur_per_kelvin_hour=20.0,
        peak_eur_per_kw=peak_eur_per_kw,
        battery_spec=SPEC,
    )


def plan_batteries(
    flex: FlexDispatcher,
    net_mw: np.ndarray,
    pi: np.ndarray,
    pe: np.ndarray,
    soc_kwh: np.ndarray,
    base_mw: np.ndarray | None = None,
) -> np.ndarray:
    n_ev, n_hp = len(flex.ev_p_max_mw), len(flex.hp_p_max_mw)
    plan = flex.plan(
        pi,
        np.zeros(n_ev),
        np.zeros(n_ev, dtype=np.int64),
        np.full(n_hp, 8.0),
        np.full((n_hp, H), 3.0),
        np.zeros((n_hp, H)),
        base_mw=base_mw,
        battery=BatteryInputs(net_mw=net_mw, export_eur_per_mwh=pe, soc_kwh=soc_kwh),
    )
    assert plan is not None
    return flex.battery_mw


def objective_eur(
    net_mw: np.ndarray, p_mw: np.ndarray, pi: np.ndarray, pe: np.ndarray, soc_kwh: np.ndarray
) -> float:
    """The battery LP's objective of powers ``p_mw`` (no simultaneous charge and discharge)."""
    total = net_mw + p_mw
    energy = np.where(total > 0, total * pi, total * pe).sum()
    stored = np.where(p_mw > 0, p_mw * SPEC.eta_charge, p_mw / SPEC.eta_discharge) * 1e3
    end_kwh = soc_kwh + stored.sum(axis=1)
    return float(energy - SPEC.eta_discharge * pi.min() / 1e3 * end_kwh.sum())


def test_without_loads_or_peak_the_joint_lp_is_the_battery_lp() -> None:
    rng = np.random.default_rng(3)
    net = rng.uniform(-0.004, 0.004, (2, H))
    pi = np.array([200.0, 200, 350, 350, 200, 200, 350, 350])
    pe = np.full(H, 80.0)
    soc = np.array([5.0, 1.0])
    joint = plan_batteries(dispatcher(0.0), net, pi, pe, soc)
    alone = BatteryDispatcher(SPEC, H, 3600).plan(net, pi, pe, soc)
    assert alone is not None
    assert objective_eur(net, joint, pi, pe, soc) == pytest.approx(
        objective_eur(net, alone, pi, pe, soc), abs=1e-6
    )
    assert np.abs(joint).max() <= SPEC.p_max_mw.max() + 1e-12


def test_the_peak_term_makes_the_batteries_cover_the_community_peak() -> None:
    # flat prices: without the peak term the batteries have nothing to gain
    net = np.full((2, H), 0.002)
    pi, pe = np.full(H, 300.0), np.full(H, 80.0)
    soc = np.array([9.5, 5.7])  # full
    base = np.full(H, 0.050)
    base[5] = 0.060
    p = plan_batteries(dispatcher(10.0), net, pi, pe, soc, base_mw=base)
    planned = base + p.sum(axis=0)
    assert planned.max() < base.max() - 1e-4  # the peak step is shaved
    assert p[:, 5].sum() < 0
    stored = np.cumsum(np.where(p > 0, p * SPEC.eta_charge, p / SPEC.eta_discharge) * 1e3, axis=1)
    soc_path = soc[:, None] + stored
    assert (soc_path >= SPEC.soc_min * SPEC.capacity_kwh[:, None] - 1e-6).all()
    assert (soc_path <= SPEC.soc_max * SPEC.capacity_kwh[:, None] + 1e-6).all()


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """Two days of scenarios/flex.toml with joint batteries; the battery LP may not plan."""
    folder = tmp_path_factory.mktemp("joint") / "run"
    sc = load_scenario(FLEX, ["run.days=2", "chain.enabled=false", "flex.joint_batteries=true"])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the battery LP planned a jointly planned battery")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatteryDispatcher, "plan", refuse)
        run_scenario(sc, folder)
    return open_run(folder)


@pytest.mark.slow
def test_joint_run_keeps_the_soc_band_and_the_energy_balance(joint_run: RunFolder) -> None:
    nodes = joint_run.table("nodes").set_index("node_id")
    soc = joint_run.table("battery_state")
    cfg = load_scenario(FLEX).nodes
    cap = nodes.loc[soc["node_id"], "capacity_kwh"].to_numpy()
    assert len(soc)
    assert (soc["soc_kwh"].to_numpy() >= cfg.battery_soc_min * cap - 1e-6).all()
    assert (soc["soc_kwh"].to_numpy() <= cfg.battery_soc_max * cap + 1e-6).all()
    power = joint_run.table("node_power").groupby("time")["p_mw"].sum()
    grid = joint_run.table("grid_exchange").set_index("time")
    np.testing.assert_allclose(power + grid["losses_mw"], grid["import_mw"], atol=1e-6)
    kpis = joint_run.kpis()
    assert kpis["flex_plans"] > 0
    assert kpis["flex_plans_failed"] == 0
    assert kpis["ev_sessions_short"] == 0
    plans = joint_run.table("dispatch_plans")
    # the joint plans reach the batteries (the battery LP made none: see the fixture)
    assert np.isfinite(plans["planned_p_mw"]).all()
    assert (plans["planned_p_mw"].abs() > 1e-6).any()


def test_joint_batteries_is_off_by_default_and_wires_nothing() -> None:
    assert load_scenario(ROOT / "scenarios" / "default.toml").flex.joint_batteries is False
    sc = load_scenario(FLEX, ["run.days=1", "chain.enabled=false", "flex.joint_batteries=false"])
    twin = build(sc)
    assert twin.flex is not None
    assert isinstance(twin.flex.policy, FlexDispatchPolicy)
    assert twin.flex.policy.batteries is None
    assert twin.flex.policy.dispatcher.battery_spec is None
    assert twin.forecast_policy is not None
    assert not twin.forecast_policy.joint


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            ["flex.joint_batteries=true", "forecasting.battery_control=self_consumption"],
            'needs forecasting.battery_control = "forecast"',
        ),
        (["flex.joint_batteries=true", "flex.enabled=false"], "needs flex.enabled = true"),
        (["flex.joint_batteries=1"], "valid boolean"),
    ],
)
def test_bad_joint_batteries_names_file_key_and_reason(overrides: list[str], reason: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(FLEX, overrides)
    message = str(err.value)
    assert "flex.toml" in message
    assert "flex.joint_batteries" in message
    assert reason in message
