"""Network-aware clearing: curtail the generation behind a voltage or loading violation.

After the market clears, the interval's AC power flow is checked against the voltage band and
the loading limit of ``[grid]``. Where the upper voltage limit or a branch carrying reverse
(export) flow is violated, the generation that contributes most is curtailed, and the power
flow is solved again, until the limits hold or ``rounds`` are spent:

1. **Sensitivities**, once per run and only when a violation first appears: the AC solver
   itself, on the unloaded grid, with :data:`DELTA_MW` of generation at one bus at a time,
   gives the voltage rise of every bus and the loading of every branch per MW generated at
   each bus that has nodes (a linearisation; the rounds correct what it misses).
2. **A round**, for every violating interval of a chunk at once: the worst bus over the upper
   band and the worst export-driven overloaded branch each ask for a cut. Generator ``j``'s
   share of a cut is ``theta * s_j * x_j`` (``s_j`` its sensitivity, ``x_j`` its output), so
   the nodes that contribute most give most; ``theta`` is set so the linear estimate just
   clears the violation plus a small margin. Both cuts are combined by the larger share.
3. The batch of violating intervals is solved again; intervals still violating go another
   round. Violations caused by demand (under-voltage, import-driven overload) cannot be
   relieved by curtailing generation; they remain and are reported as unresolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from grid.powerflow import PowerFlowBatch

#: Probe injection for the sensitivities [MW].
DELTA_MW = 0.01
#: Targets below the limits, so a round lands inside the band [p.u.] and [%].
V_MARGIN_PU = 0.002
LOADING_MARGIN_PERCENT = 1.0

Solve = Callable[[np.ndarray, np.ndarray], PowerFlowBatch]


@dataclass(frozen=True)
class Sensitivities:
    """Linear response of the grid to generation at the buses that have nodes.

    Attributes
    ----------
    node_col : ndarray of int, shape (node,)
        Row of each node's bus in ``dv`` and ``dl``.
    dv : ndarray, shape (node bus, bus)
        Voltage rise per MW generated [p.u./MW].
    dl : ndarray, shape (node bus, branch)
        Loading per MW generated [%/MW] (no sign: a magnitude).
    node_bus : scipy.sparse matrix, shape (node bus, node)
        1 where a node sits at a bus row.
    """

    node_col: np.ndarray
    dv: np.ndarray
    dl: np.ndarray
    node_bus: sp.csr_matrix

    @classmethod
    def of(cls, solve: Solve, node_bus_index: np.ndarray) -> Sensitivities:
        """Probe the grid: one power flow per bus that has nodes, in one batch.

        Parameters
        ----------
        solve : callable
            The run's batch power flow, ``solve(p_mw, q_mvar)`` with one column a node.
        node_bus_index : ndarray of int
            The bus of each node.
        """
        buses, first, node_col = np.unique(node_bus_index, return_index=True, return_inverse=True)
        n_bus, n_nodes = len(buses), len(node_bus_index)
        p = np.zeros((n_bus + 1, n_nodes))
        p[np.arange(1, n_bus + 1), first] = -DELTA_MW
        flow = solve(p, np.zeros_like(p))
        if not flow.converged.all():
            raise RuntimeError("sensitivity power flow did not converge on the unloaded grid")
        node_bus = sp.csr_matrix(
            (np.ones(n_nodes), (node_col, np.arange(n_nodes))), shape=(n_bus, n_nodes)
        )
        return cls(
            node_col=node_col,
            dv=(flow.vm_pu[1:] - flow.vm_pu[0]) / DELTA_MW,
            dl=(flow.loading_percent[1:] - flow.loading_percent[0]) / DELTA_MW,
            node_bus=node_bus,
        )


def violated(flow: PowerFlowBatch, vm_min: float, vm_max: float, max_loading: float) -> np.ndarray:
    """Violations per interval: buses outside the band plus branches over the limit."""
    bus_bad = (flow.vm_pu < vm_min) | (flow.vm_pu > vm_max)
    branch_bad = flow.loading_percent > max_loading
    return (bus_bad.sum(axis=1) + branch_bad.sum(axis=1)).astype(np.int64)


def share(need: np.ndarray, s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cut ``theta * s * x`` per unit with ``sum(s * cut) = need`` (linear estimate).

    Also the operator's dimming share (:mod:`grid.dimming`), with ``x`` the headroom above
    the floor.
    """
    weight = s * x
    denom = (s * weight).sum(axis=1)
    theta = np.divide(need, denom, out=np.zeros_like(need), where=denom > 0)
    return theta[:, None] * weight


@dataclass
class Curtailment:
    """The result of :func:`curtail` for a chunk."""

    p_mw: np.ndarray
    flow: PowerFlowBatch
    curtailed_mw: np.ndarray
    unresolved: np.ndarray
    rounds: int


def curtail(
    p_mw: np.ndarray,
    q_mvar: np.ndarray,
    flow: PowerFlowBatch,
    *,
    solve: Solve,
    sensitivities: Callable[[], Sensitivities],
    gen_rows: np.ndarray,
    vm_min: float,
    vm_max: float,
    max_loading: float,
    rounds: int,
) -> Curtailment:
    """Curtail generation until the chunk's intervals keep the limits; see the module docs.

    Parameters
    ----------
    p_mw, q_mvar : ndarray, shape (T, node)
        The chunk's node powers (load convention) [MW], [Mvar].
    flow : PowerFlowBatch
        Their power flow.
    solve : callable
        The batch power flow.
    sensitivities : callable
        Returns the (cached) :class:`Sensitivities`; called only if something violates.
    gen_rows : ndarray of int
        The curtailable nodes (PV and wind).
    vm_min, vm_max : float
        Voltage band [p.u.].
    max_loading : float
        Branch loading limit [%].
    rounds : int
        At most this many re-solves.

    Returns
    -------
    Curtailment
        New powers and flow, curtailment per node [MW] (>= 0), and which intervals still
        violate a limit.
    """
    p = p_mw.copy()
    vm, loading = flow.vm_pu.copy(), flow.loading_percent.copy()
    imp, losses, ok = flow.import_mw.copy(), flow.losses_mw.copy(), flow.converged.copy()
    done = 0

    def bad_now() -> np.ndarray:
        with np.errstate(invalid="ignore"):
            over = (vm > vm_max).any(axis=1) | (loading > max_loading).any(axis=1)
        return ok & over

    bad = bad_now()
    given_up = np.zeros_like(bad)
    sens: Sensitivities | None = None
    while bad.any() and done < rounds and len(gen_rows):
        if sens is None:
            sens = sensitivities()
            gcol = sens.node_col[gen_rows]
            dv_gen, dl_gen = sens.dv[gcol], sens.dl[gcol]
        idx = np.flatnonzero(bad)
        rows = np.arange(len(idx))
        x = np.clip(-p[np.ix_(idx, gen_rows)], 0.0, None)
        cut = np.zeros_like(x)
        over_v = vm[idx] - vm_max
        b = over_v.argmax(axis=1)
        need_v = np.where(over_v[rows, b] > 0, over_v[rows, b] + V_MARGIN_PU, 0.0)
        cut = np.maximum(cut, share(need_v, np.clip(dv_gen[:, b].T, 0.0, None), x))
        if loading.shape[1]:
            over_l = loading[idx] - max_loading
            br = over_l.argmax(axis=1)
            # direction of the flow on that branch: generation pushes it back towards the slack
            injection = (sens.node_bus @ (-p[idx]).T).T  # (interval, node bus) [MW]
            reverse = (injection * sens.dl[:, br].T).sum(axis=1) > 0
            need_l = np.where(
                (over_l[rows, br] > 0) & reverse, over_l[rows, br] + LOADING_MARGIN_PERCENT, 0.0
            )
            cut = np.maximum(cut, share(need_l, np.clip(dl_gen[:, br].T, 0.0, None), x))
        cut = np.minimum(cut, x)
        stuck = cut.sum(axis=1) <= 0
        p[np.ix_(idx, gen_rows)] += cut
        again = idx[~stuck]
        if len(again):
            sub = solve(p[again], q_mvar[again])
            vm[again], loading[again] = sub.vm_pu, sub.loading_percent
            imp[again], losses[again], ok[again] = sub.import_mw, sub.losses_mw, sub.converged
        done += 1
        given_up[idx[stuck]] = True  # nothing left to curtail there: unresolved
        bad = bad_now() & ~given_up
    new_flow = replace(
        flow, vm_pu=vm, loading_percent=loading, import_mw=imp, losses_mw=losses, converged=ok
    )
    return Curtailment(
        p_mw=p,
        flow=new_flow,
        curtailed_mw=p - p_mw,
        unresolved=violated(new_flow, vm_min, vm_max, max_loading) > 0,
        rounds=done,
    )
