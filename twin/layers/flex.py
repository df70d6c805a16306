"""The flex layer: the record of the run's EV chargers and heat pumps (``[flex]``).

The chargers and heat pumps are node models (:class:`grid.flex.FlexNodes`, a SimPy process of
their own, planned by :class:`forecasting.flex_policy.FlexDispatchPolicy` or on their
profiles). This layer writes their state per interval (``flex_ev``, ``flex_heat_pumps``), one
row an EV session (``ev_sessions``), and the KPIs that keep what flexibility costs visible:
sessions that left short of their need and the energy they lacked, and the comfort band's
violations in kelvin-hours.
"""

from __future__ import annotations

import numpy as np
import simpy

from forecasting.flex_policy import FlexDispatchPolicy
from grid.flex import FlexNodes
from twin.layers.base import Chunk, Kpis, LayerOutput, Process
from twin.layers.context import LayerContext
from twin.results import tiled_ids

#: A session short by less than this is on target [kWh] (float rounding).
SHORTFALL_TOLERANCE_KWH = 1e-6


class FlexLayer:
    """Records the flexible loads of a run.

    Parameters
    ----------
    ctx : LayerContext
        The run being built.
    flex : FlexNodes
        The run's chargers and heat pumps.
    """

    name = "flex"

    def __init__(self, ctx: LayerContext, flex: FlexNodes) -> None:
        self.flex = flex
        self.writer = ctx.writer
        self.stamps = ctx.stamps
        self.n_intervals = ctx.scenario.run.n_intervals
        self.dt_h = ctx.scenario.run.interval_s / 3600.0
        ids = ctx.twin.nodes.table["node_id"].to_numpy().astype(str)
        self.ev_ids, self.hp_ids = ids[flex.ev_rows], ids[flex.hp_rows]
        self.ev_mwh = 0.0
        self.hp_mwh = 0.0
        self.heat_mwh = 0.0
        self.comfort_kelvin_hours = 0.0

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own (the fleet runs as a node process)."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing per interval (the fleet logs its state)."""

    def add(self, chunk: Chunk) -> None:
        """Write the chunk's charger and heat-pump states."""
        flex, n = self.flex, chunk.size
        rows = slice(chunk.first, chunk.first + n)
        times = chunk.times
        ev_p = chunk.p_mw[:, flex.ev_rows]
        hp_p = chunk.p_mw[:, flex.hp_rows]
        self.ev_mwh += float(ev_p.sum() * self.dt_h)
        self.hp_mwh += float(hp_p.sum() * self.dt_h)
        if len(self.ev_ids):
            s = flex.ev.sessions
            k = np.arange(chunk.first, chunk.first + n)
            live = (s.arrival[None, :] <= k[:, None]) & (k[:, None] < s.departure[None, :])
            need = np.zeros((n, len(self.ev_ids)))
            t_idx, s_idx = np.nonzero(live)
            need[t_idx, s.ev[s_idx]] = s.need_kwh[s_idx]
            plugged = np.zeros((n, len(self.ev_ids)), dtype=bool)
            plugged[t_idx, s.ev[s_idx]] = True
            self.writer.append(
                "flex_ev",
                {
                    "time": np.repeat(times, len(self.ev_ids)),
                    "node_id": tiled_ids(self.ev_ids, n),
                    "p_mw": ev_p.ravel(),
                    "plugged": plugged.ravel(),
                    "delivered_kwh": flex.ev_delivered_log[rows].ravel(),
                    "need_kwh": need.ravel(),
                },
            )
        if len(self.hp_ids):
            indoor = flex.hp_temperature_log[rows]
            heat = flex.hp_heat_log[rows]
            self.heat_mwh += float(heat.sum() / 1e3)
            hp = flex.hp
            outside = np.maximum(hp.comfort_min_c - indoor, 0.0) + np.maximum(
                indoor - hp.comfort_max_c, 0.0
            )
            self.comfort_kelvin_hours += float(outside.sum() * self.dt_h)
            self.writer.append(
                "flex_heat_pumps",
                {
                    "time": np.repeat(times, len(self.hp_ids)),
                    "node_id": tiled_ids(self.hp_ids, n),
                    "p_mw": hp_p.ravel(),
                    "heat_kwh": heat.ravel(),
                    "demand_kwh": (hp.heat_kw[rows] * self.dt_h).ravel(),
                    "cop": hp.cop[rows].ravel(),
                    "indoor_c": indoor.ravel(),
                },
            )

    def finish(self) -> LayerOutput:
        """The ``ev_sessions`` table and the flexible loads' KPIs."""
        flex = self.flex
        s = flex.ev.sessions
        shortfall = flex.ev.shortfall_kwh()
        departed = s.departure < self.n_intervals
        short = departed & (shortfall > SHORTFALL_TOLERANCE_KWH)
        last = len(self.stamps) - 1
        end = self.stamps[last] + (self.stamps[1] - self.stamps[0] if last else 0)
        departure = np.where(departed, self.stamps[np.minimum(s.departure, last)], end)
        tables = {
            "ev_sessions": {
                "node_id": self.ev_ids[s.ev] if len(s) else np.zeros(0, dtype=str),
                "arrival": self.stamps[s.arrival],
                "departure": departure,
                "need_kwh": s.need_kwh,
                "delivered_kwh": flex.ev.delivered_kwh,
                "shortfall_kwh": shortfall,
                "departed": departed,
                "p_max_mw": flex.ev.p_max_mw[s.ev] if len(s) else np.zeros(0),
            }
        }
        hp = flex.hp
        temps = flex.hp_temperature_log
        kpis: Kpis = {
            "ev_chargers": (float(len(self.ev_ids)), "count"),
            "ev_sessions": (float(len(s)), "count"),
            "ev_sessions_short": (float(short.sum()), "count"),
            "ev_shortfall_kwh": (float(shortfall[departed].sum()), "kWh"),
            "ev_sessions_open_at_end": (float((~departed).sum()), "count"),
            "ev_charged_mwh": (self.ev_mwh, "MWh"),
            "heat_pumps": (float(len(self.hp_ids)), "count"),
            "hp_electric_mwh": (self.hp_mwh, "MWh"),
            "hp_heat_mwh": (self.heat_mwh, "MWh"),
            "hp_comfort_violation_kelvin_hours": (self.comfort_kelvin_hours, "K h"),
            "hp_indoor_min_c": (float(temps.min()) if temps.size else hp.comfort_min_c, "degC"),
            "hp_indoor_max_c": (float(temps.max()) if temps.size else hp.comfort_max_c, "degC"),
        }
        policy = flex.policy
        timings: dict[str, float] = {}
        if isinstance(policy, FlexDispatchPolicy):
            kpis["flex_plans"] = (float(policy.plans), "count")
            kpis["flex_plans_failed"] = (float(policy.failed), "count")
            timings = dict(policy.timings_s)
        return LayerOutput(kpis=kpis, tables=tables, timings_s=timings)
