"""The power-flow contract: what a solver reports on (:class:`GridLayout`), what it returns
(:class:`PowerFlowBatch`) and the :class:`PowerFlowSolver` protocol every engine implements.

A solver takes the nodes' power of a batch of intervals (``T`` rows, one column a node, load
convention) and returns, per interval, every bus voltage, every branch loading, the import at
the slack and the grid losses. An interval whose power flow does not converge comes back with
``converged = False`` and NaN results; the run goes on.

Engines: :class:`grid.powerflow.PandapowerSolver` (the reference) and
:class:`grid.fastflow.FastSolver`; :func:`grid.powerflow.make_solver` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandapower as pp


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
