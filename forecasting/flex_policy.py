"""When the flexible loads are planned, and against what: the rolling-horizon policy of
:class:`~forecasting.flex_dispatch.FlexDispatcher`'s LP.

:class:`FlexDispatchPolicy` re-plans every ``replan_intervals`` and whenever a car plugs in or
leaves; the peak term's base import is forecast by :func:`cautious_base_forecast` (the same
interval a day before, raised to the largest import seen at that time of day over the last
days).
"""

from __future__ import annotations

import time

import numpy as np

from forecasting.flex_dispatch import BatteryInputs, FlexDispatcher, JointBatteries


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
