"""Forecast-driven battery control: forecasters trained inside the run, a rolling-horizon LP.

:class:`ForecastDispatchPolicy` is the batteries' :class:`grid.nodes.BatteryPolicy` when
``forecasting.battery_control = "forecast"``. It keeps the actual power of every forecast
series (consumers, PV, wind), starting with a warm-up history before the run; every
``replan_intervals`` it forecasts the series behind a battery's meter over the horizon and the
others until the next plan (and at the recorded horizons), two vectorised calls, sums the
forecasts behind each battery's meter and plans all batteries with one LP
(:class:`forecasting.dispatch.BatteryDispatcher`). Between plans each battery follows its plan;
its home's forecast error goes to the battery or to the grid, whichever is cheaper: the grid's
price for it against what the plan says stored energy is worth then (the LP's dual); at a tie
the battery follows its plan. Two
rules guard against forecast errors: a battery never discharges more than its home's deficit
(battery energy is worth more than feed-in) and always stores at least the home's surplus.
A forecast that is not finite or an LP that fails keeps the last good plan and flags the
interval; the forecaster is refitted every ``retrain_days`` on the newest ``warmup_days`` of
actuals.

No look-ahead: at interval ``k`` the forecaster sees actuals up to interval ``k - 1`` only
(interval ``k``'s meters are read after the batteries have been set).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.dispatch import BatteryDispatcher

#: Forecast rows a second prediction call must save before the policy splits its forecast in
#: two (measured: a prediction call costs about 2 ms before its first row, then about 1.5 us a
#: row; a year of the default community re-planning every 16 intervals, 3,318 rows saved an
#: issue, took 30.4 s of forecasting split against 32.0 s whole; on the 7,523-series MVLV grid
#: the split saved 339,000 rows an issue and 37 % of the time).
SPLIT_MIN_ROWS = 2_000
#: Relative margin by which the battery must be the cheaper place for a forecast error before
#: it leaves its plan (see :func:`error_to_battery`); above the solver's noise in the duals.
TIE_TOLERANCE = 1e-3


class SeriesForecaster(Protocol):
    """What the policy needs of a forecaster (the ``fit`` / ``predict`` part of
    :class:`forecasting.models.Forecaster`)."""

    def fit(self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None) -> Any:
        """Learn from actuals ``y`` (interval, series) [MW] at ``times``; ``kind`` per series."""
        ...

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """Forecasts issued at the end of rows ``origins`` of ``y``, ``horizons`` steps ahead,
        of the columns ``series`` (default all).

        Returns an array of shape (origin, series, horizon) [MW].
        """
        ...


class PerfectForesight:
    """The actual future, for the bound on what forecasting can be worth.

    Parameters
    ----------
    actual : ndarray, shape (interval, series)
        The actual power of every series over warm-up + run [MW].
    times : DatetimeIndex
        Interval starts of ``actual``.
    """

    def __init__(self, actual: np.ndarray, times: pd.DatetimeIndex) -> None:
        self.actual = actual
        self.times = times

    def fit(
        self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None
    ) -> PerfectForesight:
        """Nothing to learn."""
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """The actual values ``horizons`` after each origin (the last one repeated past the
        end)."""
        start = self.times.searchsorted(times[np.asarray(origins)])
        idx = np.minimum(start[:, None] + np.asarray(horizons)[None, :], len(self.actual) - 1)
        out = self.actual[idx].transpose(0, 2, 1)  # (origin, series, horizon)
        return out if series is None else out[:, series]


class PartlyPerfect:
    """One forecaster for most series, the actual future for some: what a perfect forecast of
    one source (consumers, PV or wind) would be worth, the others forecast as usual.

    Parameters
    ----------
    forecaster : SeriesForecaster
        Forecasts the series not in ``perfect``.
    oracle : PerfectForesight
        The actual future.
    perfect : ndarray of bool, shape (series,)
        The series forecast by ``oracle``.
    """

    def __init__(
        self, forecaster: SeriesForecaster, oracle: PerfectForesight, perfect: np.ndarray
    ) -> None:
        self.forecaster = forecaster
        self.oracle = oracle
        self.perfect = np.asarray(perfect, dtype=bool)

    def fit(
        self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None
    ) -> PartlyPerfect:
        """Fit the forecaster (on every series: a pooled model learns from all)."""
        self.forecaster.fit(y, times, kind=kind)
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        """The forecaster's forecasts, the actual future where ``perfect``."""
        chosen = np.arange(len(self.perfect)) if series is None else np.asarray(series)
        out = self.forecaster.predict_origins(y, times, origins, horizons, series)
        exact = self.perfect[chosen]
        if exact.any():
            truth = self.oracle.predict_origins(y, times, origins, horizons, chosen[exact])
            out[:, exact] = truth
        return out


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
        self.retrain = retrain_intervals
        self.fit_intervals = fit_intervals
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
        n_series = history.shape[1]
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

    def _fit(self, k: int) -> None:
        end = self.warmup + k
        start = max(0, end - self.fit_intervals)
        self.forecaster.fit(self.history[start:end], self.times[start:end], kind=self.kinds)

    def _issue(self, k: int, soc_kwh: np.ndarray) -> None:
        clock = time.perf_counter
        t0 = clock()
        if k % self.retrain == 0:
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
        if len(others) * (self.horizon - len(near)) < SPLIT_MIN_ROWS:
            fc = self.forecaster.predict_origins(y, times, origin, self._all_horizons)[0]
        else:
            fc = np.full((len(self.kinds), self.horizon), np.nan)
            fc[hosts] = self.forecaster.predict_origins(
                y, times, origin, self._all_horizons, hosts
            )[0]
            fc[np.ix_(others, near - 1)] = self.forecaster.predict_origins(
                y, times, origin, near, others
            )[0]
        t1 = clock()
        plan = None
        if np.isfinite(fc[hosts]).all() and np.isfinite(fc[np.ix_(others, near - 1)]).all():
            host_fc = self.host_matrix @ fc
            plan = self.dispatcher.plan(
                host_fc,
                self.import_price[k : k + self.horizon],
                self.export_price[k : k + self.horizon],
                soc_kwh,
            )
        self.timings_s["forecasting"] += t1 - t0
        self.timings_s["dispatch"] += clock() - t1
        if plan is None:
            self.fallback.add(k)
            return
        self._fc, self._host_fc, self._plan, self._plan_k = fc, host_fc, plan, k
        self._value = self.dispatcher.energy_value
        for h in self.record_horizons:
            self.records.issue.append(k)
            self.records.horizon.append(h)
            self.records.predicted_mw.append(fc[:, h - 1].copy())

    def request(self, k: int, host_net_mw: np.ndarray, soc_kwh: np.ndarray) -> np.ndarray:
        """Battery power for interval ``k`` [MW]; see :class:`grid.nodes.BatteryPolicy`."""
        if k % self.replan == 0 or self._plan is None:
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


def error_to_battery(
    error_mw: np.ndarray,
    planned_mw: np.ndarray,
    forecast_mw: np.ndarray,
    value_eur_per_mwh: np.ndarray,
    import_eur_per_mwh: float,
    export_eur_per_mwh: float,
    eta_charge: float,
    eta_discharge: float,
) -> np.ndarray:
    """Whether each battery, rather than the grid, takes its home's forecast error.

    A bigger deficit than forecast (``error > 0``) is covered from the battery when the grid's
    price for it is above what the stored energy is worth to the plan (the LP's dual, per MWh
    at the meter: times ``eta_charge`` when the plan charges, divided by ``eta_discharge`` when
    it discharges); a smaller one (or a bigger surplus) is stored when the stored energy is
    worth more than the grid's price. Otherwise the grid takes the error and the battery
    follows its plan.

    Ties go to the plan: the battery deviates only when it is cheaper by more than
    :data:`TIE_TOLERANCE`. An LP on point forecasts is indifferent at a tie (its next kWh
    would be used at the same price later), but the future it planned for is uncertain:
    energy kept may yet be needed at a dearer hour, and energy not bought may leave room for
    surplus PV. Measured over 30 days in four seasons, following the plan at ties captured
    5-9 points more of the perfect-foresight saving than moving the error at ties
    (``benchmarks/forecast_value.py``).

    Parameters
    ----------
    error_mw, planned_mw, forecast_mw : ndarray, shape (battery,)
        The home's net power minus its forecast, the battery's planned power (charging
        positive) and the home's forecast net power, all without the battery [MW].
    value_eur_per_mwh : ndarray, shape (battery,)
        The plan's worth of one more MWh stored now [EUR/MWh].
    import_eur_per_mwh, export_eur_per_mwh : float
        The tariff now [EUR/MWh].
    eta_charge, eta_discharge : float
        One-way efficiencies [-].
    """
    grid_planned = forecast_mw + planned_mw
    # the grid's price for the error, were it left to the grid
    price = np.where(grid_planned + 0.5 * error_mw > 0, import_eur_per_mwh, export_eur_per_mwh)
    worth = np.where(
        planned_mw > 0, value_eur_per_mwh * eta_charge, value_eur_per_mwh / eta_discharge
    )
    margin = 1.0 + TIE_TOLERANCE
    return ((error_mw > 0) & (price > worth * margin)) | ((error_mw < 0) & (worth > price * margin))


def make_forecaster(
    model: str,
    actual: np.ndarray | None,
    times: pd.DatetimeIndex,
    seed: int,
    training_samples: int = 30_000,
    trees: int = 30,
    learning_rate: float = 0.2,
    perfect_kinds: Sequence[str] = (),
    kinds: np.ndarray | None = None,
) -> SeriesForecaster:
    """The forecaster named in ``forecasting.model``.

    Parameters
    ----------
    model : {"gb", "seasonal_naive", "perfect"}
        Which forecaster.
    actual : ndarray or None
        The actual series over warm-up + run, for ``perfect``.
    times : DatetimeIndex
        Interval starts of warm-up + run.
    seed : int
        The run's seed (the model's ``random_state``).
    training_samples, trees : int
        Rows sampled for training and boosting iterations of ``gb``.
    learning_rate : float
        Gradient boosting's learning rate [-].
    perfect_kinds : sequence of str
        Node kinds forecast perfectly (:class:`PartlyPerfect`); needs ``actual`` and ``kinds``.
    kinds : ndarray of str, optional
        Forecasting kind of each series (:func:`node_kinds`).
    """
    if perfect_kinds and model != "perfect":
        if actual is None or kinds is None:
            raise ValueError("perfect_kinds needs the actual series and their kinds")
        base = np.char.partition(np.asarray(kinds, dtype=str), ":")[:, 0]
        inner = make_forecaster(model, None, times, seed, training_samples, trees, learning_rate)
        return PartlyPerfect(
            inner, PerfectForesight(actual, times), np.isin(base, list(perfect_kinds))
        )
    from forecasting.boosting import GlobalGBForecaster
    from forecasting.models import SeasonalNaive

    if model == "perfect":
        if actual is None:
            raise ValueError("perfect foresight needs the actual series")
        return PerfectForesight(actual, times)
    if model == "seasonal_naive":
        return SeasonalNaive()
    if model == "gb":
        gb = GlobalGBForecaster(
            max_samples=training_samples,
            max_iter=trees,
            learning_rate=learning_rate,
            random_state=seed % 2**32,
        )
        return gb
    raise ValueError(f"unknown forecasting model {model!r}")


def node_kinds(twin: Any) -> np.ndarray:
    """Forecasting kind of each node: ``consumer:<profile>``, ``solar``, ``wind``, ``battery``."""
    table = twin.nodes.table
    kind = table["kind"].to_numpy().astype(str)
    profile = table["profile"].to_numpy().astype(str)
    return np.where(kind == "consumer", np.char.add("consumer:", profile), kind)
