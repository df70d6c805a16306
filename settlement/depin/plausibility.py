"""Physics as a fraud check: is a signed reading one the device can have metered?

A valid signature proves who signed, not that the energy was there: a device that signs
inflated readings (:mod:`settlement.depin.fraud`) is caught here, or not at all.

**Checks** (:func:`plausibility_flags`, per reading, vectorised; bits of :data:`FLAGS`):

- ``nameplate`` (solar, wind, battery): ``|energy_wh| > p_max * interval * (1 + tol) + slack``;
- ``negative`` (solar, wind): a generation reading below zero;
- ``clear_sky`` (solar): above ``p_max * G / 1000 * (1 + margin) * interval + slack``, ``G``
  the interval's clear-sky ceiling irradiance (the caller computes it; the run uses
  ``forecasting.solar.clear_sky_ceiling_w_per_m2``);
- ``peer`` (solar): specific yield (energy / nameplate energy) above the median specific yield of
  the *other* PV devices in that interval times ``1 + peer_tolerance``, plus ``slack``;
- ``peer_period`` (solar): the upload's energy above the peers' median energy over the same
  intervals times ``1 + peer_period_tolerance`` plus ``slack * sqrt(active intervals)``; flags
  every reading of the upload. Averaging a period of noise away is what separates an
  inflation by 1.3 from honest noise of 5 % (per interval they are only ~2.6 sigma apart);
- ``battery`` (battery): a discharge the readings cannot have stored: the state of charge
  booked from the readings, ``s_t = min(C, s_{t-1} + eta_c * charged - discharged / eta_d)``
  from ``s_0 = soc_initial * C`` (``C`` the capacity), goes below ``-(tol * C + slack)``.

Consumer meters are not checked: their ``p_max_mw`` is a reference peak that honest loads
exceed, and some SimBench loads are negative. Wind gets nameplate and sign only: a single
turbine has no peers (and several differ by wake and hub height), so an inflation below
nameplate goes unseen. A battery's inflation shows only when it cycles near its capacity.
Peers are the other PV readings of the same upload period: those of the same batch, and
those the journal already holds of that period (``peers``, :mod:`settlement.depin.peers`): a late
upload meets the peers of its own period, not those of the batch it arrives with. The held
readings are context only: their own verdicts stand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from settlement.depin.devices import DEVICE_KINDS
from settlement.depin.peers import PeerReadings, peer_context, peer_excess
from settlement.depin.uploads import DEFAULT_PERIOD_INTERVALS

FLAGS = {
    "nameplate": 1,
    "negative": 2,
    "clear_sky": 4,
    "peer": 8,
    "peer_period": 16,
    "battery": 32,
    "state_estimation": 64,
}
"""Bit of each physics check in a reading's ``flags``. ``state_estimation`` is set by the
grid-side check (the run's state estimation against the substation meter and the smart
meters' voltages, :mod:`grid.estimation`), not by :func:`plausibility_flags`: a reason code
that slashing can read."""

BatteryBook = dict[int, tuple[int, float]]
"""Battery bookkeeping: device id -> (last interval booked, stored energy at its end [Wh])."""


_SOLAR, _WIND, _BATTERY = (DEVICE_KINDS.index(k) for k in ("solar", "wind", "battery"))
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Plausibility:
    """Thresholds of the physics checks; defaults keep honest devices with 5 % noise clear.

    Attributes
    ----------
    nameplate_tolerance : float
        Relative tolerance on nameplate x interval [-].
    slack_wh : float
        Absolute slack of every energy comparison (integer rounding) [Wh].
    clear_sky_margin : float
        Margin on the clear-sky ceiling (cloud enhancement, module tolerance) [-].
    peer_tolerance : float
        Per interval: relative excess of specific yield over the peers' median [-].
    peer_period_tolerance : float
        Per upload: relative excess of the period's energy over the peers' median [-].
    battery_charge_efficiency, battery_discharge_efficiency : float
        Efficiencies of the SoC bookkeeping [-] (1: most lenient).
    battery_soc_initial : float
        Stored energy assumed at a battery's first booked reading and after a gap, as a share
        of its capacity [-] (1: most lenient).
    battery_tolerance : float
        Deficit tolerated before a discharge is flagged, as a share of capacity [-].
    """

    nameplate_tolerance: float = 0.02
    slack_wh: float = 2.0
    clear_sky_margin: float = 0.25
    peer_tolerance: float = 0.4
    peer_period_tolerance: float = 0.1
    battery_charge_efficiency: float = 1.0
    battery_discharge_efficiency: float = 1.0
    battery_soc_initial: float = 1.0
    battery_tolerance: float = 0.01

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{f.name} must be finite and >= 0, got {value}")
        for name in ("battery_charge_efficiency", "battery_discharge_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in (0, 1]")
        if self.battery_soc_initial > 1:
            raise ValueError("battery_soc_initial must lie in [0, 1]")


def flag_names(flags: int) -> list[str]:
    """Names of the checks set in a reading's ``flags``."""
    return [name for name, bit in FLAGS.items() if flags & bit]


def plausibility_flags(
    device_id: Any,
    upload: Any,
    interval: Any,
    energy_wh: Any,
    kind: Any,
    p_max_mw: Any,
    capacity_kwh: Any,
    *,
    interval_s: int,
    period_intervals: int = DEFAULT_PERIOD_INTERVALS,
    clear_sky_w_per_m2: FloatArray | None = None,
    limits: Plausibility | None = None,
    battery_book: Mapping[int, tuple[int, float]] | None = None,
    peers: Mapping[int, PeerReadings] | None = None,
) -> tuple[npt.NDArray[np.uint8], BatteryBook]:
    """Physics checks of readings, per reading and vectorised (see the module docstring).

    At most one reading per (device, interval): the journal's replay check comes first.

    Parameters
    ----------
    device_id, upload, interval : array_like of int, shape (n,)
        Device, upload (any id grouping a device's readings of one period) and interval.
    energy_wh : array_like of int, shape (n,)
        Readings [Wh], each device's production convention.
    kind : array_like of int, shape (n,)
        Index of the device's kind in :data:`settlement.depin.devices.DEVICE_KINDS`.
    p_max_mw, capacity_kwh : array_like of float, shape (n,)
        The device's rated power [MW] and storage capacity [kWh].
    interval_s : int
        Interval length [s].
    period_intervals : int
        Upload period [intervals] (peers are compared one period at a time).
    clear_sky_w_per_m2 : ndarray, optional
        Ceiling irradiance per interval number [W/m^2] (the run's comes from
        ``forecasting.solar.clear_sky_ceiling_w_per_m2``); None skips the clear-sky check.
    limits : Plausibility, optional
        Thresholds; the defaults if None.
    battery_book : mapping, optional
        Battery bookkeeping carried from earlier batches.
    peers : mapping of int to PeerReadings, optional
        The PV readings already held of each upload period (:func:`held_peers`): peers of
        these readings' PV checks, not checked themselves. None: only the batch's own.

    Returns
    -------
    flags : ndarray of uint8, shape (n,)
        Bits of :data:`FLAGS`; 0 = plausible.
    battery_book : dict
        The bookkeeping after these readings (earlier entries included).
    """
    lim = limits or Plausibility()
    device = np.asarray(device_id, dtype=np.int64)
    group = np.asarray(upload, dtype=np.int64)
    when = np.asarray(interval, dtype=np.int64)
    e = np.asarray(energy_wh, dtype=np.float64)
    code = np.asarray(kind, dtype=np.int64)
    e_max = np.asarray(p_max_mw, dtype=np.float64) * 1e6 * interval_s / 3600.0
    flags = np.zeros(len(e), dtype=np.uint8)
    generator = (code == _SOLAR) | (code == _WIND)
    rated = generator | (code == _BATTERY)
    over = np.abs(e) > e_max * (1 + lim.nameplate_tolerance) + lim.slack_wh
    flags[rated & over] |= FLAGS["nameplate"]
    flags[generator & (e < 0)] |= FLAGS["negative"]
    solar = np.flatnonzero(code == _SOLAR)
    if clear_sky_w_per_m2 is not None and len(solar):
        sky = np.asarray(clear_sky_w_per_m2, dtype=np.float64)
        k = when[solar]
        if int(k.max()) >= len(sky):
            raise ValueError(f"clear_sky_w_per_m2 has {len(sky)} intervals, needs {k.max() + 1}")
        ceiling = e_max[solar] * sky[k] / 1000.0 * (1 + lim.clear_sky_margin) + lim.slack_wh
        flags[solar[e[solar] > ceiling]] |= FLAGS["clear_sky"]
    if len(solar):
        held = peer_context(peers or {}, np.unique(when[solar] // period_intervals))
        n_sol = len(solar)
        high, high_period = peer_excess(
            np.concatenate([device[solar], held.device_id]),
            np.concatenate([group[solar], -1 - held.device_id]),  # held: one upload a device
            np.concatenate([when[solar], held.interval]),
            np.concatenate([e[solar], held.energy_wh.astype(np.float64)]),
            np.concatenate([e_max[solar], held.p_max_mw * 1e6 * interval_s / 3600.0]),
            period_intervals,
            tolerance=lim.peer_tolerance,
            period_tolerance=lim.peer_period_tolerance,
            slack_wh=lim.slack_wh,
        )
        flags[solar[high[:n_sol]]] |= FLAGS["peer"]
        flags[solar[high_period[:n_sol]]] |= FLAGS["peer_period"]
    book: BatteryBook = dict(battery_book or {})
    battery = np.flatnonzero(code == _BATTERY)
    if len(battery):
        capacity_wh = np.asarray(capacity_kwh, dtype=np.float64)[battery] * 1e3
        bad = _battery_flags(device[battery], when[battery], e[battery], capacity_wh, lim, book)
        flags[battery[bad]] |= FLAGS["battery"]
    return flags, book


def _battery_flags(
    device: npt.NDArray[np.int64],
    when: npt.NDArray[np.int64],
    e: FloatArray,
    capacity_wh: FloatArray,
    lim: Plausibility,
    book: BatteryBook,
) -> npt.NDArray[np.bool_]:
    """Discharges the booked state of charge cannot cover; updates ``book`` in place.

    ``s_t = min(C, s_{t-1} + x_t)`` is ``S_t + min(s_0, C - max_{k<=t} S_k)`` with ``S`` the
    cumulative sum of ``x`` (``S_0 = 0``), so all batteries are booked at once with
    ``cumsum`` and ``maximum.accumulate``. A gap in a battery's readings resets it to
    ``soc_initial * C`` (an unknown state is assumed full, by default), written as a charge
    large enough to hit the capacity.
    """
    ids, column = np.unique(device, return_inverse=True)
    first, last = int(when.min()), int(when.max())
    row = when - first
    x = lim.battery_charge_efficiency * np.maximum(-e, 0.0) - np.maximum(e, 0.0) / (
        lim.battery_discharge_efficiency
    )
    n_rows, n_dev = last - first + 1, len(ids)
    cap = np.zeros(n_dev)
    cap[column] = capacity_wh
    begin = np.full(n_dev, n_rows)
    np.minimum.at(begin, column, row)
    end = np.full(n_dev, -1)
    np.maximum.at(end, column, row)
    start = cap * lim.battery_soc_initial
    for j, device_id in enumerate(ids.tolist()):
        booked = book.get(device_id)
        if booked is not None and booked[0] == first + int(begin[j]) - 1:
            start[j] = min(booked[1], cap[j])
    steps = np.zeros((n_rows, n_dev))
    steps[row, column] = x
    present = np.zeros((n_rows, n_dev), dtype=bool)
    present[row, column] = True
    span = np.arange(n_rows)[:, None]
    gap = ~present & (span > begin) & (span < end)
    big = cap + np.abs(start) + np.bincount(column, weights=np.abs(x), minlength=n_dev) + 1.0
    steps = np.where(gap, big, steps)
    total = np.cumsum(steps, axis=0)
    peak = np.maximum.accumulate(np.maximum(total, 0.0), axis=0)
    stored = total + np.minimum(start, cap - peak)
    bad = (e > 0) & (stored[row, column] < -(lim.battery_tolerance * cap[column] + lim.slack_wh))
    for j, device_id in enumerate(ids.tolist()):
        booked = book.get(device_id)
        if booked is None or booked[0] < first + int(end[j]):
            book[device_id] = (first + int(end[j]), float(stored[end[j], j]))
    return np.asarray(bad, dtype=np.bool_)
