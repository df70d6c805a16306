"""AC power flow of the nodes' injections: the :class:`PowerFlowSolver` protocol and the
pandapower reference.

A solver takes the nodes' power of a batch of intervals (``T`` rows, one column a node, load
convention) and returns, per interval, every bus voltage, every branch loading, the import at
the slack and the grid losses. An interval whose power flow does not converge comes back with
``converged = False`` and NaN results; the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandapower as pp

from grid.placement import NodeSet

#: Result tables whose ``pl_mw`` column adds up to the grid losses.
_LOSS_TABLES = ("res_line", "res_trafo", "res_trafo3w", "res_impedance")


@dataclass(frozen=True)
class GridLayout:
    """What a solver reports on: bus indices and branch indices with their kind."""

    bus: np.ndarray
    branch: np.ndarray
    branch_kind: np.ndarray

    @classmethod
    def of(cls, net: pp.pandapowerNet) -> GridLayout:
        """Every bus, every in-service line and every transformer of ``net``."""
        lines = net.line.index[net.line.in_service.astype(bool)].to_numpy()
        trafos = net.trafo.index[net.trafo.in_service.astype(bool)].to_numpy()
        return cls(
            bus=net.bus.index.to_numpy(dtype=np.int64),
            branch=np.concatenate([lines, trafos]).astype(np.int64),
            branch_kind=np.array(["line"] * len(lines) + ["trafo"] * len(trafos)),
        )


@dataclass
class PowerFlowBatch:
    """Power-flow results of ``T`` intervals.

    Attributes
    ----------
    vm_pu : ndarray, shape (T, bus)
        Bus voltage magnitude [p.u.].
    loading_percent : ndarray, shape (T, branch)
        Line / transformer loading [%].
    import_mw : ndarray, shape (T,)
        Active power drawn from the slack into the grid [MW]; export is negative.
    losses_mw : ndarray, shape (T,)
        Active power losses of all branches [MW].
    converged : ndarray of bool, shape (T,)
        Whether the interval's power flow converged; results are NaN where not.
    """

    vm_pu: np.ndarray
    loading_percent: np.ndarray
    import_mw: np.ndarray
    losses_mw: np.ndarray
    converged: np.ndarray

    @classmethod
    def empty(cls, n_t: int, layout: GridLayout) -> PowerFlowBatch:
        """A batch of ``n_t`` not-yet-solved (NaN, not converged) intervals."""
        nan = np.nan
        return cls(
            vm_pu=np.full((n_t, len(layout.bus)), nan),
            loading_percent=np.full((n_t, len(layout.branch)), nan),
            import_mw=np.full(n_t, nan),
            losses_mw=np.full(n_t, nan),
            converged=np.zeros(n_t, dtype=bool),
        )


class PowerFlowSolver(Protocol):
    """A power-flow engine for the nodes of one net (swappable, as Grid2Op's Backend)."""

    name: str
    layout: GridLayout

    def solve(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> PowerFlowBatch:
        """Solve ``T`` intervals.

        Parameters
        ----------
        p_mw, q_mvar : ndarray, shape (T, node)
            Each node's active / reactive power, load convention [MW], [Mvar].
        """
        ...


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
