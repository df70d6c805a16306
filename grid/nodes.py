"""SimPy node models: consumers, solar, wind and batteries, and their meters.

Each kind of node is one SimPy process over all nodes of that kind (numpy arrays, not one
process per node, so a feeder of thousands of homes costs a handful of events per interval).
At the start of interval ``k`` (``env.now == k * interval_s``) each process writes its nodes'
power for the interval into the shared :class:`Meters`; the processes run in the order they
were started (outages, consumers, solar, wind, batteries, then the engine's interval
process), which SimPy guarantees for events due at the same time.

Powers follow the load convention: consumption positive, generation negative.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy


@dataclass
class Meters:
    """The meters of all nodes: power in the current interval and availability.

    Attributes
    ----------
    p_mw, q_mvar : ndarray, shape (node,)
        Power of each node in the current interval [MW], [Mvar].
    available : ndarray of bool, shape (node,)
        False while a node is out (its power is then zero).
    """

    n_nodes: int
    p_mw: np.ndarray = field(init=False)
    q_mvar: np.ndarray = field(init=False)
    available: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.p_mw = np.zeros(self.n_nodes)
        self.q_mvar = np.zeros(self.n_nodes)
        self.available = np.ones(self.n_nodes, dtype=bool)


Process = Generator[simpy.Event, Any, None]


@dataclass
class ProfileNodes:
    """Consumers, solar or wind: each node's power is a profile value times its reference.

    Attributes
    ----------
    rows : ndarray of int
        The nodes' rows in the node table.
    p_profiles, q_profiles : ndarray, shape (interval, profile)
        Relative active / reactive profiles [-], one column per distinct profile
        (``q_profiles`` None for unity power factor).
    column : ndarray of int, shape (node,)
        The profile column of each node.
    p_ref_mw, q_ref_mvar : ndarray, shape (node,)
        Reference powers [MW], [Mvar], signed by the load convention (negative for
        generators).
    noise_std : float
        Relative standard deviation of the seeded multiplicative noise [-].
    rng : numpy.random.Generator
        The kind's own random stream.
    """

    rows: np.ndarray
    p_profiles: np.ndarray
    q_profiles: np.ndarray | None
    column: np.ndarray
    p_ref_mw: np.ndarray
    q_ref_mvar: np.ndarray
    noise_std: float
    rng: np.random.Generator

    def power(self, k: int, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Active and reactive power of every node in intervals ``k .. k+n-1`` [MW], [Mvar].

        Returns arrays of shape (n, node). The noise is drawn interval by interval in order,
        so blocks of any size give the same values.
        """
        n = min(n, len(self.p_profiles) - k)
        shape = (n, len(self.rows))
        factor = np.ones(shape)
        if self.noise_std:
            factor = np.clip(1.0 + self.noise_std * self.rng.standard_normal(shape), 0.0, None)
        p = self.p_profiles[k : k + n][:, self.column] * self.p_ref_mw * factor
        if self.q_profiles is None:
            return p, np.zeros_like(p)
        return p, self.q_profiles[k : k + n][:, self.column] * self.q_ref_mvar * factor

    def process(
        self, env: simpy.Environment, meters: Meters, interval_s: int, block: int = 96
    ) -> Process:
        """Meter every node at each interval start (powers computed ``block`` at a time)."""
        rows = self.rows
        for k0 in range(0, len(self.p_profiles), block):
            p_block, q_block = self.power(k0, block)
            for p, q in zip(p_block, q_block, strict=True):
                up = meters.available[rows]
                if up.all():
                    meters.p_mw[rows] = p
                    meters.q_mvar[rows] = q
                else:
                    meters.p_mw[rows] = np.where(up, p, 0.0)
                    meters.q_mvar[rows] = np.where(up, q, 0.0)
                yield env.timeout(interval_s)


class BatteryPolicy(Protocol):
    """Decides what each battery is asked to do in an interval (before its limits)."""

    def request(self, k: int, host_net_mw: np.ndarray, soc_kwh: np.ndarray) -> np.ndarray:
        """Requested power per battery [MW], load convention (charging positive).

        Parameters
        ----------
        k : int
            Interval index.
        host_net_mw : ndarray
            Net power of each battery's home (consumption + PV) without the battery [MW].
        soc_kwh : ndarray
            State of charge at the interval start [kWh].
        """
        ...


class SelfConsumptionRule:
    """Charge from the home's surplus, discharge into its deficit."""

    def request(self, k: int, host_net_mw: np.ndarray, soc_kwh: np.ndarray) -> np.ndarray:
        """The opposite of the home's net power; see :class:`BatteryPolicy`."""
        return -host_net_mw


class IdlePolicy:
    """Batteries do nothing (the baseline without storage control)."""

    def request(self, k: int, host_net_mw: np.ndarray, soc_kwh: np.ndarray) -> np.ndarray:
        """Zero power; see :class:`BatteryPolicy`."""
        return np.zeros_like(host_net_mw)


@dataclass
class BatteryNodes:
    """Batteries behind homes: state of charge, power and energy limits, efficiencies.

    Attributes
    ----------
    rows : ndarray of int
        The batteries' rows in the node table.
    host_rows : ndarray of int
        Row of each battery's home (a consumer).
    behind_rows, behind_hosts : ndarray of int
        Rows of the other nodes behind a home meter (PV) and the row of their home.
    capacity_kwh, p_max_mw : ndarray
        Usable capacity [kWh] and rated power [MW] of each battery.
    eta_charge, eta_discharge : float
        Charge and discharge efficiency [-].
    soc_min, soc_max : float
        State-of-charge band as a share of capacity [-].
    soc_kwh : ndarray
        State of charge [kWh], updated every interval.
    interval_s : int
        Interval length [s].
    policy : BatteryPolicy
        What the batteries are asked to do.
    """

    rows: np.ndarray
    host_rows: np.ndarray
    behind_rows: np.ndarray
    behind_hosts: np.ndarray
    capacity_kwh: np.ndarray
    p_max_mw: np.ndarray
    eta_charge: float
    eta_discharge: float
    soc_min: float
    soc_max: float
    soc_kwh: np.ndarray
    interval_s: int
    policy: BatteryPolicy = field(default_factory=SelfConsumptionRule)

    def limit(self, request_mw: np.ndarray, available: np.ndarray) -> np.ndarray:
        """Clip requested power to power, energy and availability limits [MW]."""
        dt_h = self.interval_s / 3600.0
        room_kwh = self.soc_max * self.capacity_kwh - self.soc_kwh
        stock_kwh = self.soc_kwh - self.soc_min * self.capacity_kwh
        p_charge_max = np.minimum(
            self.p_max_mw, np.maximum(room_kwh, 0.0) / (dt_h * self.eta_charge) / 1e3
        )
        p_discharge_max = np.minimum(
            self.p_max_mw, np.maximum(stock_kwh, 0.0) * self.eta_discharge / dt_h / 1e3
        )
        p = np.clip(request_mw, -p_discharge_max, p_charge_max)
        return np.where(available, p, 0.0)

    def apply(self, p_mw: np.ndarray) -> None:
        """Move the state of charge by one interval at power ``p_mw`` (already limited)."""
        e_kwh = p_mw * 1e3 * self.interval_s / 3600.0
        self.soc_kwh = self.soc_kwh + np.where(
            e_kwh > 0, e_kwh * self.eta_charge, e_kwh / self.eta_discharge
        )

    def host_net(self, meters: Meters) -> np.ndarray:
        """Net power of each battery's home without the battery [MW]."""
        net = meters.p_mw.copy()
        np.add.at(net, self.behind_hosts, meters.p_mw[self.behind_rows])
        return net[self.host_rows]

    def process(
        self, env: simpy.Environment, meters: Meters, n_intervals: int, soc_log: np.ndarray
    ) -> Process:
        """Each interval: ask the policy, respect the limits, meter, update the SoC.

        ``soc_log[k]`` receives the state of charge at the end of interval ``k`` [kWh].
        """
        for k in range(n_intervals):
            request = self.policy.request(k, self.host_net(meters), self.soc_kwh)
            p = self.limit(request, meters.available[self.rows])
            meters.p_mw[self.rows] = p
            meters.q_mvar[self.rows] = 0.0
            self.apply(p)
            soc_log[k] = self.soc_kwh
            yield env.timeout(self.interval_s)


@dataclass
class SharedBatteries:
    """Community batteries in front of the meters, each in service from its own interval on.

    Each interval, after every other node (the home batteries included) has set its power, a
    shared battery in service stores the community's surplus and covers its deficit, as
    metered in that interval: it asks for minus the sum of every other node's power, within
    its power and energy limits (the first battery in service takes what it can, the next the
    rest). Before its interval of service its power is zero (it is not there yet).

    Attributes
    ----------
    rows : ndarray of int
        The batteries' rows in the node table.
    fleet : BatteryNodes
        Their limits and state of charge (host rows unused: they sit behind no meter).
    in_service_from : ndarray of int
        First interval of each battery in the grid (``n_intervals`` or more: not yet).
    """

    rows: np.ndarray
    fleet: BatteryNodes
    in_service_from: np.ndarray

    def commission(self, position: int, k: int) -> None:
        """Battery ``position`` (in :attr:`rows`) is in the grid from interval ``k`` on."""
        self.in_service_from[position] = k

    def process(
        self, env: simpy.Environment, meters: Meters, n_intervals: int, soc_log: np.ndarray
    ) -> Process:
        """Each interval: balance the community's metered net power; ``soc_log[k]`` receives
        the state of charge at the end of interval ``k`` [kWh]."""
        others = np.ones(len(meters.p_mw), dtype=bool)
        others[self.rows] = False
        fleet = self.fleet
        for k in range(n_intervals):
            net_mw = float(meters.p_mw[others].sum())
            p = np.zeros(len(self.rows))
            live = (self.in_service_from <= k) & meters.available[self.rows]
            limit = fleet.limit(np.full(len(self.rows), -net_mw), live)
            for i in np.flatnonzero(live):  # in node order, each takes what is left
                p[i] = limit[i] if abs(limit[i]) <= abs(net_mw) else np.sign(limit[i]) * abs(net_mw)
                net_mw += p[i]
            meters.p_mw[self.rows] = p
            meters.q_mvar[self.rows] = 0.0
            fleet.apply(p)
            soc_log[k] = fleet.soc_kwh
            yield env.timeout(fleet.interval_s)


def outage_process(
    env: simpy.Environment, meters: Meters, events: list[tuple[int, int, bool]]
) -> Process:
    """Apply outage events ``(time_s, row, available)``; start this process first.

    Events due at the same time are applied together, before the node processes meter that
    interval.
    """
    ordered = sorted(events)
    i = 0
    while i < len(ordered):
        t = ordered[i][0]
        if t > env.now:
            yield env.timeout(t - env.now)
        while i < len(ordered) and ordered[i][0] == t:
            _, row, up = ordered[i]
            meters.available[row] = up
            i += 1


def outage_events(
    scheduled: list[tuple[int, float, float]],
    n_nodes: int,
    rate_per_day: float,
    mean_duration_h: float,
    n_intervals: int,
    interval_s: int,
    rng: np.random.Generator,
) -> list[tuple[int, int, bool]]:
    """Outage start/end events snapped to interval boundaries.

    Parameters
    ----------
    scheduled : list of (row, start_h, duration_h)
        Outages named in the scenario.
    n_nodes : int
        Number of nodes that may fail at random.
    rate_per_day : float
        Random outages per node and day [1/d] (Poisson), durations exponential with mean
        ``mean_duration_h`` [h]; at least one interval each.
    """
    horizon_s = n_intervals * interval_s
    spans: list[tuple[int, int, int]] = []
    for row, start_h, duration_h in scheduled:
        start = int(start_h * 3600) // interval_s * interval_s
        end = start + max(1, round(duration_h * 3600 / interval_s)) * interval_s
        spans.append((row, start, end))
    if rate_per_day > 0:
        counts = rng.poisson(rate_per_day * horizon_s / 86_400, size=n_nodes)
        rows = np.repeat(np.arange(n_nodes), counts)
        starts = rng.integers(0, n_intervals, size=len(rows)) * interval_s
        lengths = np.maximum(
            1, np.rint(rng.exponential(mean_duration_h * 3600, len(rows)) / interval_s)
        )
        for r, s0, n in zip(rows, starts, lengths.astype(int), strict=True):
            spans.append((int(r), int(s0), int(s0 + n * interval_s)))
    events: list[tuple[int, int, bool]] = []
    for row, start, end in spans:
        if start >= horizon_s:
            continue
        events.append((start, row, False))
        if end < horizon_s:
            events.append((end, row, True))
    # Overlapping outages of one node: a node is back only when no outage covers it.
    return _merge_overlaps(events)


def _merge_overlaps(events: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    depth: dict[int, int] = {}
    merged: list[tuple[int, int, bool]] = []
    # At equal times, handle ends (True) before starts (False) so back-to-back outages join.
    for t, row, up in sorted(events, key=lambda e: (e[0], not e[2], e[1])):
        d = depth.get(row, 0)
        if up:
            depth[row] = d - 1
            if d - 1 == 0:
                merged.append((t, row, True))
        else:
            depth[row] = d + 1
            if d == 0:
                merged.append((t, row, False))
    # Drop an end and a start of the same node at the same instant (a seamless join).
    seen: dict[tuple[int, int], list[bool]] = {}
    for t, row, up in merged:
        seen.setdefault((t, row), []).append(up)
    return [e for e in merged if len(seen[(e[0], e[1])]) == 1]
