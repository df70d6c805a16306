"""Which device lies: competing hypotheses against the grid's meters (:mod:`grid.localization`).

Pure layer on a day of the subtle-fraud community (its profile powers, the fast power flow as
the truth, meters with the scenario's noise), and whole one-day runs at hourly intervals: the
subtle wind inflater is flagged and no honest device is, on two seeds; with the home meters, a
rooftop PV inflating by 5 % to 30 % is placed at its own home (the voltages alone cannot), and
both subtle inflaters of one period are flagged.
"""

from __future__ import annotations

import numpy as np
import pytest

from grid.localization import Hypotheses, weigh_hypotheses
from grid.measurements import HomeMeters, MeterNoise, measure, measure_homes
from settlement.depin.plausibility import FLAGS
from tests.conftest import ROOT
from twin.build import build, profile_powers
from twin.engine import run_scenario
from twin.results import open_run
from twin.scenario import load_scenario
from twin.schemas import SCHEMAS

SUBTLE = ROOT / "scenarios" / "fraud_subtle.toml"
SE_FLAG = FLAGS["state_estimation"]


@pytest.fixture(scope="module")
def day() -> tuple[object, np.ndarray, np.ndarray, object]:
    twin = build(load_scenario(SUBTLE))
    p, q = profile_powers(twin, 96)
    return twin, p, q, twin.solver.solve(p, q)


def _weigh(
    day: tuple, node: str, factor: float, seed: int, hide: str = "", homes: bool = False
) -> tuple[Hypotheses, np.ndarray]:
    twin, p, q, flow = day
    table = twin.nodes.table
    names = table["node_id"].to_numpy()
    noise = MeterNoise()
    rng = np.random.default_rng(seed)
    vm, imp = measure(flow.vm_pu, flow.import_mw, noise, rng)
    meters = HomeMeters.from_hosts(table["kind"].to_numpy(), table["host"].to_numpy())
    home_mw = measure_homes(meters.net(p), noise, rng)  # the truth, metered
    claimed = p.copy()
    claimed[:, int(np.flatnonzero(names == node)[0])] *= factor
    output = np.where(table["kind"].to_numpy() != "consumer", np.clip(-claimed, 0, None), 0.0)
    layout = list(twin.solver.layout.bus)
    metered = np.union1d(table["bus"].to_numpy(), [int(twin.net.ext_grid.bus.iloc[0])])
    cols = [layout.index(b) for b in metered]
    unknown = np.zeros(claimed.shape, dtype=bool)
    if hide:  # the journal lacks its claims: the power flow is linearized at 0
        unknown[:, int(np.flatnonzero(names == hide)[0])] = True
        claimed[unknown] = 0.0
        output[unknown] = 0.0
    candidates = np.flatnonzero((output > 0).any(axis=0))
    test = weigh_hypotheses(
        twin.solver.solve,
        claimed,
        q,
        vm,
        imp,
        cols,
        noise,
        output,
        candidates,
        unknown=unknown,
        homes=meters if homes else None,
        home_mw=home_mw,
    )
    return test, names


def test_the_fit_recovers_the_inflation_and_blames_the_liar(day: tuple) -> None:
    test, names = _weigh(day, "wind-0", 1.2, seed=1)
    liar = int(np.flatnonzero(test.candidates == np.flatnonzero(names == "wind-0")[0])[0])
    # the share of its claim the meters do not see: 1 - 1/f
    assert test.alpha[liar] == pytest.approx(1 - 1 / 1.2, abs=0.02)
    assert names[test.blame(5.0, 2.0)] == "wind-0"
    # rescaling the liar alone explains most of the period's chi-squared excess
    assert test.z[liar] ** 2 > 0.9 * (test.j - test.measurements)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_honest_claims_are_noise_and_blame_nobody(day: tuple, seed: int) -> None:
    test, _ = _weigh(day, "wind-0", 1.0, seed=seed)
    assert np.abs(test.z).max() < 4.0
    assert test.blame(5.0, 2.0) == -1
    # the chi-squared of honest claims is the meters' noise: J ~ its degrees of freedom
    assert abs(test.j - test.measurements) < 5 * np.sqrt(2 * test.measurements)


def test_a_pv_lie_is_seen_but_not_placed_by_the_voltages(day: tuple) -> None:
    """Without the home meters: every PV shares one profile and a 6 kW lie moves no voltage
    beyond the meters' noise: the substation sees it (z > 5), but every PV hypothesis
    explains it alike, so nobody is blamed rather than a neighbour."""
    test, _ = _weigh(day, "pv-5", 1.3, seed=1)
    top = test.ranked()
    assert test.z[top[0]] > 5.0
    assert test.z[top[0]] - test.z[top[1]] < 0.5
    assert test.blame(5.0, 2.0) == -1


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("factor", [1.05, 1.1, 1.3])
def test_the_home_meter_places_a_pv_lie_at_its_home(day: tuple, factor: float, seed: int) -> None:
    """pv-5 sits behind its home's meter, which measures the home's net power: the lie is
    there in full (~5 % of a 6 kW roof is ~0.2 kW at noon, against a class-1 meter's ~50 W)
    and on no other home's meter, so pv-5 alone explains it, whichever the noise draw."""
    test, names = _weigh(day, "pv-5", factor, seed=seed, homes=True)
    blamed = test.blame(5.0, 2.0)
    assert blamed >= 0
    assert names[blamed] == "pv-5"
    liar = int(np.flatnonzero(names[test.candidates] == "pv-5")[0])
    assert test.alpha[liar] == pytest.approx(1 - 1 / factor, abs=0.01)
    others = np.delete(test.z, liar)
    assert others.max() < 5.0  # no neighbour is a credible liar


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_honest_claims_blame_nobody_with_the_home_meters(day: tuple, seed: int) -> None:
    test, _ = _weigh(day, "pv-5", 1.0, seed=seed, homes=True)
    assert np.abs(test.z).max() < 4.0
    assert test.blame(5.0, 2.0) == -1
    # honest claims against the home meters too: J ~ its degrees of freedom
    assert abs(test.j - test.measurements) < 5 * np.sqrt(2 * test.measurements)


def test_a_home_meters_house_keeps_its_lie_from_the_neighbours(day: tuple) -> None:
    """pv-17 and pv-18 share a bus (and wind-0's): their voltages are one, their homes'
    meters are not, so a 10 % lie of pv-17 is placed at pv-17, not at pv-18."""
    test, names = _weigh(day, "pv-17", 1.1, seed=1, homes=True)
    assert names[test.blame(5.0, 2.0)] == "pv-17"
    at_bus = names[test.candidates] == "pv-18"
    assert test.z[at_bus].max() < 4.0


@pytest.mark.parametrize("factor", [1.0, 1.2, 1.5])
def test_a_claim_the_journal_lacks_blames_nobody_else(day: tuple, factor: float) -> None:
    """pv-5's readings were rejected (its 6 kW are unaccounted for): its injection is a free
    parameter of each interval. It explains any substation mismatch, so only the voltages
    judge: a 20 % wind lie (z 71 with every claim known) is no longer placed, a 50 % one is,
    and nobody else is blamed."""
    test, names = _weigh(day, "wind-0", factor, seed=2, hide="pv-5")
    assert "pv-5" not in set(names[test.candidates])
    blamed = test.blame(5.0, 2.0)
    if factor == 1.0:
        assert np.abs(test.z).max() < 4.0
    liar = int(np.flatnonzero(names[test.candidates] == "wind-0")[0])
    if factor == 1.5:
        assert blamed >= 0
        assert names[blamed] == "wind-0"
        # the flow is linearized 6 kW away from pv-5's truth: looser than 1 - 1/f +- 0.02
        assert test.alpha[liar] == pytest.approx(1 - 1 / factor, abs=0.05)
    else:
        assert blamed == -1
        assert test.z[liar] < 5.0


def test_a_lie_beside_a_missing_claim_cannot_be_judged(day: tuple) -> None:
    """pv-17 shares wind-0's bus: a free injection there explains any lie of that bus, so
    the wind inflater is not judged (z 0) and nobody is blamed in its place."""
    test, names = _weigh(day, "wind-0", 1.2, seed=2, hide="pv-17")
    at_bus = np.isin(names[test.candidates], ["wind-0", "pv-18", "bat-18"])
    assert (test.z[at_bus] == 0).all()
    assert test.blame(5.0, 2.0) == -1


@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_flags_the_subtle_inflater_and_no_honest_device(tmp_path: object, seed: int) -> None:
    out = tmp_path / "run"  # type: ignore[operator]
    scenario = load_scenario(
        SUBTLE,
        [
            f"run.seed={seed}",
            "run.interval_s=3600",
            "devices.upload_intervals=24",
            "forecasting.battery_control=self_consumption",
            'devices.attacks=[{node_id="wind-0", kind="inflate", inflate_factor=1.1}]',
        ],
    )
    run_scenario(scenario, out)
    run = open_run(out)
    readings = run.table("readings")
    node = readings["node_id"].astype(str)
    flagged = set(node[(readings["flags"] & SE_FLAG) > 0])
    assert flagged == {"wind-0"}
    # the per-device checks pass it: the grid-side flag is its only one
    assert (readings.loc[node == "wind-0", "flags"] == SE_FLAG).all()
    checks = run.table("physics_checks")
    assert list(checks.columns) == SCHEMAS["physics_checks"][0].names
    assert list(checks["flagged_node"].astype(str)) == ["wind-0"]
    assert bool(checks["applied"].iloc[0])
    assert checks["method"].iloc[0] == "hypotheses"
    assert "wind-0" not in set(run.table("rewards")["node_id"].astype(str))


def test_a_run_flags_both_subtle_inflaters_and_no_honest_device(tmp_path: object) -> None:
    """fraud_subtle as written (wind-0 and pv-5 both inflating by 10 % in the same day): the
    hypotheses blame one a round, each blamed claim a free parameter of the next round, so
    the first liar does not hide the second; nobody else is flagged."""
    out = tmp_path / "run"  # type: ignore[operator]
    scenario = load_scenario(
        SUBTLE,
        [
            "run.interval_s=3600",
            "devices.upload_intervals=24",
            "forecasting.battery_control=self_consumption",
        ],
    )
    run_scenario(scenario, out)
    run = open_run(out)
    readings = run.table("readings")
    node = readings["node_id"].astype(str)
    flagged = set(node[(readings["flags"] & SE_FLAG) > 0])
    assert flagged == {"wind-0", "pv-5"}
    checks = run.table("physics_checks")
    assert sorted(checks["flagged_node"].astype(str)) == ["pv-5", "wind-0"]
    assert (checks["time"] == checks["time"].iloc[0]).all()  # both within the first day
    rewarded = set(run.table("rewards")["node_id"].astype(str))
    assert not rewarded & {"wind-0", "pv-5"}
