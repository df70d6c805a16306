"""Forecast-driven battery control: forecasters trained inside the run, a rolling-horizon LP.

:class:`ForecastDispatchPolicy` is the batteries' :class:`grid.nodes.BatteryPolicy` when
``forecasting.battery_control = "forecast"``. It keeps the actual power of every forecast
series (consumers, PV, wind), starting with a warm-up history before the run; every
``replan_intervals`` it forecasts the series behind a battery's meter over the horizon and the
others until the next plan (and at the recorded horizons), in one pass where the forecaster
has ``predict_blocks`` (:class:`forecasting.oracles.BlockForecaster`), else two vectorised
calls, sums the forecasts behind each battery's meter and plans all batteries with one LP
(:class:`forecasting.dispatch.BatteryDispatcher`). Between plans each battery follows its plan;
its home's forecast error goes to the battery or to the grid, whichever is cheaper: the grid's
price for it against what the plan says stored energy is worth then (the LP's dual); at a tie
the battery follows its plan. Two
rules guard against forecast errors: a battery never discharges more than its home's deficit
(battery energy is worth more than feed-in) and always stores at least the home's surplus.
A forecast that is not finite or an LP that fails keeps the last good plan and flags the
interval; the forecaster is refitted every ``retrain_days`` on the newest ``warmup_days`` of
actuals, ending ``fit_lead_days`` before the refit goes into service, in a background worker
process where it can (:mod:`forecasting.refits`).

No look-ahead: at interval ``k`` the forecaster sees actuals up to interval ``k - 1`` only
(interval ``k``'s meters are read after the batteries have been set).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.dispatch import BatteryDispatcher
from forecasting.oracles import BlockForecaster, SeriesForecaster
from forecasting.realtime import error_to_battery
from forecasting.refits import FitData, Refits

#: Forecast rows a second prediction call must save before the policy splits its forecast in
#: two (measured: a prediction call costs about 2 ms before its first row, then about 1.5 us a
#: row; a year of the default community re-planning every 16 intervals, 3,318 rows saved an
#: issue, took 30.4 s of forecasting split against 32.0 s whole; on the 7,523-series MVLV grid
#: the split saved 339,000 rows an issue and 37 % of the time). A forecaster with
#: ``predict_blocks`` forecasts both parts in one pass, without the second call's cost.
SPLIT_MIN_ROWS = 2_000


@dataclass
class ForecastRecord:
    """Forecasts kept for the results store (a few horizons of every issue)."""

    issue: list[int] = field(default_factory=list)
    horizon: list[int] = field(default_factory=list)
    predicted_mw: list[np.ndarray] = field(default_factory=list)


class ForecastDispatchPolicy:
    """Batteries planned by an LP on forecasts; see the module docstring.

    Parameters
    ----------
    forecaster : SeriesForecaster
        The forecaster (fitted here on the warm-up history).
    kinds : ndarray of str
        Forecasting kind of each series (see :func:`node_kinds`).
    dispatcher : BatteryDispatcher
        The batteries' LP.
    history : ndarray, shape (warmup + run, series)
        Actual power of each series [MW]; the first ``warmup`` rows are filled.
    times : DatetimeIndex
        Interval starts of warm-up + run (UTC).
    host_matrix : sparse matrix, shape (battery, series)
        1 where a series is behind a battery's meter.
    import_eur_per_mwh, export_eur_per_mwh : ndarray, shape (run + horizon,)
        Tariff prices from the run's first interval on [EUR/MWh].
    replan_intervals, retrain_intervals, fit_intervals : int
        Plan every, refit every, and fit on the newest that many intervals.
    record_horizons : list of int
        Horizons [steps] of each issue kept for the results store.
    lags_intervals : int
        History each prediction needs [intervals].
    fit_lead : int
        Intervals between the end of a refit's actuals and its service (:mod:`forecasting.refits`).
    background_fit : bool
        Refit in a worker process (the same actuals, the same floats).
    """

    def __init__(
        self,
        *,
        forecaster: SeriesForecaster,
        kinds: np.ndarray,
        dispatcher: BatteryDispatcher,
        history: np.ndarray,
        warmup: int,
        times: pd.DatetimeIndex,
        host_matrix: sp.csr_matrix,
        import_eur_per_mwh: np.ndarray,
        export_eur_per_mwh: np.ndarray,
        replan_intervals: int,
        retrain_intervals: int,
        fit_intervals: int,
        record_horizons: list[int],
        lags_intervals: int = 2 * 672,
        fit_lead: int = 0,
        background_fit: bool = False,
    ) -> None:
        self.forecaster = forecaster
        self.kinds = kinds
        self.dispatcher = dispatcher
        self.history = history
        self.warmup = warmup
        self.times = times
        self.host_matrix = host_matrix
        self.import_price = import_eur_per_mwh
        self.export_price = export_eur_per_mwh
        self.replan = replan_intervals
        self.fit_intervals = fit_intervals
        n_run = history.shape[0] - warmup
        #: The refit schedule, and the worker the refits run in.
        self.refits = Refits(retrain_intervals, fit_lead, n_run, background_fit)
        self.lags = lags_intervals
        self.horizon = dispatcher.horizon_steps
        self.record_horizons = [h for h in record_horizons if h <= self.horizon]
        hosted = np.asarray(host_matrix.sum(axis=0)).ravel() > 0
        self._hosts, self._others = np.flatnonzero(hosted), np.flatnonzero(~hosted)
        self._all_horizons = np.arange(1, self.horizon + 1)
        near = range(1, min(replan_intervals, self.horizon) + 1)
        self._near_horizons = np.array(sorted({*near, *self.record_horizons}))
        self.records = ForecastRecord()
        self.fallback: set[int] = set()
        self.timings_s = {"forecasting": 0.0, "dispatch": 0.0}
        #: CPU time of the forecaster's fits and predictions [s] (``time.process_time``).
        self.cpu_s = {"fit": 0.0, "predict": 0.0}
        #: Fits of the forecaster so far.
        self.fits = 0
        n_series = history.shape[1]
        #: Forecast values issued per series (what a device at the edge sends upstream).
        self.values_issued = np.zeros(n_series, dtype=np.int64)
        self._fc = np.full((n_series, self.horizon), np.nan)  # newest good forecast
        self._host_fc = np.full((host_matrix.shape[0], self.horizon), np.nan)
        self._plan: np.ndarray | None = None
        self._value = np.zeros((host_matrix.shape[0], self.horizon))  # the plan's duals
        self._plan_k = 0
        #: The forecast in force for the current interval, per series [MW].
        self.current_forecast = np.full(n_series, np.nan)
        #: Each battery's planned power for the current interval [MW] (NaN: no plan).
        self.current_plan = np.full(host_matrix.shape[0], np.nan)
        #: The interval the plan in force was issued at.
        self.plan_issued = 0
        #: True once a joint planner plans the batteries (its LP, not :attr:`dispatcher`).
        self.joint = False
        # a fresh forecast (issued at, per series, per battery) its plan has not yet adopted
        self._pending: tuple[int, np.ndarray, np.ndarray] | None = None

    def _fit_data(self, end: int) -> FitData:
        """The newest ``fit_intervals`` actuals before the run's interval ``end``."""
        stop = self.warmup + end
        start = max(0, stop - self.fit_intervals)
        return self.history[start:stop].copy(), self.times[start:stop], self.kinds

    def _fit(self, k: int) -> None:
        """Put the refit due at interval ``k`` (if one is) in service, then start the refits
        whose actuals are in."""
        service = self.refits.due(k)
        if service is not None:
            ready = self.refits.take(service)
            if ready is None:  # fitted here, on the same actuals
                y, times, kinds = self._fit_data(self.refits.data_end(service))
                cpu = time.process_time()
                self.forecaster.fit(y, times, kind=kinds)
                self.cpu_s["fit"] += time.process_time() - cpu
            else:
                self.forecaster, cpu = ready
                self.cpu_s["fit"] += cpu
            self.fits += 1
        self.refits.start(k, self.forecaster, self._fit_data)

    def _forecast(self, k: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Forecast every series at interval ``k`` (refitting when due): the forecast, shape
        (series, horizon), and the forecast behind each battery's meter, shape (battery,
        horizon) [MW] (None when not finite)."""
        self._fit(k)
        end = self.warmup + k
        start = max(0, end - self.lags)
        y, times, origin = (
            self.history[start:end],
            self.times[start:end],
            np.array([end - start - 1]),
        )
        # on a big grid the whole horizon only for the series behind a battery (the LP's), for
        # the others the steps until the next plan and the recorded horizons (market, store)
        hosts, others, near = self._hosts, self._others, self._near_horizons
        cpu = time.process_time()
        if len(others) * (self.horizon - len(near)) < SPLIT_MIN_ROWS:
            fc = self.forecaster.predict_origins(y, times, origin, self._all_horizons)[0]
        elif isinstance(self.forecaster, BlockForecaster):  # both parts in one pass
            fc = np.full((len(self.kinds), self.horizon), np.nan)
            blocks = [(hosts, self._all_horizons), (others, near)]
            fc[hosts], fc[np.ix_(others, near - 1)] = self.forecaster.predict_blocks(
                y, times, int(origin[0]), blocks
            )
        else:
            fc = np.full((len(self.kinds), self.horizon), np.nan)
            fc[hosts] = self.forecaster.predict_origins(
                y, times, origin, self._all_horizons, hosts
            )[0]
            fc[np.ix_(others, near - 1)] = self.forecaster.predict_origins(
                y, times, origin, near, others
            )[0]
        self.cpu_s["predict"] += time.process_time() - cpu
        self.values_issued += np.isfinite(fc).sum(axis=1)
        if np.isfinite(fc[hosts]).all() and np.isfinite(fc[np.ix_(others, near - 1)]).all():
            return fc, np.asarray(self.host_matrix @ fc)
        return fc, None

    def _adopt(self, k: int, fc: np.ndarray, host_fc: np.ndarray, plan: np.ndarray) -> None:
        """Make ``plan``, issued at ``k`` on forecast ``fc``, the plan in force."""
        self._fc, self._host_fc, self._plan, self._plan_k = fc, host_fc, plan, k
        for h in self.record_horizons:
            self.records.issue.append(k)
            self.records.horizon.append(h)
            self.records.predicted_mw.append(fc[:, h - 1].copy())

    def _issue(self, k: int, soc_kwh: np.ndarray) -> None:
        clock = time.perf_counter
        t0 = clock()
        fc, host_fc = self._forecast(k)
        t1 = clock()
        plan = None
        if host_fc is not None:
            plan = self.dispatcher.plan(
                host_fc,
                self.import_price[k : k + self.horizon],
                self.export_price[k : k + self.horizon],
                soc_kwh,
            )
        self.timings_s["forecasting"] += t1 - t0
        self.timings_s["dispatch"] += clock() - t1
        if plan is None or host_fc is None:
            self.fallback.add(k)
            return
        self._value = self.dispatcher.energy_value
        self._adopt(k, fc, host_fc, plan)

    def joint_forecast(self, k: int) -> np.ndarray | None:
        """For a joint planner (:class:`forecasting.flex_policy.FlexDispatchPolicy`): the
        forecast behind each battery's meter over the horizon from interval ``k`` [MW].

        A fresh forecast every ``replan_intervals`` (and while no forecast is in hand), else
        the newest forecast moved on to ``k``, its last step held to the horizon's end. None:
        the forecast is not finite (interval flagged).
        """
        fresh = self._plan is None or k % self.replan == 0
        if fresh:
            t0 = time.perf_counter()
            fc, host_fc = self._forecast(k)
            self.timings_s["forecasting"] += time.perf_counter() - t0
            if host_fc is None:
                self.fallback.add(k)
            else:
                self._pending = (k, fc, host_fc)
            return host_fc
        if self._plan is None:
            return None
        j = min(k - self._plan_k, self.horizon - 1)
        idx = np.minimum(j + np.arange(self.horizon), self.horizon - 1)
        return np.asarray(self._host_fc[:, idx])

    def joint_plan(self, k: int, plan: np.ndarray | None, value: np.ndarray) -> None:
        """A joint planner's battery plan from interval ``k`` (battery, horizon) [MW] and the
        worth of stored energy after each step [EUR/MWh] (None: its LP failed, flagged)."""
        if plan is None:
            self.fallback.add(k)
            return
        if self._pending is not None and self._pending[0] == k:  # a fresh forecast
            _, fc, host_fc = self._pending
            self._pending = None
            self._adopt(k, fc, host_fc, plan)
        else:  # the forecast in force, moved on to k
            j = min(k - self._plan_k, self.horizon - 1)
            idx = np.minimum(j + np.arange(self.horizon), self.horizon - 1)
            self._fc, self._host_fc = self._fc[:, idx], self._host_fc[:, idx]
            self._plan, self._plan_k = plan, k
        self._value = value

    def request(self, k: int, host_net_mw: np.ndarray, soc_kwh: np.ndarray) -> np.ndarray:
        """Battery power for interval ``k`` [MW]; see :class:`grid.nodes.BatteryPolicy`."""
        if not self.joint and (k % self.replan == 0 or self._plan is None):
            self._issue(k, soc_kwh)
        j = k - self._plan_k
        if self._plan is None or j >= self.horizon:
            self.fallback.add(k)
            self.current_forecast = np.full(len(self.current_forecast), np.nan)
            self.current_plan = np.full(len(self.current_plan), np.nan)
            return -host_net_mw  # no usable plan: self-consumption
        self.current_forecast = self._fc[:, j]
        self.current_plan = self._plan[:, j]
        self.plan_issued = self._plan_k
        battery = self._absorb(k, j, host_net_mw)
        # never export from the battery, never let the home's surplus leave unstored
        return np.maximum(battery, -host_net_mw)

    def _absorb(self, k: int, j: int, host_net_mw: np.ndarray) -> np.ndarray:
        """Battery power: the plan, plus the home's forecast error where the battery is the
        cheaper place for it (:func:`error_to_battery`)."""
        spec = self.dispatcher.spec
        assert self._plan is not None
        planned, forecast = self._plan[:, j], self._host_fc[:, j]
        error = host_net_mw - forecast
        to_battery = error_to_battery(
            error,
            planned,
            forecast,
            self._value[:, j],
            self.import_price[k],
            self.export_price[k],
            spec.eta_charge,
            spec.eta_discharge,
        )
        return np.where(to_battery, planned - error, planned)

    def observe(self, k: int, p_series_mw: np.ndarray) -> None:
        """Record interval ``k``'s actual power of every series [MW]."""
        self.history[self.warmup + k] = p_series_mw

    def forecasts_table(self, series_ids: np.ndarray, n_intervals: int) -> dict[str, Any]:
        """The kept forecasts with their actuals, as columns of the ``forecasts`` table."""
        r = self.records
        n_series = len(series_ids)
        if not r.issue:
            empty = np.zeros(0)
            return {
                "issue": empty,
                "target": empty,
                "series": empty,
                "horizon": empty,
                "predicted_mw": empty,
                "actual_mw": empty,
            }
        issue = np.repeat(np.asarray(r.issue), n_series)
        horizon = np.repeat(np.asarray(r.horizon), n_series)
        target = issue + horizon - 1
        series = np.tile(np.arange(n_series), len(r.issue))
        predicted = np.concatenate(r.predicted_mw)
        inside = target < n_intervals
        actual = np.full(len(target), np.nan)
        actual[inside] = self.history[self.warmup + target[inside], series[inside]]
        return {
            "issue": issue,
            "target": target,
            "series": series,
            "horizon": horizon,
            "predicted_mw": predicted,
            "actual_mw": actual,
        }
