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
January days the peak rose above the uncontrolled one);
:func:`forecasting.flex_policy.cautious_base_forecast` plans each step against the largest
import seen at that time of day over the last days.

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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from forecasting.dispatch import BatterySpec, battery_block, battery_cost
from forecasting.policy import ForecastDispatchPolicy

#: A plan's preference for earlier charging at equal prices [EUR/MWh per interval].
TIE_BREAK_EUR_PER_MWH = 0.01


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
