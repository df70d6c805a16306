"""The grid operator's dimming of controllable loads (§14a EnWG), before curtailment.

Germany's §14a EnWG (BNetzA ruling BK6-22-300, in force since 2024) lets the distribution
system operator dim *controllable consumption devices* (heat pumps, wallboxes, batteries
charging from the grid; each above 4.2 kW) down to no less than 4.2 kW each while the grid is
congested, in exchange for a reduced grid fee. This module is that operator, acting in real
time, interval by interval, *after* every node has set its meter and *before* the interval is
metered (:meth:`DimmingOperator.process`, the last node process of an interval):

1. the interval's AC power flow; a **demand-driven** violation is a bus under ``vm_min`` or
   a branch over ``max_loading`` whose flow is import-driven (the direction test of
   :func:`grid.curtailment.curtail`); over-voltage and export overloads are left to
   curtailment, which acts on generation later (:mod:`twin.layers.market`);
2. the devices that contribute most to the worst under-voltage bus and the worst import
   overload (sensitivities of :class:`grid.curtailment.Sensitivities`: a MW consumed lowers
   a bus voltage as much as a MW generated raises it) give way, by ``mode``:

   - ``dim`` (§14a): device ``j`` gives ``theta * s_j * x_j`` with ``x_j`` its headroom
     above the floor (``floor_kw``), ``theta`` so that the linear estimate clears the
     violation plus the margin of :mod:`grid.curtailment`; no device goes below the floor;
   - ``switch_off`` (the operator's older tool, ripple-control interruption): whole devices
     are switched off (to 0 kW), those with the largest contribution ``s_j * p_j`` first,
     until the linear estimate clears the violation plus the same margin;

3. the interval is solved again and, while a demand-driven violation is left and something
   can still give way, another round (at most ``rounds``).

What a device gives up has consequences (:func:`withdraw`): an EV charges less (its session
may then end short), a heat pump heats less (the building cools), a battery charges less.
Powers: load convention [MW], consumption positive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import simpy

from grid.curtailment import LOADING_MARGIN_PERCENT, V_MARGIN_PU, Sensitivities, share, violated
from grid.flex import FlexNodes
from grid.nodes import BatteryNodes, Meters, Process
from grid.powerflow import PowerFlowBatch

#: How the operator relieves a demand-driven violation (see the module docs).
DimMode = Literal["dim", "switch_off"]

Solve = Callable[[np.ndarray, np.ndarray], PowerFlowBatch]


@dataclass(frozen=True)
class Controllable:
    """The controllable devices the operator may dim: one entry a device.

    Attributes
    ----------
    rows : ndarray of int
        The devices' rows in the node table.
    kind : ndarray of str
        ``ev`` (a charger), ``heat_pump`` or ``battery``.
    position : ndarray of int
        The device's position in its fleet (:class:`grid.flex.EvFleet`,
        :class:`grid.flex.HeatPumpFleet` or :class:`grid.nodes.BatteryNodes`).
    p_max_mw : ndarray
        Rated power [MW].
    """

    rows: np.ndarray
    kind: np.ndarray
    position: np.ndarray
    p_max_mw: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def controllable(flex: FlexNodes, batteries: BatteryNodes, floor_mw: float) -> Controllable:
    """The devices rated above the floor: every charger, heat pump and home battery."""
    parts = [
        ("ev", flex.ev_rows, flex.ev.p_max_mw),
        ("heat_pump", flex.hp_rows, flex.hp.p_max_mw),
        ("battery", batteries.rows, batteries.p_max_mw),
    ]
    rows, kind, pos, p_max = [], [], [], []
    for name, r, pm in parts:
        keep = np.flatnonzero(pm > floor_mw + 1e-12)
        rows.append(r[keep])
        kind.append(np.full(len(keep), name, dtype=object))
        pos.append(keep)
        p_max.append(pm[keep])
    return Controllable(
        rows=np.concatenate(rows).astype(np.int64),
        kind=np.concatenate(kind).astype(str),
        position=np.concatenate(pos).astype(np.int64),
        p_max_mw=np.concatenate(p_max).astype(float),
    )


def demand_needs(
    p_mw: np.ndarray,
    vm_pu: np.ndarray,
    loading_percent: np.ndarray,
    sens: Sensitivities,
    vm_min: float,
    max_loading: float,
) -> list[tuple[float, np.ndarray]]:
    """One interval's demand-driven violations as (need, sensitivity per node bus) pairs.

    The worst bus under ``vm_min`` asks for ``vm_min - vm + margin`` [p.u.] with the voltage
    drop per MW consumed at each node bus [p.u./MW]; the worst overloaded branch, if its flow
    is import-driven, for ``loading - max_loading + margin`` [%] with the loading per MW
    consumed [%/MW]. Empty: no demand-driven violation.
    """
    needs: list[tuple[float, np.ndarray]] = []
    under = vm_min - vm_pu
    b = int(under.argmax())
    if under[b] > 0:
        needs.append((float(under[b] + V_MARGIN_PU), np.clip(sens.dv[:, b], 0.0, None)))
    if len(loading_percent):
        over = loading_percent - max_loading
        br = int(over.argmax())
        injection = sens.node_bus @ (-p_mw)  # generation positive, per node bus [MW]
        reverse = float(injection @ sens.dl[:, br]) > 0
        if over[br] > 0 and not reverse:
            need = float(over[br] + LOADING_MARGIN_PERCENT)
            needs.append((need, np.clip(sens.dl[:, br], 0.0, None)))
    return needs


def give_way(
    needs: list[tuple[float, np.ndarray]], s_col: np.ndarray, x: np.ndarray, mode: DimMode
) -> np.ndarray:
    """What each device gives up this round [MW] (see the module docs).

    Parameters
    ----------
    needs : list of (float, ndarray)
        :func:`demand_needs`.
    s_col : ndarray of int
        Each device's row in the sensitivities (its bus).
    x : ndarray
        What each device can give: its power above the floor (``dim``) or its power
        (``switch_off``) [MW].
    mode : {"dim", "switch_off"}
    """
    cut = np.zeros_like(x)
    for need, s_bus in needs:
        s = s_bus[s_col]
        if mode == "dim":
            part = share(np.array([need]), s[None, :], x[None, :])[0]
            cut = np.maximum(cut, np.minimum(part, x))
        else:
            relief = s * x
            order = np.argsort(-relief, kind="stable")
            before = np.cumsum(relief[order]) - relief[order]
            off = order[(before < need) & (relief[order] > 0)]
            cut[off] = x[off]
    return cut


def withdraw(
    flex: FlexNodes,
    batteries: BatteryNodes,
    devices: Controllable,
    k: int,
    cut_mw: np.ndarray,
    soc_log: np.ndarray | None = None,
) -> None:
    """Take interval ``k``'s dimmed power ``cut_mw`` (one a device) [MW] out of the devices'
    states and logs: the EV session got less energy, the building less heat, the battery
    less charge."""
    dt_h = flex.interval_s / 3600.0
    for kind in ("ev", "heat_pump", "battery"):
        mine = devices.kind == kind
        if not mine.any():
            continue
        pos, e_kwh = devices.position[mine], cut_mw[mine] * 1e3 * dt_h
        if kind == "ev":
            session = flex.ev.current(k)[pos]
            ok = session >= 0
            flex.ev.delivered_kwh[session[ok]] -= e_kwh[ok]
            flex.ev_delivered_log[k, pos[ok]] = flex.ev.delivered_kwh[session[ok]]
        elif kind == "heat_pump":
            heat = flex.hp.cop[k, pos] * e_kwh
            flex.hp.store_kwh[pos] -= heat
            flex.hp_heat_log[k, pos] -= heat
            flex.hp_temperature_log[k] = flex.hp.temperature_c()
        else:
            batteries.soc_kwh[pos] -= e_kwh * batteries.eta_charge
            if soc_log is not None:
                soc_log[k, pos] = batteries.soc_kwh[pos]


@dataclass
class DimmingOperator:
    """The operator's dimming, one interval at a time; see the module docs.

    Attributes
    ----------
    devices : Controllable
        Who may be dimmed.
    floor_mw : float
        No device is dimmed below this [MW] (``switch_off``: 0).
    mode : {"dim", "switch_off"}
    solve : callable
        The run's batch power flow.
    sensitivities : callable
        Returns the grid's :class:`grid.curtailment.Sensitivities` (computed on first use).
    flex : FlexNodes
    batteries : BatteryNodes
    vm_min, vm_max, max_loading : float
        Voltage band [p.u.] and loading limit [%].
    rounds : int
        At most this many re-solves an interval.
    requested_mw, p_mw : ndarray, shape (interval, device)
        Each device's power before and after the operator acted [MW].
    violations_before, violations_after : ndarray of int, shape (interval,)
        The interval's violations (every kind) before and after dimming [count].
    """

    devices: Controllable
    floor_mw: float
    mode: DimMode
    solve: Solve
    sensitivities: Callable[[], Sensitivities]
    flex: FlexNodes
    batteries: BatteryNodes
    vm_min: float
    vm_max: float
    max_loading: float
    rounds: int
    n_intervals: int
    requested_mw: np.ndarray = field(init=False)
    p_mw: np.ndarray = field(init=False)
    violations_before: np.ndarray = field(init=False)
    violations_after: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_intervals, len(self.devices))
        self.requested_mw = np.zeros(shape)
        self.p_mw = np.zeros(shape)
        self.violations_before = np.zeros(self.n_intervals, dtype=np.int64)
        self.violations_after = np.zeros(self.n_intervals, dtype=np.int64)

    def act(self, k: int, p_mw: np.ndarray, q_mvar: np.ndarray) -> np.ndarray:
        """Interval ``k``: dim until its demand-driven violations clear (or nothing is left
        to dim); returns the dimmed power per device [MW] (>= 0). ``p_mw`` is updated."""
        rows = self.devices.rows
        self.requested_mw[k] = p_mw[rows]
        flow = self.solve(p_mw[None, :], q_mvar[None, :])
        count = violated(flow, self.vm_min, self.vm_max, self.max_loading)
        self.violations_before[k] = self.violations_after[k] = int(count[0])
        floor = 0.0 if self.mode == "switch_off" else self.floor_mw
        done = 0
        while count[0] and flow.converged[0] and done < self.rounds:
            sens = self.sensitivities()
            needs = demand_needs(
                p_mw, flow.vm_pu[0], flow.loading_percent[0], sens, self.vm_min, self.max_loading
            )
            x = np.clip(p_mw[rows] - floor, 0.0, None)
            cut = give_way(needs, sens.node_col[rows], x, self.mode) if needs else 0.0 * x
            if cut.sum() <= 0:
                break
            p_mw[rows] -= cut
            flow = self.solve(p_mw[None, :], q_mvar[None, :])
            count = violated(flow, self.vm_min, self.vm_max, self.max_loading)
            self.violations_after[k] = int(count[0])
            done += 1
        self.p_mw[k] = p_mw[rows]
        return np.asarray(self.requested_mw[k] - self.p_mw[k])

    def process(
        self, env: simpy.Environment, meters: Meters, soc_log: np.ndarray | None = None
    ) -> Process:
        """Each interval, after every other node process: dim and take it out of the
        devices' states (``soc_log[k]``: the batteries' state of charge at its end [kWh])."""
        for k in range(self.n_intervals):
            cut = self.act(k, meters.p_mw, meters.q_mvar)
            if cut.any():
                withdraw(self.flex, self.batteries, self.devices, k, cut, soc_log)
            yield env.timeout(self.flex.interval_s)
