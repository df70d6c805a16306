"""The run's summary figures, accumulated chunk by chunk.

Definitions (energy at the meters, load convention):

- ``self_sufficiency`` = 1 - grid import / consumption: the share of the community's
  consumption not drawn through the slack [-];
- ``self_consumption`` = 1 - grid export / local generation [-];
- ``violations``: bus voltages outside [vm_min_pu, vm_max_pu] plus branches above
  max_loading_percent, counted per interval and summed; ``violation_intervals`` counts the
  intervals with at least one;
- ``infeasible_intervals``: intervals whose power flow did not converge (their import,
  losses and voltages are unknown and excluded from the energy figures).
"""

from __future__ import annotations

import numpy as np

from grid.placement import NodeSet
from grid.powerflow import PowerFlowBatch


class KpiAccumulator:
    """Sums the energy, extremes and counts of a run."""

    def __init__(self, nodes: NodeSet) -> None:
        self.kind_rows = {k: nodes.rows(k) for k in ("consumer", "solar", "wind", "battery")}
        self.e_mwh = dict.fromkeys(
            (
                "consumption",
                "pv",
                "wind",
                "battery_charge",
                "battery_discharge",
                "import",
                "export",
                "losses",
            ),
            0.0,
        )
        self.peak_import_mw = -np.inf
        self.vm_min = np.inf
        self.vm_max = -np.inf
        self.loading_max = -np.inf
        self.violations = 0
        self.violation_intervals = 0
        self.infeasible = 0
        self.node_outage_intervals = 0
        self.intervals = 0

    def add(
        self,
        p_mw: np.ndarray,
        flow: PowerFlowBatch,
        violations: np.ndarray,
        nodes_out: np.ndarray,
        interval_s: int,
    ) -> None:
        """Add a chunk of intervals."""
        h = interval_s / 3600.0
        e = self.e_mwh
        rows = self.kind_rows
        e["consumption"] += p_mw[:, rows["consumer"]].sum() * h
        e["pv"] += -p_mw[:, rows["solar"]].sum() * h
        e["wind"] += -p_mw[:, rows["wind"]].sum() * h
        bat = p_mw[:, rows["battery"]]
        e["battery_charge"] += np.clip(bat, 0, None).sum() * h
        e["battery_discharge"] += -np.clip(bat, None, 0).sum() * h
        ok = flow.converged
        imp = flow.import_mw[ok]
        e["import"] += np.clip(imp, 0, None).sum() * h
        e["export"] += -np.clip(imp, None, 0).sum() * h
        e["losses"] += flow.losses_mw[ok].sum() * h
        if ok.any():
            self.peak_import_mw = max(self.peak_import_mw, float(imp.max()))
            self.vm_min = min(self.vm_min, float(np.nanmin(flow.vm_pu[ok])))
            self.vm_max = max(self.vm_max, float(np.nanmax(flow.vm_pu[ok])))
            if flow.loading_percent.shape[1]:
                self.loading_max = max(self.loading_max, float(np.nanmax(flow.loading_percent[ok])))
        self.violations += int(violations.sum())
        self.violation_intervals += int((violations > 0).sum())
        self.infeasible += int((~ok).sum())
        self.node_outage_intervals += int(nodes_out.sum())
        self.intervals += len(p_mw)

    def result(self, extra: dict[str, tuple[float, str]]) -> dict[str, tuple[float, str]]:
        """The KPIs as ``{name: (value, unit)}``, followed by ``extra`` (the market's)."""
        e = self.e_mwh
        generation = e["pv"] + e["wind"]
        consumption = e["consumption"]

        def finite(x: float) -> float:
            return float(x) if np.isfinite(x) else float("nan")

        return {
            "intervals": (float(self.intervals), "count"),
            "consumption_mwh": (consumption, "MWh"),
            "pv_mwh": (e["pv"], "MWh"),
            "wind_mwh": (e["wind"], "MWh"),
            "battery_charge_mwh": (e["battery_charge"], "MWh"),
            "battery_discharge_mwh": (e["battery_discharge"], "MWh"),
            "grid_import_mwh": (e["import"], "MWh"),
            "grid_export_mwh": (e["export"], "MWh"),
            "losses_mwh": (e["losses"], "MWh"),
            "self_sufficiency": (
                1 - e["import"] / consumption if consumption else float("nan"),
                "-",
            ),
            "self_consumption": (1 - e["export"] / generation if generation else float("nan"), "-"),
            "peak_import_mw": (finite(self.peak_import_mw), "MW"),
            "min_vm_pu": (finite(self.vm_min), "p.u."),
            "max_vm_pu": (finite(self.vm_max), "p.u."),
            "max_loading_percent": (finite(self.loading_max), "%"),
            "violations": (float(self.violations), "count"),
            "violation_intervals": (float(self.violation_intervals), "count"),
            "infeasible_intervals": (float(self.infeasible), "count"),
            "node_outage_intervals": (float(self.node_outage_intervals), "count"),
            **extra,
        }
