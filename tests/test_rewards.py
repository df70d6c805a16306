"""The reward formula: integer rewards within the pool, only accepted energy, location."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from settlement.depin.rewards import RewardWeights, epoch_rewards, location_weight

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
    if score.sum() > 0 and pool >= 10**6:
        assert reward.sum() >= pool - len(reward)  # floors lose at most 1 unit a device


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
