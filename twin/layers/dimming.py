"""The dimming layer: the record of the grid operator's dimming (``[flex.dimming]``, §14a EnWG).

The operator itself is a node process (:class:`grid.dimming.DimmingOperator`, the last of each
interval); this layer writes what it did: one ``dimming`` row per interval and device it
dimmed (power asked and power left, energy dimmed), one ``dimming_devices`` row per
controllable device (its owner and the grid-fee reduction credited to it, which the market
layer puts in the ``bills``), and the KPIs that compare it with curtailment alone: violations
before and after the operator, energy dimmed by kind of device. The shortfalls and comfort
that dimming costs are the flex layer's KPIs (``ev_shortfall_kwh``,
``hp_comfort_violation_kelvin_hours``).
"""

from __future__ import annotations

import numpy as np
import simpy

from grid.dimming import DimmingOperator
from settlement.market.grid_fee import fee_reduction_micro_eur
from twin.layers.base import Chunk, Kpis, LayerOutput, Process
from twin.layers.context import LayerContext

#: A device counts as dimmed in an interval when it gave up more than this [MW] (1 W).
DIMMED_MW = 1e-6

#: The kinds of controllable device, as the KPIs name them.
KINDS = {"ev": "ev", "heat_pump": "hp", "battery": "battery"}


class DimmingLayer:
    """Records the operator's dimming of a run.

    Parameters
    ----------
    ctx : LayerContext
        The run being built.
    operator : DimmingOperator
        The run's operator.
    """

    name = "dimming"

    def __init__(self, ctx: LayerContext, operator: DimmingOperator) -> None:
        self.operator = operator
        self.writer = ctx.writer
        self.stamps = ctx.stamps
        sc = ctx.scenario
        self.config = sc.flex.dimming
        self.run_s = sc.run.interval_s * sc.run.n_intervals
        self.dt_h = sc.run.interval_s / 3600.0
        table = ctx.twin.nodes.table
        rows = operator.devices.rows
        self.ids = table["node_id"].to_numpy().astype(str)[rows]
        self.owners = table["owner"].to_numpy().astype(str)[rows]
        self.dimmed_kwh = np.zeros(len(rows))
        self.intervals_dimmed = np.zeros(len(rows), dtype=np.int64)

    def start(self, env: simpy.Environment) -> list[Process]:
        """No process of its own (the operator runs as a node process)."""
        return []

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Nothing per interval (the operator logs what it did)."""

    def add(self, chunk: Chunk) -> None:
        """Write the chunk's ``dimming`` rows: each device and interval it was dimmed."""
        op = self.operator
        rows = slice(chunk.first, chunk.first + chunk.size)
        asked, left = op.requested_mw[rows], op.p_mw[rows]
        cut = asked - left
        t, d = np.nonzero(cut > DIMMED_MW)
        energy = cut * 1e3 * self.dt_h
        self.dimmed_kwh += energy.sum(axis=0)
        self.intervals_dimmed += (cut > DIMMED_MW).sum(axis=0)
        self.writer.append(
            "dimming",
            {
                "time": chunk.times[t],
                "node_id": self.ids[d],
                "kind": op.devices.kind[d],
                "owner": self.owners[d],
                "requested_mw": asked[t, d],
                "p_mw": left[t, d],
                "dimmed_kwh": energy[t, d],
            },
        )

    def finish(self) -> LayerOutput:
        """The ``dimming_devices`` table and the dimming KPIs."""
        op, cfg = self.operator, self.config
        per_device = fee_reduction_micro_eur(cfg.fee_reduction_eur_per_year, self.run_s)
        n = len(self.ids)
        tables = {
            "dimming_devices": {
                "node_id": self.ids,
                "kind": op.devices.kind,
                "owner": self.owners,
                "p_max_mw": op.devices.p_max_mw,
                "dimmed_kwh": self.dimmed_kwh,
                "intervals_dimmed": self.intervals_dimmed,
                "grid_fee_reduction_micro_eur": np.full(n, per_device, dtype=np.int64),
            }
        }
        dimmed = op.requested_mw - op.p_mw > DIMMED_MW
        kept = op.p_mw[dimmed]
        kpis: Kpis = {
            "dimming_violations_before": (float(op.violations_before.sum()), "count"),
            "dimming_violations_after": (float(op.violations_after.sum()), "count"),
            "dimming_intervals": (float(dimmed.any(axis=1).sum()), "count"),
            "dimmed_kwh": (float(self.dimmed_kwh.sum()), "kWh"),
            "dimmed_devices": (float((self.intervals_dimmed > 0).sum()), "count"),
            "controllable_devices": (float(n), "count"),
            "dimmed_min_kw": (float(kept.min() * 1e3) if kept.size else float("nan"), "kW"),
        }
        for kind, short in KINDS.items():
            mine = op.devices.kind == kind
            kpis[f"dimmed_{short}_kwh"] = (float(self.dimmed_kwh[mine].sum()), "kWh")
        return LayerOutput(kpis=kpis, tables=tables)
