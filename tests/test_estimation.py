"""Physics as the fraud check: state estimation against claimed injections.

Pure layer (:mod:`grid.measurements`, :mod:`grid.estimation`, :mod:`grid.detection`) on the
subtle-fraud community, and the run (``scenarios/fraud_subtle.toml``): the subtle wind
inflater is flagged and earns nothing, and an attack-free run flags no honest device.
"""

from __future__ import annotations

import numpy as np
import pytest

from grid.detection import attribute, day_scores, localize
from grid.estimation import InjectionEstimator
from grid.measurements import MeterNoise, measure
from settlement.depin.plausibility import FLAGS
from tests.conftest import ROOT
from twin.build import build, profile_powers
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario

SUBTLE = ROOT / "scenarios" / "fraud_subtle.toml"
SE_FLAG = FLAGS["state_estimation"]


def test_noise_must_be_positive_and_finite() -> None:
    with pytest.raises(ValueError, match="voltage_std_pu"):
        MeterNoise(voltage_std_pu=0.0)
    with pytest.raises(ValueError, match="power_std"):
        MeterNoise(power_std=float("nan"))


def test_day_scores_are_a_matched_filter() -> None:
    rn = np.array([[1.0, np.nan], [3.0, 2.0], [5.0, 2.0]])
    weight = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 2.0]])
    scores = day_scores(rn, weight, 3)
    assert scores.shape == (1, 2)
    assert scores[0, 0] == pytest.approx((1 + 3) / np.sqrt(2))
    assert scores[0, 1] == pytest.approx(2 * 2 / 2)


def test_localize_needs_a_lead_and_attribute_follows_the_profile() -> None:
    assert localize(np.array([6.0, 1.0, 0.5]), 5.0, 2.0) == 0
    assert localize(np.array([6.0, 5.5, 0.5]), 5.0, 2.0) == -1  # not placeable: nobody
    assert localize(np.array([4.0, 0.0]), 5.0, 2.0) == -1
    rn = np.array([0.0, 1.0, 2.0, 0.0])
    out = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [1.0, 0.0]])
    assert attribute(rn, out) == 1


@pytest.fixture(scope="module")
def day() -> tuple[object, np.ndarray, np.ndarray, object]:
    twin = build(load_scenario(SUBTLE))
    p, q = profile_powers(twin, 96)
    return twin, p, q, twin.solver.solve(p, q)


def _scores(day: tuple, factor: float, node: str, seed: int) -> tuple[np.ndarray, object]:
    twin, p, q, flow = day
    table = twin.nodes.table
    est = InjectionEstimator(twin.net, table["bus"].to_numpy(), MeterNoise())
    vm, imp = measure(flow.vm_pu, flow.import_mw, est.noise, np.random.default_rng(seed))
    claimed = p.copy()
    j = int(np.flatnonzero(table["node_id"].to_numpy() == node)[0])
    claimed[:, j] *= factor
    output = np.where(table["kind"].to_numpy() != "consumer", np.clip(-claimed, 0, None), 0.0)
    weight = np.zeros((len(p), len(est.buses)))
    np.add.at(weight.T, est.node_col, output.T)
    # every 4th interval keeps the test short; the run estimates all
    todo = np.zeros(len(p), dtype=bool)
    todo[::4] = True
    res = est.residuals(claimed, q, vm, imp, twin.solver.layout.bus, estimate=todo)
    assert res.converged[todo].all()
    assert not res.converged[~todo].any()
    return day_scores(res.rn, weight, len(p))[0], est


def test_honest_claims_score_like_noise(day: tuple) -> None:
    scores, _ = _scores(day, 1.0, "wind-0", seed=1)
    assert np.abs(scores).max() < 4.0
    assert localize(scores, 5.0, 2.0) == -1


def test_a_subtle_wind_inflater_is_localized_at_its_bus(day: tuple) -> None:
    scores, est = _scores(day, 1.1, "wind-0", seed=1)
    assert int(est.buses[localize(scores, 5.0, 2.0)]) == 20  # wind-0's bus


@pytest.fixture(scope="module")
def subtle_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("subtle") / "run"
    run_scenario(load_scenario(SUBTLE), out)
    return open_run(out)


def test_the_subtle_inflater_is_flagged_and_earns_nothing(subtle_run: RunFolder) -> None:
    readings = subtle_run.table("readings")
    wind = readings[readings["node_id"].astype(str) == "wind-0"]
    # below its rating the per-device checks pass it (no other flag); the grid-side check
    # flags every reading of the period
    assert (wind["flags"] == SE_FLAG).all()
    assert set(wind["status"].astype(str)) == {"flagged_implausible"}
    rewards = subtle_run.table("rewards").set_index("node_id")["amount"]
    assert "wind-0" not in rewards.index
    # pv-5's 10 % is placed at its home's meter, in the same period; no honest device blamed
    pv = readings[readings["node_id"].astype(str) == "pv-5"]
    assert ((pv["flags"] & SE_FLAG) > 0).all()
    assert "pv-5" not in rewards.index
    flagged = readings[(readings["flags"] & SE_FLAG) > 0]
    assert set(flagged["node_id"].astype(str)) == {"wind-0", "pv-5"}
    assert subtle_run.kpis()["physics_flagged_periods"] == 1


def test_an_attack_free_run_flags_no_honest_device(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    out = tmp_path_factory.mktemp("honest") / "run"
    scenario = load_scenario(SUBTLE, ["devices.attacks=[]"])
    assert not scenario.devices.attacks
    run_scenario(scenario, out)
    readings = open_run(out).table("readings")
    assert not ((readings["flags"] & SE_FLAG) > 0).any()


def test_physics_check_keys_are_validated() -> None:
    with pytest.raises(ScenarioError, match="voltage_std_pu"):
        load_scenario(SUBTLE, ["devices.physics_check.voltage_std_pu=0"])
    with pytest.raises(ScenarioError, match="inflate_factor"):
        load_scenario(
            SUBTLE, ['devices.attacks=[{node_id="pv-5", kind="inflate", inflate_factor=0.9}]']
        )
