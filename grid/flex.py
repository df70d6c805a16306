"""Flexible loads: electric-vehicle chargers and heat pumps, their state and their SimPy process.

**EV sessions from SimBench's charging profiles** (:func:`ev_sessions`). SimBench's future
scenarios give each charging point (``HLS_*`` at home, ``APLS_*`` elsewhere) a profile of
*uncontrolled* charging, generated from German mobility statistics: the car charges at the
charger's power from plug-in until it is full. A run of non-zero power is therefore one
session: its start is the arrival, its energy is what the car needed. The profiles do not say
when the car leaves; the stated assumption is that it stays plugged ``dwell_h`` after arrival
(at least until the profile's own charging ends, so the profile's schedule is always feasible,
and at most until the next session arrives). Uncontrolled charging of these sessions
reproduces the profile's energy and arrival times; smart charging moves it within the dwell.

**Heat pumps** (:class:`HeatPumpFleet`). The heat demand is what the SimBench heat-pump
profile's fixed operation delivers: electric power times the COP. The COP comes from hplib's
generic heat pumps (air/water for ``Air_*``, brine/water for ``Soil_*`` with brine at
:data:`BRINE_C`) at the outdoor temperature of :func:`outdoor_temperature_c`. The building's
thermal mass is a store of ``store_kwh_per_k`` per kelvin of indoor temperature, kept in a
comfort band; the fixed profile keeps it where it starts, a flexible heat pump moves it.

The fleet's process (:meth:`FlexNodes.process`) runs after the consumers' each interval and
overwrites the flexible nodes' meters. Powers: load convention [MW], consumption positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import simpy

from grid.nodes import Meters, Process

#: Brine temperature of ground-source heat pumps [degC] (a typical design value).
BRINE_C = 3.0


def outdoor_temperature_c(times: pd.DatetimeIndex) -> np.ndarray:
    """Outdoor air temperature of central Germany, a seasonal and daily sinusoid [degC].

    A mean of 9.3 degC, coldest (0.4 degC monthly mean) on 15 January and warmest (18.2 degC)
    on 16 July, after the DWD's 1991-2020 climate normals for Germany; a daily swing of
    +/- 4 K, coldest at 04:00 UTC. SimBench carries no temperature; this model serves the COP
    only (the heat demand comes from the SimBench profile), where a day's swing matters more
    than a given day's weather.
    """
    t = pd.DatetimeIndex(times)
    day = (t.dayofyear.to_numpy() - 1) + (t.hour.to_numpy() + t.minute.to_numpy() / 60.0) / 24
    seasonal = 9.3 - 8.9 * np.cos(2 * np.pi * (day - 15.0) / 365.25)
    hour = t.hour.to_numpy() + t.minute.to_numpy() / 60.0
    daily = -4.0 * np.cos(2 * np.pi * (hour - 4.0) / 24.0)
    return np.asarray(seasonal + daily, dtype=float)


def heat_pump_cop(
    outdoor_c: np.ndarray, supply_c: float, ground_source: bool = False
) -> np.ndarray:
    """Coefficient of performance of hplib's generic heat pump [-].

    Parameters
    ----------
    outdoor_c : ndarray
        Outdoor air temperature [degC].
    supply_c : float
        Supply (flow) temperature of the heating [degC].
    ground_source : bool
        Brine/water at :data:`BRINE_C` (else air/water at the outdoor temperature).
    """
    import hplib.hplib as hpl  # here: its import loads a database (1.3 s), heat pumps only

    group = 2 if ground_source else 1
    t_in = -5.0 if ground_source else -7.0
    params = hpl.get_parameters("Generic", group_id=group, t_in=t_in, t_out=52, p_th=10_000)
    pump = hpl.HeatPump(params)
    outdoor = np.asarray(outdoor_c, dtype=float)
    primary = np.full_like(outdoor, BRINE_C) if ground_source else outdoor
    # hplib takes the return (secondary inlet) temperature; its outlet is 5 K above
    result = pump.simulate(
        t_in_primary=primary, t_in_secondary=np.full_like(outdoor, supply_c - 5.0), t_amb=outdoor
    )
    return np.clip(np.asarray(result["COP"], dtype=float), 1.0, None)


@dataclass(frozen=True)
class EvSessions:
    """Charging sessions, one entry a session, ordered by EV then arrival.

    Attributes
    ----------
    ev : ndarray of int
        The EV (position in the fleet) of each session.
    arrival, departure : ndarray of int
        First plugged interval and first interval gone (exclusive) [interval index].
    need_kwh : ndarray
        Energy needed by departure, grid side [kWh].
    """

    ev: np.ndarray
    arrival: np.ndarray
    departure: np.ndarray
    need_kwh: np.ndarray

    def __len__(self) -> int:
        return len(self.ev)


def ev_sessions(p_mw: np.ndarray, interval_s: int, dwell_h: float) -> EvSessions:
    """Sessions of the uncontrolled charging profiles ``p_mw`` (interval, EV) [MW].

    Each run of consecutive non-zero intervals is one session: arrival at its start, need the
    energy of the run, departure ``dwell_h`` after arrival, no earlier than the run's end and
    no later than the next arrival (nor the run's end); see the module docstring.
    """
    n_t, n_ev = p_mw.shape
    dt_h = interval_s / 3600.0
    dwell = max(1, round(dwell_h * 3600 / interval_s))
    on = p_mw > 0
    ev, arrival, departure, need = [], [], [], []
    for e in range(n_ev):
        edges = np.diff(np.concatenate([[0], on[:, e].astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        nxt = np.concatenate([starts[1:], [n_t]])[: len(starts)]
        for s, end, n in zip(starts, ends, nxt, strict=True):
            ev.append(e)
            arrival.append(s)
            departure.append(min(max(s + dwell, end), n))
            need.append(p_mw[s:end, e].sum() * 1e3 * dt_h)
    return EvSessions(
        ev=np.asarray(ev, dtype=np.int64),
        arrival=np.asarray(arrival, dtype=np.int64),
        departure=np.asarray(departure, dtype=np.int64),
        need_kwh=np.asarray(need, dtype=float),
    )


@dataclass
class EvFleet:
    """Electric-vehicle chargers and the sessions they serve.

    Attributes
    ----------
    p_max_mw : ndarray, shape (ev,)
        Charger rating [MW].
    sessions : EvSessions
        Every session of the run.
    delivered_kwh : ndarray, shape (session,)
        Energy charged so far in each session, grid side [kWh].
    """

    p_max_mw: np.ndarray
    sessions: EvSessions
    delivered_kwh: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.delivered_kwh = np.zeros(len(self.sessions))

    def current(self, k: int) -> np.ndarray:
        """Session plugged in at each charger in interval ``k`` (-1: none)."""
        s = self.sessions
        out = np.full(len(self.p_max_mw), -1, dtype=np.int64)
        live = np.flatnonzero((s.arrival <= k) & (k < s.departure))
        out[s.ev[live]] = live
        return out

    def remaining_kwh(self, session: np.ndarray) -> np.ndarray:
        """Energy still needed by each charger's session (0 where none) [kWh]."""
        ok = session >= 0
        out = np.zeros(len(session))
        out[ok] = np.maximum(
            self.sessions.need_kwh[session[ok]] - self.delivered_kwh[session[ok]], 0.0
        )
        return out

    def steps_left(self, k: int, session: np.ndarray) -> np.ndarray:
        """Intervals until each charger's car leaves, ``k`` included (0 where none)."""
        ok = session >= 0
        out = np.zeros(len(session), dtype=np.int64)
        out[ok] = self.sessions.departure[session[ok]] - k
        return out

    def limit(self, k: int, request_mw: np.ndarray, dt_h: float) -> np.ndarray:
        """Clip a request to the charger, the session and the need; charge at full power when
        the car would otherwise leave short (the latest start) [MW]."""
        session = self.current(k)
        remaining = self.remaining_kwh(session)
        cap = np.minimum(self.p_max_mw, remaining / (1e3 * dt_h))
        left = self.steps_left(k, session)
        must = remaining > self.p_max_mw * 1e3 * dt_h * (left - 1) + 1e-9
        p = np.where(must, cap, np.clip(request_mw, 0.0, cap))
        return np.where(session >= 0, p, 0.0)

    def apply(self, k: int, p_mw: np.ndarray, dt_h: float) -> None:
        """Count interval ``k``'s charging into each session."""
        session = self.current(k)
        ok = session >= 0
        self.delivered_kwh[session[ok]] += p_mw[ok] * 1e3 * dt_h

    def shortfall_kwh(self) -> np.ndarray:
        """Energy each session still lacks [kWh] (final once the session has left)."""
        return np.maximum(self.sessions.need_kwh - self.delivered_kwh, 0.0)


@dataclass
class HeatPumpFleet:
    """Heat pumps heating buildings whose thermal mass is their store.

    The store ``store_kwh`` is the heat above the comfort minimum [kWh_th]:
    indoor temperature = ``comfort_min_c + store_kwh / kwh_per_k``.

    Attributes
    ----------
    p_max_mw : ndarray, shape (hp,)
        Rated electric power [MW].
    heat_kw : ndarray, shape (interval, hp)
        Heat demand of the building [kW_th].
    cop : ndarray, shape (interval, hp)
        Coefficient of performance [-].
    kwh_per_k : float
        Thermal capacity [kWh_th/K].
    comfort_min_c, comfort_max_c : float
        Comfort band [degC].
    store_kwh : ndarray, shape (hp,)
        Heat stored above the comfort minimum [kWh_th].
    """

    p_max_mw: np.ndarray
    heat_kw: np.ndarray
    cop: np.ndarray
    kwh_per_k: float
    comfort_min_c: float
    comfort_max_c: float
    store_kwh: np.ndarray

    @property
    def store_max_kwh(self) -> float:
        """Heat the store holds at the comfort maximum [kWh_th]."""
        return (self.comfort_max_c - self.comfort_min_c) * self.kwh_per_k

    def temperature_c(self) -> np.ndarray:
        """Indoor temperature now [degC]."""
        return self.comfort_min_c + self.store_kwh / self.kwh_per_k

    def limit(self, k: int, request_mw: np.ndarray, dt_h: float) -> np.ndarray:
        """Clip a request to the rating; heat when the band's minimum would be left, stop
        when its maximum would be [MW]."""
        heat_kwh = 1e3 * dt_h * self.cop[k]  # per MW of electric power
        low = (-self.store_kwh + self.heat_kw[k] * dt_h) / heat_kwh  # keeps store >= 0
        high = (self.store_max_kwh - self.store_kwh + self.heat_kw[k] * dt_h) / heat_kwh
        p = np.clip(request_mw, np.maximum(low, 0.0), np.maximum(high, 0.0))
        return np.clip(p, 0.0, self.p_max_mw)

    def apply(self, k: int, p_mw: np.ndarray, dt_h: float) -> None:
        """Move the store by interval ``k``'s heat balance."""
        self.store_kwh = self.store_kwh + (self.cop[k] * p_mw * 1e3 - self.heat_kw[k]) * dt_h

    def outside_band_k(self) -> np.ndarray:
        """How far each building is outside the comfort band now [K]."""
        return (
            np.maximum(-self.store_kwh, 0.0) + np.maximum(self.store_kwh - self.store_max_kwh, 0.0)
        ) / self.kwh_per_k


class FlexPolicy(Protocol):
    """Decides what the chargers and heat pumps are asked to draw in an interval."""

    def request(
        self,
        k: int,
        ev_remaining_kwh: np.ndarray,
        ev_steps_left: np.ndarray,
        hp_store_kwh: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Requested power of each charger and each heat pump [MW] (before limits).

        Parameters
        ----------
        k : int
            Interval index.
        ev_remaining_kwh : ndarray, shape (ev,)
            Energy the car plugged in still needs (0: none plugged in) [kWh].
        ev_steps_left : ndarray of int, shape (ev,)
            Intervals until it leaves, ``k`` included (0: none plugged in).
        hp_store_kwh : ndarray, shape (hp,)
            Heat stored above the comfort minimum [kWh_th].
        """
        ...


class ProfilePolicy:
    """Uncontrolled charging (full power from arrival), heat pumps on their fixed profile.

    Parameters
    ----------
    ev_p_max_mw : ndarray, shape (ev,)
        Charger ratings [MW].
    hp_profile_mw : ndarray, shape (interval, hp)
        The heat pumps' fixed profiles [MW].
    """

    def __init__(self, ev_p_max_mw: np.ndarray, hp_profile_mw: np.ndarray) -> None:
        self.ev_p_max_mw = ev_p_max_mw
        self.hp_profile_mw = hp_profile_mw

    def request(
        self,
        k: int,
        ev_remaining_kwh: np.ndarray,
        ev_steps_left: np.ndarray,
        hp_store_kwh: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Charge at the charger's rating; run the heat pump's profile."""
        return self.ev_p_max_mw.copy(), self.hp_profile_mw[k].copy()


@dataclass
class FlexNodes:
    """The flexible nodes of a run: chargers and heat pumps.

    Attributes
    ----------
    ev_rows, hp_rows : ndarray of int
        The chargers' and heat pumps' rows in the node table.
    ev : EvFleet
    hp : HeatPumpFleet
    interval_s : int
        Interval length [s].
    policy : FlexPolicy
        What they are asked to do.
    ev_delivered_log, hp_temperature_log, hp_heat_log : ndarray, shape (interval, ev|hp)
        Per interval: energy charged so far in the session plugged in at its end (0: none)
        [kWh], indoor temperature at its end [degC], heat delivered in it [kWh_th].
    """

    ev_rows: np.ndarray
    hp_rows: np.ndarray
    ev: EvFleet
    hp: HeatPumpFleet
    interval_s: int
    policy: FlexPolicy
    ev_delivered_log: np.ndarray = field(init=False)
    hp_temperature_log: np.ndarray = field(init=False)
    hp_heat_log: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n_t = len(self.hp.heat_kw)
        self.ev_delivered_log = np.zeros((n_t, len(self.ev_rows)))
        self.hp_temperature_log = np.zeros((n_t, len(self.hp_rows)))
        self.hp_heat_log = np.zeros((n_t, len(self.hp_rows)))

    def step(self, k: int, available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interval ``k``: ask the policy, apply the limits, move the states [MW]."""
        dt_h = self.interval_s / 3600.0
        session = self.ev.current(k)
        ev_req, hp_req = self.policy.request(
            k,
            self.ev.remaining_kwh(session),
            self.ev.steps_left(k, session),
            self.hp.store_kwh.copy(),
        )
        ev_p = np.where(available[self.ev_rows], self.ev.limit(k, ev_req, dt_h), 0.0)
        hp_p = np.where(available[self.hp_rows], self.hp.limit(k, hp_req, dt_h), 0.0)
        self.ev.apply(k, ev_p, dt_h)
        self.hp.apply(k, hp_p, dt_h)
        ok = session >= 0
        self.ev_delivered_log[k, ok] = self.ev.delivered_kwh[session[ok]]
        self.hp_temperature_log[k] = self.hp.temperature_c()
        self.hp_heat_log[k] = self.hp.cop[k] * hp_p * 1e3 * dt_h
        return ev_p, hp_p

    def process(self, env: simpy.Environment, meters: Meters, n_intervals: int) -> Process:
        """Each interval, after the consumers: overwrite the flexible nodes' meters."""
        for k in range(n_intervals):
            ev_p, hp_p = self.step(k, meters.available)
            meters.p_mw[self.ev_rows] = ev_p
            meters.p_mw[self.hp_rows] = hp_p
            meters.q_mvar[self.ev_rows] = 0.0
            meters.q_mvar[self.hp_rows] = 0.0
            yield env.timeout(self.interval_s)
