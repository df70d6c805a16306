"""The dispatch layer: the forecast-driven battery policy's record of the run.

The policy itself (:class:`forecasting.policy.ForecastDispatchPolicy`) is the batteries' node
model, built with the twin and run inside the batteries' node process. This layer shows it each
interval's meters (the forecasters' history), keeps the forecast and plan in force, offers them
to the market as positions (:meth:`expected_mw`), and writes ``dispatch_plans``,
``imbalances`` and ``forecasts``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import simpy

from forecasting.edge import model_bytes
from forecasting.policy import ForecastDispatchPolicy
from settlement.units import mw_to_wh
from twin.layers.base import Chunk, JsonValue, LayerOutput, Process
from twin.layers.context import LayerContext
from twin.results import tiled_ids


class DispatchLayer:
    """Records and offers the forecast-driven dispatch of a run.

    Parameters
    ----------
    ctx : LayerContext
        The run being built.
    policy : ForecastDispatchPolicy
        The batteries' policy.
    series_rows : ndarray of int
        The nodes whose power is forecast (every node but the batteries).
    """

    name = "dispatch"

    def __init__(
        self, ctx: LayerContext, policy: ForecastDispatchPolicy, series_rows: np.ndarray
    ) -> None:
        self.policy = policy
        self.series_rows = series_rows
        self.writer = ctx.writer
        self.stamps = ctx.stamps
        self.interval_s = ctx.scenario.run.interval_s
        self.n_intervals = ctx.scenario.run.n_intervals
        self.placement = ctx.scenario.forecasting.placement
        self.node_ids = ctx.twin.nodes.table["node_id"].to_numpy().astype(str)
        self.bat_rows = ctx.twin.batteries.rows
        self._forecast: list[np.ndarray] = []
        self._plan: list[np.ndarray] = []
        self._issued: list[int] = []
        self._fallback: list[bool] = []

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own (the policy runs in the batteries' node process)."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Give the forecasters interval ``k``'s actuals; keep what was in force."""
        policy = self.policy
        policy.observe(k, p_mw[self.series_rows])
        self._forecast.append(policy.current_forecast.copy())
        self._plan.append(policy.current_plan.copy())
        self._issued.append(policy.plan_issued)
        self._fallback.append(k in policy.fallback)

    def expected_mw(self, persistence_mw: np.ndarray) -> np.ndarray:
        """Each node's expected power this interval [MW]: the forecast in force and the
        batteries' plans, ``persistence_mw`` where none is in force."""
        expected = persistence_mw.copy()
        fc = self.policy.current_forecast
        ok = np.isfinite(fc)
        expected[self.series_rows[ok]] = fc[ok]
        plan = self.policy.current_plan
        ok = np.isfinite(plan)
        expected[self.bat_rows[ok]] = plan[ok]
        return expected

    def add(self, chunk: Chunk) -> None:
        """Write the chunk's plans in force and forecast errors; mark fallback intervals."""
        n, times, p = chunk.size, chunk.times, chunk.p_mw
        forecast = np.array(self._forecast[:n]).reshape(n, len(self.series_rows))
        plan = np.array(self._plan[:n]).reshape(n, len(self.bat_rows))
        issued = np.array(self._issued[:n], dtype=np.int64)
        chunk.fallback = np.array(self._fallback[:n], dtype=bool)
        del self._forecast[:n], self._plan[:n], self._issued[:n], self._fallback[:n]
        n_bat = len(self.bat_rows)
        if n_bat:
            self.writer.append(
                "dispatch_plans",
                {
                    "time": np.repeat(times, n_bat),
                    "issued": np.repeat(self.stamps[issued], n_bat),
                    "node_id": tiled_ids(self.node_ids[self.bat_rows], n),
                    "planned_p_mw": plan.ravel(),
                    "actual_p_mw": p[:, self.bat_rows].ravel(),
                },
            )
        if len(self.series_rows):
            ids = self.node_ids[self.series_rows]
            actual = p[:, self.series_rows]
            error_mw = np.nan_to_num(actual - forecast)
            self.writer.append(
                "imbalances",
                {
                    "time": np.repeat(times, len(ids)),
                    "node_id": tiled_ids(ids, n),
                    "forecast_mw": forecast.ravel(),
                    "actual_mw": actual.ravel(),
                    "imbalance_wh": mw_to_wh(error_mw, self.interval_s).ravel(),
                },
            )

    def finish(self) -> LayerOutput:
        """Write the kept forecasts; report the policy's forecasting and dispatch time, and in
        the manifest where the forecaster ran and what it cost (fits, CPU, model size, forecast
        values issued)."""
        ids = self.node_ids[self.series_rows]
        cols = self.policy.forecasts_table(ids, self.n_intervals)
        target = np.minimum(cols["target"].astype(np.int64), self.n_intervals - 1)
        inside = cols["target"] < self.n_intervals
        codes = pa.array(cols["series"][inside].astype(np.int32))
        self.writer.append(
            "forecasts",
            {
                "time": self.stamps[target[inside]],
                "issued": self.stamps[cols["issue"][inside].astype(np.int64)],
                "node_id": pa.DictionaryArray.from_arrays(codes, pa.array(ids)),
                "horizon_steps": cols["horizon"][inside].astype(np.int64),
                "predicted_mw": cols["predicted_mw"][inside],
                "actual_mw": cols["actual_mw"][inside],
            },
        )
        policy = self.policy
        forecasting: dict[str, JsonValue] = {
            "placement": self.placement,
            "devices": len(self.series_rows),
            "fits": policy.fits,
            "fit_cpu_s": policy.cpu_s["fit"],
            "fits_in_background": policy.refits.in_background,
            "fit_lead_intervals": policy.refits.lead,
            "predict_cpu_s": policy.cpu_s["predict"],
            "model_bytes": list(model_bytes(policy.forecaster)),
            "values_issued": int(policy.values_issued.sum()),
        }
        return LayerOutput(timings_s=dict(policy.timings_s), manifest={"forecasting": forecasting})
