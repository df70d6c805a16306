"""The reward formula: integer rewards within the pool, only accepted energy, location."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from settlement.depin.rewards import RewardWeights, epoch_pool, epoch_rewards, location_weight

W = RewardWeights()


@st.composite
def epochs(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    t = draw(st.integers(1, 12))
    d = draw(st.integers(1, 8))
    energy = draw(arrays(np.int64, (t, d), elements=st.integers(-500, 5_000)))
    accepted = draw(arrays(np.bool_, (t, d)))
    available = draw(arrays(np.bool_, (t, d)))
    vm = draw(arrays(np.float64, (t, d), elements=st.floats(0.9, 1.1)))
    eligible = draw(arrays(np.bool_, (d,)))
    return energy, accepted, available, vm, eligible


@settings(max_examples=200, deadline=None)
@given(epochs(), st.integers(0, 10**12))
def test_rewards_are_integers_within_the_pool(case: tuple[np.ndarray, ...], pool: int) -> None:
    energy, accepted, available, vm, eligible = case
    weight = location_weight(vm, np.full(len(vm), 60.0), np.ones(len(vm), bool), W)
    reward, score = epoch_rewards(energy, accepted, available, weight, eligible, pool)
    assert reward.dtype == np.int64
    assert (reward >= 0).all()
    assert reward.sum() <= pool
    # nothing for ineligible devices or devices without accepted positive energy
    delivered = (np.where(accepted, np.maximum(energy, 0), 0)).sum(axis=0)
    assert (reward[~eligible] == 0).all()
    assert (reward[delivered == 0] == 0).all()
    if score.sum() > 0:
        assert reward.sum() == pool  # the whole pool, in whole units (largest remainders)


def test_rejected_readings_earn_nothing_and_honest_ones_are_paid() -> None:
    energy = np.array([[1000, 1000], [1000, 1000]])
    accepted = np.array([[True, False], [True, False]])
    ones = np.ones((2, 2), bool)
    reward, _ = epoch_rewards(energy, accepted, ones, np.ones((2, 2)), np.ones(2, bool), 10**6)
    assert reward[1] == 0
    assert reward[0] == 10**6


def test_location_weight_rewards_support_and_penalises_stress() -> None:
    vm = np.array([[0.95, 1.0, 1.05]])
    w = location_weight(vm, np.array([40.0]), np.array([True]), W)
    assert np.allclose(w, [[2.0, 1.0, 0.0]])
    congested = location_weight(vm, np.array([100.0]), np.array([True]), W)
    assert np.allclose(congested - w, 1.0)
    exporting = location_weight(vm, np.array([100.0]), np.array([False]), W)
    assert np.allclose(exporting, w)


def test_availability_scales_the_reward() -> None:
    energy = np.full((4, 2), 1000)
    accepted = np.ones((4, 2), bool)
    available = np.array([[True, True], [True, True], [True, False], [True, False]])
    reward, score = epoch_rewards(
        energy, accepted, available, np.ones((4, 2)), np.ones(2, bool), 3 * 10**6
    )
    assert score[0] == 2 * score[1]
    assert reward[0] == 2 * 10**6
    assert reward[1] == 10**6


def test_a_partial_epoch_gets_its_share_of_the_pool() -> None:
    pool = 1_000 * 10**6
    assert epoch_pool(pool, 672, 672) == pool
    assert epoch_pool(pool, 192, 672) == pool * 2 // 7  # two days of a week
    assert epoch_pool(pool, 900, 672) == pool  # never more than a whole epoch


def test_a_battery_that_is_a_net_sink_earns_nothing_for_energy() -> None:
    # PV delivers 1000 Wh twice; the battery charges 600 and gives back 500: a net sink
    energy = np.array([[1000, -600], [1000, 500]])
    ones = np.ones((2, 2), bool)
    storage = np.array([False, True])
    gross, _ = epoch_rewards(energy, ones, ones, np.ones((2, 2)), np.ones(2, bool), 10**6)
    assert gross[1] > 0  # rewarded for gross discharge, the audit's finding
    net, _ = epoch_rewards(
        energy, ones, ones, np.ones((2, 2)), np.ones(2, bool), 10**6, net_only=storage
    )
    assert net.tolist() == [10**6, 0]
    # a battery that adds energy net is paid for the net share of its discharge
    energy = np.array([[1000, -100], [1000, 500]])
    net, _ = epoch_rewards(
        energy, ones, ones, np.ones((2, 2)), np.ones(2, bool), 10**6, net_only=storage
    )
    assert net[1] == round(10**6 * 400 / 2400)


def test_location_weight_is_one_at_the_grid_s_own_voltage() -> None:
    """With the slack at 1.025 p.u. the old weights penalised every device; measured from the
    interval's reference voltage an ordinary device weighs 1, a relieving one more."""
    vm = np.array([[1.025, 1.045, 1.0]])
    ref = np.array([1.025])
    w = location_weight(vm, np.array([40.0]), np.array([True]), W, vm_ref_pu=ref)
    assert w[0, 0] == 1.0
    assert w[0, 1] < 1.0 < w[0, 2]
    old = location_weight(vm, np.array([40.0]), np.array([True]), W)
    assert old[0, 0] < 0.6  # the audit's finding
