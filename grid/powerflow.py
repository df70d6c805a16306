"""AC power flow of the nodes' injections: the pandapower reference solver, and the factory of
the solver a scenario names.

The contract every solver follows (:class:`PowerFlowSolver`, :class:`PowerFlowBatch`,
:class:`GridLayout`) lives in :mod:`grid.solver` and is importable from here too. This module
imports :mod:`grid.fastflow` (lazily, in :func:`make_solver`), never the other way round.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

from grid.placement import NodeSet
from grid.solver import GridLayout as GridLayout
from grid.solver import PowerFlowBatch as PowerFlowBatch
from grid.solver import PowerFlowSolver as PowerFlowSolver

#: Result tables whose ``pl_mw`` column adds up to the grid losses.
_LOSS_TABLES = ("res_line", "res_trafo", "res_trafo3w", "res_impedance")


class _ElementWriter:
    """Writes node powers into the pandapower element tables they belong to."""

    def __init__(self, net: pp.pandapowerNet, nodes: NodeSet) -> None:
        self.net = net
        table = nodes.table
        element = table["element"].to_numpy()
        self.parts: list[tuple[str, np.ndarray, np.ndarray, float]] = []
        for name, sign in (("load", 1.0), ("sgen", -1.0), ("storage", 1.0)):
            rows = np.flatnonzero(element == name)
            if not len(rows):
                continue
            pos = net[name].index.get_indexer(table["element_index"].to_numpy()[rows])
            if (pos < 0).any():
                raise ValueError(f"nodes refer to missing {name} elements")
            self.parts.append((name, rows, pos, sign))

    def write(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        for name, rows, pos, sign in self.parts:
            frame = self.net[name]
            p = frame["p_mw"].to_numpy(dtype=float, copy=True)
            q = frame["q_mvar"].to_numpy(dtype=float, copy=True)
            p[pos] = sign * p_mw[rows]
            q[pos] = sign * q_mvar[rows]
            frame["p_mw"] = p
            frame["q_mvar"] = q


class PandapowerSolver:
    """Reference solver: ``pandapower.runpp`` interval by interval.

    Each interval starts from the previous interval's results (``init="results"``) once one
    has converged; after a failure it starts afresh (``init="auto"``: a DC start, which
    SimBench's phase-shifting transformers need).
    """

    name = "pandapower"

    def __init__(self, net: pp.pandapowerNet, nodes: NodeSet) -> None:
        self.net = net
        self.layout = GridLayout.of(net)
        self._writer = _ElementWriter(net, nodes)
        self._line_pos = net.line.index.get_indexer(
            self.layout.branch[self.layout.branch_kind == "line"]
        )
        self._trafo_pos = net.trafo.index.get_indexer(
            self.layout.branch[self.layout.branch_kind == "trafo"]
        )
        self._warm = False

    def _solve_one(self) -> bool:
        try:
            pp.runpp(self.net, init="results" if self._warm else "auto")
        except pp.LoadflowNotConverged:
            self._warm = False
            return False
        self._warm = True
        return True

    def solve(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> PowerFlowBatch:
        """Solve each of the ``T`` intervals with ``runpp``; see :class:`PowerFlowSolver`."""
        out = PowerFlowBatch.empty(len(p_mw), self.layout)
        net = self.net
        for t in range(len(p_mw)):
            self._writer.write(p_mw[t], q_mvar[t])
            if not self._solve_one():
                continue
            out.converged[t] = True
            out.vm_pu[t] = net.res_bus.vm_pu.to_numpy()
            out.loading_percent[t] = np.concatenate(
                [
                    net.res_line.loading_percent.to_numpy()[self._line_pos],
                    net.res_trafo.loading_percent.to_numpy()[self._trafo_pos],
                ]
            )
            out.import_mw[t] = net.res_ext_grid.p_mw.sum()
            out.losses_mw[t] = sum(
                float(net[name].pl_mw.sum()) for name in _LOSS_TABLES if len(net[name])
            )
        return out


def make_solver(kind: str, net: pp.pandapowerNet, nodes: NodeSet) -> PowerFlowSolver:
    """The solver named in the scenario (``grid.solver``)."""
    if kind == "pandapower":
        return PandapowerSolver(net, nodes)
    if kind == "fast":
        from grid.fastflow import FastSolver

        return FastSolver(net, nodes)
    raise ValueError(f"unknown solver {kind!r}")
