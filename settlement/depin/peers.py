"""The PV peer check, and the peers the journal holds for late uploads.

Every PV system of the community shares its sky: a reading far above the others' specific
yield (energy / nameplate energy) in the same interval, or an upload above them over its
period, is a lie or a fault (:func:`peer_excess`; the ``peer`` and ``peer_period`` bits of
:func:`settlement.depin.plausibility.plausibility_flags`). The peers of a reading are the other
PV readings of its own upload period: those of its batch and those the journal already holds
of that period (:class:`PeerReadings`, per period a :data:`PeerBook`), so an upload that
arrives late meets the peers of its own period, not those of the batch it arrives with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class PeerReadings(NamedTuple):
    """The PV readings of one upload period the journal already holds (accepted or flagged):
    the peers a late upload of that period meets.

    Attributes
    ----------
    device_id, interval : ndarray of int64, shape (n,)
        Each reading's device and interval.
    energy_wh : ndarray of int64, shape (n,)
        Readings [Wh].
    p_max_mw : ndarray of float64, shape (n,)
        The device's rated power [MW].
    """

    device_id: IntArray
    interval: IntArray
    energy_wh: IntArray
    p_max_mw: FloatArray


PeerBook = dict[int, PeerReadings]
"""The PV readings held per upload period: period -> :class:`PeerReadings`."""


def held_peers(
    peers: Mapping[int, PeerReadings],
    device_id: Any,
    interval: Any,
    energy_wh: Any,
    p_max_mw: Any,
    *,
    period_intervals: int,
) -> PeerBook:
    """The held PV readings of the periods a batch touched, with its own PV readings added.

    Parameters
    ----------
    peers : mapping of int to PeerReadings
        What was held before the batch, per upload period.
    device_id, interval, energy_wh : array_like of int, shape (n,)
        The batch's PV readings the journal now holds (accepted or flagged).
    p_max_mw : array_like of float, shape (n,)
        Their devices' rated power [MW].
    period_intervals : int
        Upload period [intervals].

    Returns
    -------
    dict
        period -> every PV reading held of it, for the periods of the batch's readings only
        (the caller merges it into its book).
    """
    device = np.asarray(device_id, dtype=np.int64)
    when = np.asarray(interval, dtype=np.int64)
    energy = np.asarray(energy_wh, dtype=np.int64)
    p_max = np.asarray(p_max_mw, dtype=np.float64)
    period = when // period_intervals
    out: PeerBook = {}
    for p in np.unique(period).tolist():
        mine = period == p
        before = peer_context(peers, np.array([p]))
        out[p] = PeerReadings(
            np.concatenate([before.device_id, device[mine]]),
            np.concatenate([before.interval, when[mine]]),
            np.concatenate([before.energy_wh, energy[mine]]),
            np.concatenate([before.p_max_mw, p_max[mine]]),
        )
    return out


def peer_context(peers: Mapping[int, PeerReadings], periods: IntArray) -> PeerReadings:
    """The held PV readings of ``periods``, concatenated."""
    held = [peers[p] for p in periods.tolist() if p in peers]
    empty = np.zeros(0, dtype=np.int64)
    if not held:
        return PeerReadings(empty, empty, empty, np.zeros(0))
    return PeerReadings(*(np.concatenate(column) for column in zip(*held, strict=True)))


def median_of_others(values: FloatArray) -> FloatArray:
    """Per cell, the median of the other non-NaN values of its row (NaN if none or NaN itself).

    Parameters
    ----------
    values : ndarray, shape (row, column)
        NaN marks a missing value.
    """
    t, d = values.shape
    valid = ~np.isnan(values)
    order = np.argsort(values, axis=1, kind="stable")  # NaN last
    ranked = np.take_along_axis(values, order, axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(d), (t, d)), axis=1)
    others = valid.sum(axis=1, keepdims=True) - 1

    def other(j: IntArray) -> FloatArray:
        """The ``j``-th smallest value of the row without the cell itself."""
        position = np.clip(np.where(j < rank, j, j + 1), 0, d - 1)
        return np.take_along_axis(ranked, position, axis=1)

    low = np.broadcast_to((others - 1) // 2, (t, d))
    high = np.broadcast_to(others // 2, (t, d))
    median = (other(low) + other(high)) / 2.0
    return np.where(valid & (others >= 1), median, np.nan)


def peer_excess(
    device: IntArray,
    group: IntArray,
    when: IntArray,
    e: FloatArray,
    e_max: FloatArray,
    period_intervals: int,
    *,
    tolerance: float,
    period_tolerance: float,
    slack_wh: float,
) -> tuple[BoolArray, BoolArray]:
    """PV readings above their peers, one upload period at a time (the ``peer`` and
    ``peer_period`` checks of :mod:`settlement.depin.plausibility`).

    Parameters
    ----------
    device, group, when : ndarray of int64, shape (n,)
        Each reading's device, upload (a device's readings of one period) and interval.
    e, e_max : ndarray of float64, shape (n,)
        Each reading [Wh] and its device's nameplate energy per interval [Wh].
    period_intervals : int
        Upload period [intervals].
    tolerance, period_tolerance : float
        Relative excess tolerated per interval, and over an upload's intervals [-].
    slack_wh : float
        Absolute slack [Wh].

    Returns
    -------
    interval, period : ndarray of bool, shape (n,)
        Above the peers' median in its interval; its upload above the peers over the period.
    """
    high_interval = np.zeros(len(e), dtype=bool)
    high_period = np.zeros(len(e), dtype=bool)
    period = when // period_intervals
    for p in np.unique(period):
        rows = np.flatnonzero(period == p)
        _, column = np.unique(device[rows], return_inverse=True)
        _, row = np.unique(when[rows], return_inverse=True)
        yield_ = np.full((row.max() + 1, column.max() + 1), np.nan)
        rated = e_max[rows] > 0
        yield_[row[rated], column[rated]] = np.maximum(e[rows][rated], 0) / e_max[rows][rated]
        median = median_of_others(yield_)[row, column]
        has = ~np.isnan(median)
        expected = np.where(has, median * e_max[rows], 0.0)
        energy = np.where(has, e[rows], 0.0)
        high_interval[rows] = has & (energy > expected * (1 + tolerance) + slack_wh)
        _, member = np.unique(group[rows], return_inverse=True)
        compared = np.bincount(member, weights=has)
        active = np.bincount(member, weights=has & ((expected > 0) | (energy > 0)))
        excess = np.bincount(member, weights=energy) - (1 + period_tolerance) * (
            np.bincount(member, weights=expected)
        )
        bad_group = (compared > 0) & (excess > slack_wh * np.sqrt(active))
        high_period[rows] = bad_group[member]
    return high_interval, high_period
