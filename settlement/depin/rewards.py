"""DePIN rewards of one epoch, as a pure function.

Each epoch (default one day) a fixed pool of reward tokens is shared among the devices that
deliver energy (PV inverters, wind turbines, batteries discharging; consumer meters sign
readings but earn nothing). Only accepted readings count: a rejected or implausible reading
delivers nothing here.

For device ``d`` and interval ``k`` of the epoch, with ``e[k, d]`` the verified delivered
energy [Wh] (a battery's discharge; never negative):

- location weight, from that interval's power flow at the device's bus and in the grid,
  voltages measured from the interval's reference (the median bus voltage, so an ordinary
  device weighs about 1)::

      w[k, d] = max(0, 1 + a_v * support[k, d] + a_c * relief[k] - a_s * stress[k, d])

  ``support = clip((ref - vm) / (ref - vm_min), 0, 1)``: energy injected where the voltage sags
  supports it (1 at the lower band edge); ``stress = clip((vm - ref) / (vm_max - ref), 0, 1)``:
  injected where the voltage is already high it makes things worse (at the upper band edge,
  with ``a_s = 1``, it earns nothing); ``relief = clip((L - L0) / (100 - L0), 0, 1)`` while the
  grid imports (demand-driven flow), ``L`` the interval's highest branch loading [%]: local
  supply relieves a congested line or transformer.
- availability ``A[d]``: the share of the epoch's intervals in which the device was up and its
  reading was accepted.
- score and reward::

      score[d] = A[d] * sum_k e[k, d] * w[k, d]
      reward[d] = pool * score[d] / sum(score), in whole base units (largest remainders)

Rewards are integers (token base units) summing to exactly ``pool``, so the token's supply
equals the rewards computed. The pool of an epoch the run covers only in part is that part
of the pool (:func:`epoch_pool`). Batteries earn for the energy they add over the epoch, net
of what they took in (``net_only``).

On chain, an epoch's rewards are the leaves of a Merkle tree (:func:`reward_leaves`), following
OpenZeppelin's StandardMerkleTree as :mod:`settlement.chain.merkle` does:
``keccak256(keccak256(abi.encode(uint256 epoch, uint256 deviceId, uint256 amount)))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from settlement.chain.merkle import keccak256


@dataclass(frozen=True)
class RewardWeights:
    """The formula's coefficients (see the module docstring)."""

    voltage_support: float = 1.0
    congestion_relief: float = 1.0
    voltage_stress: float = 1.0
    loading_threshold_percent: float = 50.0
    vm_min_pu: float = 0.95
    vm_max_pu: float = 1.05


def location_weight(
    vm_pu: np.ndarray,
    loading_max_percent: np.ndarray,
    importing: np.ndarray,
    w: RewardWeights,
    vm_ref_pu: np.ndarray | None = None,
) -> np.ndarray:
    """The location weight ``w[k, d]`` from bus voltages (interval, device) and grid state.

    Support and stress are measured from the interval's reference voltage ``vm_ref_pu``
    (interval,): the grid's typical voltage then (the run passes the median bus voltage), so
    an ordinary device weighs about 1 however high the slack holds the feeder, a device where
    the voltage sags below it earns more, one where its export lifts the voltage above it
    earns less. Without ``vm_ref_pu`` the reference is 1 p.u. NaN voltages (an interval whose
    power flow failed) weigh 1.
    """
    vm = np.nan_to_num(np.asarray(vm_pu, dtype=float), nan=1.0)
    if vm_ref_pu is None:
        ref = np.ones((vm.shape[0], 1))
    else:
        ref = np.nan_to_num(np.asarray(vm_ref_pu, dtype=float), nan=1.0)[:, None]
        vm = np.where(np.isnan(np.asarray(vm_pu, dtype=float)), ref, vm)
    low = np.maximum(ref - w.vm_min_pu, 1e-3)  # band below and above the reference [p.u.]
    high = np.maximum(w.vm_max_pu - ref, 1e-3)
    support = np.clip((ref - vm) / low, 0.0, 1.0)
    stress = np.clip((vm - ref) / high, 0.0, 1.0)
    load = np.nan_to_num(np.asarray(loading_max_percent, dtype=float), nan=0.0)
    relief = np.clip(
        (load - w.loading_threshold_percent) / (100.0 - w.loading_threshold_percent), 0.0, 1.0
    ) * np.asarray(importing, dtype=bool)
    weight = (
        1.0
        + w.voltage_support * support
        + w.congestion_relief * relief[:, None]
        - w.voltage_stress * stress
    )
    return np.maximum(weight, 0.0)


def epoch_pool(pool_per_epoch: int, intervals: int, epoch_intervals: int) -> int:
    """The pool of an epoch the run covers ``intervals`` of ``epoch_intervals`` [base units]:
    a partial epoch (the run's last, or a run shorter than an epoch) gets its share."""
    return int(pool_per_epoch) * min(intervals, epoch_intervals) // epoch_intervals


def epoch_rewards(
    energy_wh: np.ndarray,
    accepted: np.ndarray,
    available: np.ndarray,
    weight: np.ndarray,
    eligible: np.ndarray,
    pool: int,
    net_only: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each device's reward for one epoch.

    Parameters
    ----------
    energy_wh : ndarray of int, shape (interval, device)
        Each reading's energy in the device's production convention [Wh] (a battery's
        discharge positive, its charge negative); negative values deliver nothing.
    accepted : ndarray of bool, shape (interval, device)
        Whether the reading was accepted (signature, replay, registry and physics checks).
    available : ndarray of bool, shape (interval, device)
        Whether the device was up (not in an outage).
    weight : ndarray, shape (interval, device)
        Location weights (:func:`location_weight`).
    eligible : ndarray of bool, shape (device,)
        Devices that earn (generators and batteries).
    pool : int
        Reward tokens of the epoch [base units] (:func:`epoch_pool`).
    net_only : ndarray of bool, shape (device,), optional
        Devices rewarded for the energy they add to the grid over the epoch, net: storage.
        Their deliveries count in proportion ``max(0, discharged - charged) / discharged``,
        so a battery that took in at least what it gave back earns nothing for energy, and
        PV energy that passed through a battery is rewarded once, at the PV.

    Returns
    -------
    reward : ndarray of int64, shape (device,)
        Token base units per device; sums to exactly ``pool`` when any device scores (the
        floors' remainder goes to the largest fractional parts), else zero.
    score : ndarray, shape (device,)
        Each device's score ``A * sum(e * w)``.
    """
    raw = np.where(accepted, np.asarray(energy_wh, dtype=float), 0.0)
    e = np.maximum(raw, 0.0)
    if net_only is not None and len(e):
        gross = e.sum(axis=0)
        net = np.maximum(raw.sum(axis=0), 0.0)
        share = np.divide(net, gross, out=np.zeros_like(gross), where=gross > 0)
        e = e * np.where(np.asarray(net_only, dtype=bool), share, 1.0)
    n = max(len(e), 1)
    availability = (np.asarray(accepted) & np.asarray(available)).sum(axis=0) / n
    score = availability * (e * weight).sum(axis=0) * np.asarray(eligible, dtype=bool)
    total = score.sum()
    if pool <= 0 or total <= 0:
        return np.zeros(score.shape, dtype=np.int64), score
    exact = score / total * pool
    scaled = np.floor(exact).astype(np.int64)
    left = int(pool) - int(scaled.sum())
    if left > 0:  # largest remainders first, ties by device order
        order = np.argsort(-(exact - scaled), kind="stable")[:left]
        scaled[order] += 1
    elif left < 0:  # float rounding overshot: take the excess from the largest rewards
        order = np.argsort(-scaled, kind="stable")[:-left]
        scaled[order] -= 1
    return np.maximum(scaled, 0), score


def reward_leaves(epoch: int, device_ids: Sequence[int], amounts: Sequence[int]) -> list[bytes]:
    """The Merkle leaves of an epoch's rewards, as ``Rewards.rewardLeaf`` computes them.

    Parameters
    ----------
    epoch : int
        The epoch.
    device_ids, amounts : sequence of int
        One device and its reward [token base units] per leaf; all integers in ``[0, 2**256)``.

    Returns
    -------
    list of bytes
        One 32-byte leaf per device, in the order given.
    """
    if len(device_ids) != len(amounts):
        raise ValueError(f"{len(device_ids)} device ids but {len(amounts)} amounts")
    head = int(epoch).to_bytes(32, "big")
    return [
        keccak256(keccak256(head + int(d).to_bytes(32, "big") + int(a).to_bytes(32, "big")))
        for d, a in zip(device_ids, amounts, strict=True)
    ]
