"""Rolling-horizon dispatch of flexible loads: EV charging (V1G) and heat pumps, one LP.

Over a horizon of ``H`` intervals at import prices ``pi[t]`` [EUR/MWh] the programme chooses
each charger's power ``c[e, t]`` and each heat pump's electric power ``p[h, t]`` [MW]:

.. math::

    \\min \\sum_t \\Delta t \\, \\pi_t (\\sum_e c_{et} + \\sum_h p_{ht})
          + \\lambda_{ev} \\sum_e u_e + \\lambda_{hp} \\sum_{h,t} \\Delta t (l_{ht} + o_{ht}) / C
          - v \\sum_h E_{h,H}

    \\sum_{t < \\min(D_e, H)} 1000 \\, \\Delta t \\, c_{et} + u_e \\ge N_e, \\quad
    0 \\le c_{et} \\le \\bar c_e [t < D_e]

    E_{ht} = E_{h,t-1} + \\Delta t (1000 \\, COP_{ht} \\, p_{ht} - q_{ht}), \\quad
    -l_{ht} \\le E_{ht} \\le \\bar E + o_{ht}, \\quad 0 \\le p_{ht} \\le \\bar p_h

With a peak price ``lambda_pk`` [EUR/kW] the objective also pays ``lambda_pk * 1000 * z`` for
the community's planned peak import ``z`` [MW]: ``z >= b_t + sum_e c_et + sum_h p_ht`` every
step, ``b_t`` the forecast import of everything else (households, PV, wind; not the
batteries). Load may fill the valleys up to the horizon's forecast base peak
for free and pays only for raising the peak above it (a demand charge's logic, as a planning
price: it is not billed). The peak is the horizon's, not the run's so far: a floor at the
highest import planned so far let the plans fill up to it, and the base's forecast error
then made a new peak (117.4 kW against 111.1 kW over the January week of
``scenarios/flex.toml``). The day-before forecast of ``b_t`` also underestimates afternoons
busier than the day before, and the plan then stacks load onto the real peak (over 30
January days the peak rose above the uncontrolled one); :func:`cautious_base_forecast`
plans each step against the largest import seen at that time of day over the last days.

With ``flex.joint_batteries`` (:class:`JointBatteries`) the home batteries join the same
programme with the battery LP's columns, rows and costs (:mod:`forecasting.dispatch`: charge,
discharge, their home's import, state of charge; home forecasts ``n``, feed-in price ``pe``),
and their power ``c_bt - d_bt`` joins every peak row. ``z`` then has no floor at the base's
peak (which only tightened the bound while every flexible power was a load): a battery that
discharges at the forecast peak lowers it, and pays for that with the tariff value of its
energy. The battery LP then plans them no more.

``N_e`` is what the car plugged in still needs by the horizon's end: its remaining need less
what the charger can still deliver after the horizon (``D_e`` intervals until it leaves);
``u_e`` the shortfall [kWh] at ``lambda_ev`` [EUR/kWh]. ``E`` is the heat stored in the
building above the comfort minimum [kWh_th], ``C`` its capacity [kWh_th/K], ``l`` and ``o``
the heat below and above the band, penalised at ``lambda_hp`` [EUR/(K h)]; ``q`` the heat
demand [kW_th]. ``v`` values the heat left at the horizon's end at the cheapest heat of the
horizon (``min pi / COP``), so the plan neither drains the building at the end nor hoards.

Only the sessions plugged in now are known (no look-ahead: a car's arrival, departure and
need are known when it plugs in); the heat demand is forecast as the same interval a day
before (day-ahead persistence: heat demand follows the weather and the daily routine, both
close to yesterday's), the COP from the temperature model. Solved by HiGHS through
:func:`scipy.optimize.linprog`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from forecasting.dispatch import BatterySpec, battery_block, battery_cost
from forecasting.policy import ForecastDispatchPolicy

#: A plan's preference for earlier charging at equal prices [EUR/MWh per interval].
TIE_BREAK_EUR_PER_MWH = 0.01


def cautious_base_forecast(
    forecast_mw: np.ndarray,
    observed_mw: np.ndarray,
    *,
    intervals_per_day: int,
    days: int,
    window_steps: int,
) -> np.ndarray:
    """A forecast raised to the largest import observed at the same time of day.

    Step ``j`` of the horizon is planned against the largest of ``forecast_mw[j]`` and the
    observed import at the same time of day, ``window_steps`` either side, on each of the
    last ``days`` days; only what was observed before the horizon counts (a window that
    reaches into the horizon is cut there). With ``days = 1`` and ``window_steps = 0`` that
    is the same interval a day before: the day-before forecast itself.

    Parameters
    ----------
    forecast_mw : ndarray, shape (H,)
        The model's forecast over the horizon [MW].
    observed_mw : ndarray, shape (n,)
        Observed import up to the horizon, its last element the interval just before the
        horizon's first [MW].
    intervals_per_day : int
        Intervals a day.
    days : int
        Days looked back (>= 1).
    window_steps : int
        Intervals either side of the same time of day (>= 0).

    Returns
    -------
    ndarray, shape (H,)
        The cautious forecast [MW], elementwise at least ``forecast_mw``.
    """
    forecast = np.asarray(forecast_mw, dtype=float)
    observed = np.asarray(observed_mw, dtype=float)
    n = len(observed)
    if not n:
        return forecast.copy()
    offsets = np.arange(-window_steps, window_steps + 1)
    shifts = (-intervals_per_day * np.arange(1, days + 1)[:, None] + offsets[None, :]).ravel()
    idx = n + np.arange(len(forecast))[:, None] + shifts[None, :]
    seen = (idx >= 0) & (idx < n)
    values = np.where(seen, observed[np.clip(idx, 0, n - 1)], -np.inf)
    return np.maximum(forecast, values.max(axis=1, initial=-np.inf))


@dataclass(frozen=True)
class BatteryInputs:
    """What the flex LP needs to plan the batteries too (``flex.joint_batteries``).

    Attributes
    ----------
    net_mw : ndarray, shape (battery, H)
        Forecast net power of each battery's home without the battery [MW].
    export_eur_per_mwh : ndarray, shape (H,)
        Feed-in price [EUR/MWh].
    soc_kwh : ndarray, shape (battery,)
        State of charge now [kWh].
    """

    net_mw: np.ndarray
    export_eur_per_mwh: np.ndarray
    soc_kwh: np.ndarray


@dataclass(frozen=True)
class JointBatteries:
    """The home batteries the flex LP plans with the chargers and heat pumps.

    Their forecasts and their real-time rule stay those of the batteries' policy
    (:meth:`ForecastDispatchPolicy.joint_forecast`, :meth:`ForecastDispatchPolicy.joint_plan`);
    only the plan comes from the flex LP, whose peak term then sees them, and the battery LP
    plans them no more.

    Attributes
    ----------
    policy : ForecastDispatchPolicy
        The batteries' policy.
    soc_kwh : callable
        The batteries' state of charge at the start of the current interval [kWh].
    """

    policy: ForecastDispatchPolicy
    soc_kwh: Callable[[], np.ndarray]


class FlexDispatcher:
    """The flexible loads' LP; see the module docstring.

    Parameters
    ----------
    horizon_steps : int
        Intervals planned ahead.
    interval_s : int
        Interval length [s].
    ev_p_max_mw, hp_p_max_mw : ndarray
        Charger ratings and heat pumps' rated electric power [MW].
    hp_store_max_kwh : float
        Heat the building holds between the band's minimum and maximum [kWh_th].
    hp_kwh_per_k : float
        Thermal capacity [kWh_th/K].
    shortfall_eur_per_kwh, comfort_eur_per_kelvin_hour : float
        Penalties of a shortfall and of leaving the comfort band.
    peak_eur_per_kw : float
        Price of raising the community's planned peak import [EUR/kW] (0: no peak term).
    battery_spec : BatterySpec, optional
        The batteries planned in the same LP (``flex.joint_batteries``; see
        :class:`JointBatteries`), with the battery LP's columns, rows and costs
        (:func:`forecasting.dispatch.battery_block`); None: none.
    """

    def __init__(
        self,
        *,
        horizon_steps: int,
        interval_s: int,
        ev_p_max_mw: np.ndarray,
        hp_p_max_mw: np.ndarray,
        hp_store_max_kwh: float,
        hp_kwh_per_k: float,
        shortfall_eur_per_kwh: float,
        comfort_eur_per_kelvin_hour: float,
        peak_eur_per_kw: float = 0.0,
        battery_spec: BatterySpec | None = None,
    ) -> None:
        self.horizon_steps = horizon_steps
        self.battery_spec = battery_spec
        b = 0 if battery_spec is None else len(battery_spec.capacity_kwh)
        #: The last plan's battery powers, shape (battery, H) [MW] (load convention), and the
        #: worth of one more MWh stored after each step [EUR/MWh] (the energy balances' duals).
        self.battery_mw = np.zeros((b, horizon_steps))
        self.battery_value = np.zeros((b, horizon_steps))
        self.dt_h = interval_s / 3600.0
        self.ev_p_max_mw = ev_p_max_mw
        self.hp_p_max_mw = hp_p_max_mw
        self.store_max_kwh = hp_store_max_kwh
        self.kwh_per_k = hp_kwh_per_k
        self.shortfall = shortfall_eur_per_kwh
        self.comfort = comfort_eur_per_kelvin_hour
        self.peak_eur_per_kw = peak_eur_per_kw

    def plan(
        self,
        import_eur_per_mwh: np.ndarray,
        ev_remaining_kwh: np.ndarray,
        ev_steps_left: np.ndarray,
        hp_store_kwh: np.ndarray,
        hp_cop: np.ndarray,
        hp_heat_kw: np.ndarray,
        base_mw: np.ndarray | None = None,
        battery: BatteryInputs | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Plan every charger and heat pump (and the batteries, with ``battery``) over the
        horizon.

        Parameters
        ----------
        import_eur_per_mwh : ndarray, shape (H,)
            Import price [EUR/MWh].
        ev_remaining_kwh, ev_steps_left : ndarray, shape (ev,)
            What the car plugged in still needs [kWh] and intervals until it leaves (0: none).
        hp_store_kwh : ndarray, shape (hp,)
            Heat stored above the comfort minimum now [kWh_th].
        hp_cop, hp_heat_kw : ndarray, shape (hp, H)
            Forecast COP [-] and heat demand [kW_th].
        base_mw : ndarray, shape (H,), optional
            Forecast community import without the flexible loads [MW]; with
            ``peak_eur_per_kw`` it prices the peak (None: no peak term).
        battery : BatteryInputs, optional
            The batteries' forecasts, feed-in price and state of charge (needs
            ``battery_spec``): their plan lands in :attr:`battery_mw` and
            :attr:`battery_value`.

        Returns
        -------
        (ndarray (ev, H), ndarray (hp, H)) or None
            Planned powers [MW]; None without an optimal solution.
        """
        h, dt = self.horizon_steps, self.dt_h
        n_ev, n_hp = len(self.ev_p_max_mw), len(self.hp_p_max_mw)
        pi = np.asarray(import_eur_per_mwh, dtype=float)
        e_kwh = 1e3 * dt  # kWh per MW over one interval
        steps = np.arange(h)
        # columns: ev power (ev*H), ev shortfall (ev), hp power, store, below, above (hp*H each)
        n_evp, n_hpp = n_ev * h, n_hp * h
        o_short, o_hpp = n_evp, n_evp + n_ev
        o_store, o_low = o_hpp + n_hpp, o_hpp + 2 * n_hpp  # then the heat above the band
        n_col = o_hpp + 4 * n_hpp
        cost = np.zeros(n_col)
        lower = np.zeros(n_col)
        upper = np.full(n_col, np.inf)
        price = (pi + TIE_BREAK_EUR_PER_MWH * steps) * dt
        cost[:n_evp] = np.tile(price, n_ev)
        plugged = steps[None, :] < ev_steps_left[:, None]
        upper[:n_evp] = (plugged * self.ev_p_max_mw[:, None]).ravel()
        cost[o_short:o_hpp] = self.shortfall
        cost[o_hpp:o_store] = np.tile(pi * dt, n_hp)
        lower[o_store:o_low] = -np.inf
        upper[o_hpp:o_store] = np.repeat(self.hp_p_max_mw, h)
        penalty = self.comfort * dt / self.kwh_per_k
        cost[o_low:n_col] = penalty
        if n_hp:
            cheapest_heat = float(np.min(pi[None, :] / (1e3 * hp_cop)))  # EUR/kWh_th
            cost[o_store + h - 1 : o_low : h] -= cheapest_heat
        after = np.maximum(ev_steps_left - h, 0) * self.ev_p_max_mw * e_kwh
        need = np.maximum(ev_remaining_kwh - after, 0.0)
        # EV: -sum c e_kwh - u <= -need
        ev_rows = sp.hstack(
            [
                sp.kron(sp.eye(n_ev), -e_kwh * np.ones((1, h))),
                -sp.eye(n_ev),
                sp.csr_matrix((n_ev, 4 * n_hpp)),
            ]
        )
        # heat: E_t - E_{t-1} - e_kwh cop p_t = -q_t dt (+ E_0 at t = 0)
        step = sp.eye(h) - sp.eye(h, k=-1)
        heat_eq = sp.hstack(
            [
                sp.csr_matrix((n_hpp, n_evp + n_ev)),
                -sp.diags(e_kwh * np.asarray(hp_cop, dtype=float).ravel()),
                sp.kron(sp.eye(n_hp), step),
                sp.csr_matrix((n_hpp, 2 * n_hpp)),
            ]
        )
        b_eq = -np.asarray(hp_heat_kw, dtype=float).reshape(n_hp, h) * dt
        b_eq[:, 0] += hp_store_kwh
        eye = sp.eye(n_hpp)
        zero = sp.csr_matrix((n_hpp, n_evp + n_ev + n_hpp))
        band = sp.vstack(
            [
                sp.hstack([zero, -eye, -eye, sp.csr_matrix((n_hpp, n_hpp))]),
                sp.hstack([zero, eye, sp.csr_matrix((n_hpp, n_hpp)), -eye]),
            ]
        )
        a_ub = sp.vstack([ev_rows, band])
        b_ub = np.concatenate([-need, np.zeros(n_hpp), np.full(n_hpp, self.store_max_kwh)])
        n_bat = 0
        if battery is not None and self.battery_spec is not None:
            # the battery LP's columns (c, d, imp, s per battery), rows and costs, appended
            spec = self.battery_spec
            n_bat = len(spec.capacity_kwh)
            a_bat, lo_bat, up_bat = battery_block(spec.capacity_kwh, spec.p_max_mw, spec, h, dt)
            dyn, imports = a_bat[: n_bat * h], a_bat[n_bat * h :]
            n_b = 4 * n_bat * h
            heat_eq = sp.vstack(
                [
                    sp.hstack([heat_eq, sp.csr_matrix((n_hpp, n_b))]),
                    sp.hstack([sp.csr_matrix((n_bat * h, n_col)), dyn]),
                ]
            )
            start = np.zeros((n_bat, h))
            start[:, 0] = battery.soc_kwh
            b_eq = np.concatenate([b_eq.ravel(), start.ravel()])
            # -c + d + imp >= n  as  c - d - imp <= -n
            a_ub = sp.vstack(
                [
                    sp.hstack([a_ub, sp.csr_matrix((a_ub.shape[0], n_b))]),
                    sp.hstack([sp.csr_matrix((n_bat * h, n_col)), -imports]),
                ]
            )
            b_ub = np.concatenate([b_ub, -np.asarray(battery.net_mw, dtype=float).ravel()])
            pe = np.asarray(battery.export_eur_per_mwh, dtype=float)
            cost = np.concatenate(
                [cost, battery_cost(n_bat, pi, pe, dt, spec.eta_discharge).ravel()]
            )
            lower = np.concatenate([lower, lo_bat.ravel()])
            upper = np.concatenate([upper, up_bat.ravel()])
        o_bat, n_col = n_col, len(cost)
        if self.peak_eur_per_kw > 0 and base_mw is not None:
            # one more column, the peak z: base_t + sum_e c_et + sum_h p_ht - z <= 0
            base = np.asarray(base_mw, dtype=float)
            peak_rows = sp.hstack(
                [
                    sp.kron(np.ones((1, n_ev)), sp.eye(h)),
                    sp.csr_matrix((h, n_ev)),
                    sp.kron(np.ones((1, n_hp)), sp.eye(h)),
                    sp.csr_matrix((h, 3 * n_hpp)),
                    -np.ones((h, 1)),
                ]
            )
            if n_bat:  # the batteries' power c - d counts towards the community's import
                one = sp.hstack([sp.eye(h), -sp.eye(h), sp.csr_matrix((h, 2 * h))])
                peak_rows = sp.hstack(
                    [peak_rows.tocsc()[:, :-1], sp.kron(np.ones((1, n_bat)), one), -np.ones((h, 1))]
                )
            a_ub = sp.vstack([sp.hstack([a_ub, sp.csr_matrix((a_ub.shape[0], 1))]), peak_rows])
            heat_eq = sp.hstack([heat_eq, sp.csr_matrix((heat_eq.shape[0], 1))])
            b_ub = np.concatenate([b_ub, -base])
            cost = np.append(cost, 1e3 * self.peak_eur_per_kw)
            # without batteries the floor only tightens (loads are >= 0); batteries may
            # discharge below the base's peak, and lowering the peak then counts
            lower = np.append(lower, -np.inf if n_bat else float(base.max(initial=0.0)))
            upper = np.append(upper, np.inf)
        a_ub = a_ub.tocsc()
        if not all(np.isfinite(x).all() for x in (cost[np.isfinite(cost)], b_ub, b_eq)):
            return None
        has_eq = n_hp or n_bat
        result = linprog(
            cost,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=heat_eq.tocsc() if has_eq else None,
            b_eq=b_eq.ravel() if has_eq else None,
            bounds=np.column_stack([lower, upper]),
            method="highs",
        )
        if result.status != 0:
            return None
        x = result.x
        if n_bat:
            cols = x[o_bat : o_bat + 4 * n_bat * h].reshape(n_bat, 4, h)
            self.battery_mw = cols[:, 0] - cols[:, 1]
            # the dual of step t's energy balance: what one more kWh stored after t is worth
            duals = np.asarray(result.eqlin.marginals)[n_hpp : n_hpp + n_bat * h]
            self.battery_value = -duals.reshape(n_bat, h) * 1000.0
        return x[:n_evp].reshape(n_ev, h), x[o_hpp:o_store].reshape(n_hp, h)


class FlexDispatchPolicy:
    """Chargers and heat pumps planned by :class:`FlexDispatcher` on a rolling horizon.

    A plan is made every ``replan_intervals`` and whenever a car plugs in or leaves; between
    plans each device follows its plan (the node model's limits then keep the need by
    departure and the comfort band). A failed plan keeps the last one and is counted.

    Parameters
    ----------
    dispatcher : FlexDispatcher
    import_eur_per_mwh : ndarray, shape (run + horizon,)
        Import price from the run's first interval on [EUR/MWh].
    hp_cop : ndarray, shape (run + horizon, hp)
        COP of the temperature model [-].
    hp_heat_history_kw : ndarray, shape (day + run, hp)
        Actual heat demand from one day before the run on [kW_th] (the forecast reads only
        the past: the same interval a day before).
    intervals_per_day : int
    replan_intervals : int
    smart_ev, flexible_hp : bool
        Which devices follow the plan (the others: charge on arrival, fixed profile).
    ev_p_max_mw : ndarray, shape (ev,)
    hp_profile_mw : ndarray, shape (run, hp)
        The heat pumps' fixed profiles [MW] (when not flexible).
    base_history_mw : ndarray, shape (base_days * day + run,), optional
        The community's import without the flexible loads from ``base_days`` days before the
        run on [MW]; its forecast is the same interval a day before (the peak term of
        :class:`FlexDispatcher`; None: no peak term), raised by
        :func:`cautious_base_forecast` unless ``base_days = 1`` and ``base_window_steps = 0``.
    base_days : int
        Days of ``base_history_mw`` before the run, the days the cautious forecast looks back.
    base_window_steps : int
        Intervals either side of the same time of day the cautious forecast looks at.
    batteries : JointBatteries, optional
        Batteries planned in the same LP (the dispatcher's ``battery_spec``), every plan
        handed to their policy; None: the battery LP plans them apart.
    """

    def __init__(
        self,
        *,
        dispatcher: FlexDispatcher,
        import_eur_per_mwh: np.ndarray,
        hp_cop: np.ndarray,
        hp_heat_history_kw: np.ndarray,
        intervals_per_day: int,
        replan_intervals: int,
        smart_ev: bool,
        flexible_hp: bool,
        ev_p_max_mw: np.ndarray,
        hp_profile_mw: np.ndarray,
        base_history_mw: np.ndarray | None = None,
        base_days: int = 1,
        base_window_steps: int = 0,
        batteries: JointBatteries | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.batteries = batteries
        self.base_history = base_history_mw
        self.base_days = base_days
        self.base_window = base_window_steps
        self.price = import_eur_per_mwh
        self.cop = hp_cop
        self.heat_history = hp_heat_history_kw
        self.per_day = intervals_per_day
        self.replan = replan_intervals
        self.smart_ev, self.flexible_hp = smart_ev, flexible_hp
        self.ev_p_max_mw = ev_p_max_mw
        self.hp_profile_mw = hp_profile_mw
        self.horizon = dispatcher.horizon_steps
        self._plan: tuple[np.ndarray, np.ndarray] | None = None
        self._plan_k = 0
        self._departures = np.full(len(ev_p_max_mw), -1, dtype=np.int64)
        self.plans = 0
        self.failed = 0
        self.timings_s = {"flex_dispatch": 0.0}

    def heat_forecast_kw(self, k: int) -> np.ndarray:
        """Heat demand over the horizon from interval ``k``: the same interval a day before
        [kW_th], shape (hp, H)."""
        idx = k + np.arange(self.horizon) % self.per_day  # history row of step k + h, a day back
        return self.heat_history[idx].T

    def request(
        self,
        k: int,
        ev_remaining_kwh: np.ndarray,
        ev_steps_left: np.ndarray,
        hp_store_kwh: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The plan's powers for interval ``k`` [MW]; see :class:`grid.flex.FlexPolicy`."""
        departures = np.where(ev_steps_left > 0, k + ev_steps_left, -1)
        changed = not np.array_equal(departures, self._departures)
        self._departures = departures
        j = k - self._plan_k
        if self._plan is None or changed or k % self.replan == 0 or j >= self.horizon:
            battery = self._battery_inputs(k)
            t0 = time.perf_counter()
            plan = self.dispatcher.plan(
                self.price[k : k + self.horizon],
                ev_remaining_kwh,
                ev_steps_left,
                hp_store_kwh,
                self.cop[k : k + self.horizon].T,
                self.heat_forecast_kw(k),
                base_mw=self.base_forecast_mw(k),
                battery=battery,
            )
            self.timings_s["flex_dispatch"] += time.perf_counter() - t0
            if battery is not None and self.batteries is not None:
                battery_plan = None if plan is None else self.dispatcher.battery_mw
                self.batteries.policy.joint_plan(k, battery_plan, self.dispatcher.battery_value)
            self.plans += 1
            if plan is None:
                self.failed += 1
            else:
                self._plan, self._plan_k = plan, k
        j = k - self._plan_k
        ev = self.ev_p_max_mw.copy()
        hp = self.hp_profile_mw[k].copy()
        if self._plan is not None and j < self.horizon:
            if self.smart_ev:
                ev = self._plan[0][:, j]
            if self.flexible_hp:
                hp = self._plan[1][:, j]
        return ev, hp

    def _battery_inputs(self, k: int) -> BatteryInputs | None:
        """The joint batteries' forecasts, feed-in price and state of charge at interval
        ``k`` (None: no joint batteries, or their forecast is not finite)."""
        if self.batteries is None:
            return None
        policy = self.batteries.policy
        net_mw = policy.joint_forecast(k)
        if net_mw is None:
            return None
        return BatteryInputs(
            net_mw=net_mw,
            export_eur_per_mwh=policy.export_price[k : k + self.horizon],
            soc_kwh=np.asarray(self.batteries.soc_kwh(), dtype=float),
        )

    def base_forecast_mw(self, k: int) -> np.ndarray | None:
        """The community's import without the flexible loads over the horizon from interval
        ``k``: the same interval a day before [MW], made cautious by
        :func:`cautious_base_forecast` (None: no peak term)."""
        if self.base_history is None:
            return None
        now = self.base_days * self.per_day + k  # the history's row of interval k
        forecast = self.base_history[now - self.per_day + np.arange(self.horizon) % self.per_day]
        if self.base_days == 1 and self.base_window == 0:
            return forecast
        return cautious_base_forecast(
            forecast,
            self.base_history[:now],
            intervals_per_day=self.per_day,
            days=self.base_days,
            window_steps=self.base_window,
        )
