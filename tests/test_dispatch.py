"""The battery dispatch LP: feasibility, optimality against scipy's HiGHS, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from forecasting.dispatch import BatteryDispatcher, BatterySpec, home_cost_eur

H = 96
SPEC = BatterySpec(
    capacity_kwh=np.array([10.0, 5.0, 13.5]),
    p_max_mw=np.array([0.005, 0.003, 0.005]),
    eta_charge=0.95,
    eta_discharge=0.95,
    soc_min=0.05,
    soc_max=0.95,
)


def prices() -> tuple[np.ndarray, np.ndarray]:
    hour = (np.arange(H) // 4) % 24
    pi = np.where(hour < 5, 220.0, np.where((hour >= 16) & (hour < 20), 420.0, 320.0))
    return pi, np.full(H, 80.0)


def soc_path(spec: BatterySpec, p: np.ndarray, soc0: np.ndarray) -> np.ndarray:
    e = p * 1000 * 0.25
    step = np.where(e > 0, e * spec.eta_charge, e / spec.eta_discharge)
    return soc0[:, None] + np.cumsum(step, axis=1)


def reference_cost(net: np.ndarray, pi: np.ndarray, pe: np.ndarray, soc0: np.ndarray) -> float:
    """The same programme written out for scipy.optimize.linprog (HiGHS), per battery."""
    total = 0.0
    dt, e = 0.25, 250.0
    for b in range(len(soc0)):
        eye, zero = sp.eye(H), sp.csr_matrix((H, H))
        step = sp.eye(H) - sp.eye(H, k=-1)
        a_eq = sp.hstack([-0.95 * e * eye, e / 0.95 * eye, zero, step])
        b_eq = np.zeros(H)
        b_eq[0] = soc0[b]
        a_ub = sp.hstack([eye, -eye, -eye, zero])
        cost = np.concatenate([pe * dt, -pe * dt, (pi - pe) * dt, np.zeros(H)])
        cost[-1] = -0.95 * pi.min() / 1000
        cap, pmax = SPEC.capacity_kwh[b], SPEC.p_max_mw[b]
        bounds = [(0, pmax)] * (2 * H) + [(0, None)] * H + [(0.05 * cap, 0.95 * cap)] * H
        res = linprog(
            cost, A_ub=a_ub, b_ub=-net[b], A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
        )
        assert res.status == 0
        total += res.fun
    return total


def test_plan_matches_scipy_and_respects_limits() -> None:
    rng = np.random.default_rng(1)
    pi, pe = prices()
    dispatcher = BatteryDispatcher(SPEC, H, 900)
    for _ in range(3):  # warm-started re-solves give the optimum too
        net = rng.normal(0.0005, 0.002, (3, H))
        soc0 = SPEC.capacity_kwh * rng.uniform(0.1, 0.9, 3)
        plan = dispatcher.plan(net, pi, pe, soc0)
        assert plan is not None
        assert (np.abs(plan) <= SPEC.p_max_mw[:, None] + 1e-9).all()
        soc = soc_path(SPEC, plan, soc0)
        assert (soc >= 0.05 * SPEC.capacity_kwh[:, None] - 1e-6).all()
        assert (soc <= 0.95 * SPEC.capacity_kwh[:, None] + 1e-6).all()
        ours = home_cost_eur(net, plan, pi, pe, 900) - 0.95 * pi.min() / 1000 * soc[:, -1].sum()
        constant = float((pe * net).sum() * 0.25)  # the export value of the homes' own net
        assert ours == pytest.approx(reference_cost(net, pi, pe, soc0) + constant, abs=1e-6)


def test_arbitrage_charges_cheap_and_covers_the_peak() -> None:
    pi, pe = prices()
    spec = BatterySpec(np.array([10.0]), np.array([0.005]), 0.95, 0.95, 0.0, 1.0)
    net = np.full((1, H), 0.001)  # a steady 1 kW demand, no PV
    plan = BatteryDispatcher(spec, H, 900).plan(net, pi, pe, np.array([0.0]))
    assert plan is not None
    hour = (np.arange(H) // 4) % 24
    assert plan[0, hour < 5].sum() > 0  # charges off-peak
    peak = (hour >= 16) & (hour < 20)
    np.testing.assert_allclose(plan[0, peak], -0.001, atol=1e-9)  # covers the peak demand
    assert (plan[0] >= -0.001 - 1e-9).all()  # never discharges into export


def test_bad_forecast_gives_none() -> None:
    pi, pe = prices()
    dispatcher = BatteryDispatcher(SPEC, H, 900)
    net = np.zeros((3, H))
    net[1, 5] = np.nan
    assert dispatcher.plan(net, pi, pe, SPEC.capacity_kwh / 2) is None
    assert dispatcher.plan(np.zeros((3, H - 1)), pi, pe, SPEC.capacity_kwh / 2) is None
    assert dispatcher.plan(np.zeros((3, H)), pi, pe, SPEC.capacity_kwh / 2) is not None


def test_no_batteries() -> None:
    empty = BatterySpec(np.zeros(0), np.zeros(0), 0.95, 0.95, 0.05, 0.95)
    plan = BatteryDispatcher(empty, H, 900).plan(np.zeros((0, H)), *prices(), np.zeros(0))
    assert plan is not None
    assert plan.shape == (0, H)


def test_blocks_plan_as_one_programme() -> None:
    rng = np.random.default_rng(3)
    pi, pe = prices()
    net = rng.normal(0.0005, 0.002, (3, H))
    soc0 = SPEC.capacity_kwh / 2
    whole = BatteryDispatcher(SPEC, H, 900, block_size=16).plan(net, pi, pe, soc0)
    parts = BatteryDispatcher(SPEC, H, 900, block_size=2).plan(net, pi, pe, soc0)
    assert whole is not None
    assert parts is not None

    def objective(plan: np.ndarray) -> float:
        end = soc_path(SPEC, plan, soc0)[:, -1].sum()
        return home_cost_eur(net, plan, pi, pe, 900) - 0.95 * pi.min() / 1000 * end

    assert objective(parts) == pytest.approx(objective(whole), abs=1e-6)


def test_energy_value_is_the_marginal_worth_of_stored_energy() -> None:
    # the duals the real-time rule weighs errors against: one more kWh in the battery now
    # lowers the optimal cost by energy_value[:, 0] / 1000 EUR (checked by finite difference)
    pi, pe = prices()
    rng = np.random.default_rng(3)
    hour = (np.arange(H) // 4) % 24
    sun = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)
    net = 0.0008 + 0.0002 * rng.random((3, H)) - 0.004 * sun * rng.random((3, 1))
    soc0 = SPEC.capacity_kwh * 0.4
    dispatcher = BatteryDispatcher(SPEC, H, 900)
    assert dispatcher.plan(net, pi, pe, soc0) is not None
    value = dispatcher.energy_value
    assert value.shape == (3, H)
    # stored energy is worth at least feed-in (it can always displace an import or be kept)
    # and never more than the dearest import it can displace
    assert (value >= pe.min() * SPEC.eta_discharge - 1e-6).all()
    assert (value <= pi.max() * SPEC.eta_discharge + 1e-6).all()
    delta = 0.01  # kWh
    base = reference_cost(net, pi, pe, soc0)
    for b in range(3):
        more = soc0.copy()
        more[b] += delta
        slope = (base - reference_cost(net, pi, pe, more)) / delta * 1000  # EUR/MWh
        assert slope == pytest.approx(value[b, 0], rel=1e-3)


def test_forecast_error_goes_where_it_is_cheaper_and_ties_follow_the_plan() -> None:
    from forecasting.realtime import TIE_TOLERANCE, error_to_battery

    eta = 0.95
    peak, standard, feed_in = 420.0, 320.0, 80.0
    # a discharging battery (planned -1 kW) in a home forecast to draw 2 kW at standard rate
    planned, forecast = np.full(4, -1e-3), np.full(4, 2e-3)
    # stored energy worth, at the meter: standard (a tie, up to solver noise), peak, feed-in
    worth = np.array([standard, standard * (1 + TIE_TOLERANCE / 2), peak, feed_in]) * eta
    bigger = error_to_battery(
        np.full(4, 5e-4), planned, forecast, worth, standard, feed_in, eta, eta
    )
    # a bigger deficit is covered from the battery only where the grid is dearer than storage
    assert bigger.tolist() == [False, False, False, True]
    smaller = error_to_battery(
        np.full(4, -5e-4), planned, forecast, worth, standard, feed_in, eta, eta
    )
    # a smaller deficit leaves energy in the battery only where it is worth more than import
    assert smaller.tolist() == [False, False, True, False]
    # a charging battery (planned +1 kW) in a home with surplus: more surplus is stored when
    # stored energy is worth more than feed-in, and exported at a tie
    charging, surplus = np.full(2, 1e-3), np.full(2, -3e-3)
    value = np.array([feed_in, standard]) / eta
    more = error_to_battery(
        np.full(2, -5e-4), charging, surplus, value, standard, feed_in, eta, eta
    )
    assert more.tolist() == [False, True]
