"""Which device lies: competing hypotheses tested against the grid's meters.

:mod:`grid.estimation` finds that a period's claims contradict the meters; placing the lie by
the largest normalized residual fails where neighbouring buses' residuals are nearly the same
(a rooftop PV lie moves its own bus's voltage by ~1e-4 p.u., under a smart meter's noise, and
every PV shares one profile): it then either refuses or, by chance, blames a neighbour.

Here every generating device is a hypothesis of its own. The claims fix the grid's state (a
power flow of every node's claimed injection); the meters are the redundant measurements:
the substation's active import, the smart meters' voltages and, given :class:`HomeMeters`,
each home meter's net active power (:class:`MeterNoise`). A rooftop PV sits behind its home's
meter, so its lie shows there in full (a 10 % lie of a 6 kW roof is ~0.4 kW at noon against
the meter's ~50 W), and on no other home's: the home meters place what the voltages cannot.
Device
``d`` inflating its claims by a share ``alpha`` predicts, in every interval ``t``, the
mismatch ``alpha * u_dt``, where ``u_dt`` is how the meters would move had ``d`` generated
what it claimed less (a power flow per candidate, batched). Its weighted-least-squares fit
over the period is the linear regression of the mismatches ``e_t`` on ``u_dt``:

* ``alpha_d = sum(u W e) / sum(u W u)``: the share of ``d``'s claim the meters do not see;
* ``z_d = sum(u W e) / sqrt(sum(u W u))``: its statistic, ~N(0, 1) under honest claims;
  ``z_d^2`` is how much rescaling ``d`` alone lowers the period's chi-squared
  ``J = sum(e W e)`` (the generalized likelihood ratio of ``d`` lying against no lie).

A device is blamed only when its ``z`` exceeds the threshold **and** leads every other
hypothesis by the margin: a lie the substation sees but the voltages cannot place (every PV
hypothesis explains it alike) blames nobody. ``W`` is the meters' inverse variance.

Sign convention: load convention (consumption positive), as the solver's node powers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grid.measurements import HomeMeters, MeterNoise
from grid.solver import PowerFlowBatch

FloatArray = npt.NDArray[np.float64]
#: Injection step of an unknown claim's signature [MW] (1 kW).
NUDGE_MW = 0.001
Solve = Callable[[FloatArray, FloatArray], PowerFlowBatch]


@dataclass(frozen=True)
class Hypotheses:
    """One period's test of every candidate device against the meters.

    Attributes
    ----------
    candidates : ndarray of int, shape (cand,)
        Node columns of the candidate devices.
    z : ndarray, shape (cand,)
        Each hypothesis's statistic (positive: the device claims more than the meters see)
        [-].
    alpha : ndarray, shape (cand,)
        Each hypothesis's fitted share of its claimed generation the meters do not see [-]
        (an inflation by ``f`` gives ``1 - 1 / f``).
    j : float
        The period's chi-squared ``sum(e W e)`` of the claims against the meters [-].
    measurements : int
        Meter readings in ``j`` (its degrees of freedom under honest claims).
    intervals : int
        Intervals used (every claim known, the power flow converged).
    """

    candidates: npt.NDArray[np.int64]
    z: FloatArray
    alpha: FloatArray
    j: float
    measurements: int
    intervals: int

    def ranked(self) -> npt.NDArray[np.int64]:
        """Positions in :attr:`candidates`, strongest hypothesis first."""
        return np.argsort(-self.z, kind="stable")

    def blame(self, z_threshold: float, margin: float) -> int:
        """The node column blamed, or -1.

        Parameters
        ----------
        z_threshold : float
            The top hypothesis's ``z`` must exceed it [-].
        margin : float
            ... and lead the runner-up's ``z`` by this much [-]: hypotheses the meters
            cannot tell apart blame nobody.
        """
        if len(self.z) == 0:
            return -1
        order = self.ranked()
        top = float(self.z[order[0]])
        second = float(self.z[order[1]]) if len(order) > 1 else 0.0
        if top > z_threshold and top - second > margin:
            return int(self.candidates[order[0]])
        return -1


def weigh_hypotheses(
    solve: Solve,
    claimed_p_mw: FloatArray,
    q_mvar: FloatArray,
    vm_pu: FloatArray,
    import_mw: FloatArray,
    vm_cols: npt.ArrayLike,
    noise: MeterNoise,
    output_mw: FloatArray,
    candidates: npt.ArrayLike,
    *,
    use: npt.NDArray[np.bool_] | None = None,
    unknown: npt.NDArray[np.bool_] | None = None,
    homes: HomeMeters | None = None,
    home_mw: FloatArray | None = None,
    step: float = 0.05,
) -> Hypotheses:
    """Fit every candidate's inflation to the meters over one period.

    Parameters
    ----------
    solve : callable
        ``solve(p_mw, q_mvar) -> PowerFlowBatch`` of the grid (:meth:`PowerFlowSolver.solve`),
        node powers of shape (T, node), load convention [MW], [Mvar].
    claimed_p_mw : ndarray, shape (T, node)
        Every node's claimed active power, load convention [MW].
    q_mvar : ndarray, shape (T, node)
        Every node's reactive power (smart meters' reactive register) [Mvar].
    vm_pu : ndarray, shape (T, bus)
        The smart meters' measured voltages, in the solver's bus order (columns not in
        ``vm_cols`` are ignored) [p.u.].
    import_mw : ndarray, shape (T,)
        The substation meter's measured active import [MW].
    vm_cols : array_like of int
        Columns of ``vm_pu`` with a meter (node buses and the slack).
    noise : MeterNoise
        The meters' standard deviations (the weights ``W``).
    output_mw : ndarray, shape (T, node)
        Each node's claimed generation (production positive; 0 where it claims none) [MW].
    candidates : array_like of int
        Node columns to test (the devices a lie would pay).
    use : ndarray of bool, shape (T,), optional
        Intervals to use; all by default.
    unknown : ndarray of bool, shape (T, node), optional
        Claims the journal lacks (e.g. a rejected upload's): their injection is a free
        parameter of its interval, so what it could explain blames nobody (its claim in
        ``claimed_p_mw`` is only the point the power flow is linearized at).
    homes : HomeMeters, optional
        Which nodes each home meter sums; with ``home_mw``, the home meters are meters too.
    home_mw : ndarray, shape (T, home), optional
        The home meters' measured net active power, load convention [MW].
    step : float
        Share of a candidate's claimed generation removed to find its signature ``u`` [-]
        (a secant of the power flow; the fit is linear in it).

    Returns
    -------
    Hypotheses
    """
    claimed = np.asarray(claimed_p_mw, dtype=float)
    q = np.asarray(q_mvar, dtype=float)
    cand = np.asarray(candidates, dtype=np.int64)
    cols = np.asarray(vm_cols, dtype=np.int64)
    n_t = len(claimed)
    todo = np.ones(n_t, dtype=bool) if use is None else np.asarray(use, dtype=bool).copy()
    todo &= np.isfinite(import_mw) & np.isfinite(vm_pu[:, cols]).all(axis=1)
    metered = homes if homes is not None and home_mw is not None else None
    if metered is not None:
        todo &= np.isfinite(np.asarray(home_mw)).all(axis=1)
    todo &= (output_mw[:, cand] > 0).any(axis=1) if len(cand) else False
    rows = np.flatnonzero(todo)
    empty = Hypotheses(cand, np.zeros(len(cand)), np.zeros(len(cand)), 0.0, 0, 0)
    if not len(rows) or not len(cand):
        return empty
    p = claimed[rows]
    base = solve(p, q[rows])
    ok = base.converged
    # meters: voltages at the metered buses, the substation's import, then the home meters
    e = np.hstack(
        [vm_pu[rows][:, cols] - base.vm_pu[:, cols], (import_mw[rows] - base.import_mw)[:, None]]
    )
    w = np.hstack(
        [
            np.full((len(rows), len(cols)), noise.voltage_std_pu**-2),
            (noise.substation_std_mw(np.asarray(import_mw[rows], dtype=float)) ** -2)[:, None],
        ]
    )
    if metered is not None:
        home = np.asarray(home_mw, dtype=float)[rows]
        e = np.hstack([e, home - metered.net(p)])
        w = np.hstack([w, noise.home_std_mw(home) ** -2])
    out = np.asarray(output_mw, dtype=float)[rows]
    # every candidate's signature: the meters' move had it generated ``step`` less of its claim
    u, good = _signatures(solve, p, q[rows], base, cols, cand, step * out[:, cand], metered)
    u /= step
    # whitened: each meter's mismatch in its own standard deviations
    sw = np.sqrt(w)
    ew = np.where(ok[:, None], e * sw, 0.0)
    uw = np.where((good & ok[None, :])[..., None], u * sw[None], 0.0)
    lost = 0
    hidden = (
        np.zeros((len(rows), 0), dtype=bool)
        if unknown is None
        else np.asarray(unknown, dtype=bool)[rows]
    )
    nuisance = np.flatnonzero(hidden.any(axis=0))
    if len(nuisance):
        # an injection the journal lacks is a free parameter of its interval: the part of the
        # mismatch (and of each signature) it could explain is projected out
        v, v_ok = _signatures(
            solve,
            p,
            q[rows],
            base,
            cols,
            nuisance,
            np.full((len(rows), len(nuisance)), NUDGE_MW),
            metered,
        )
        keep = (v_ok & hidden[:, nuisance].T)[..., None]
        vw = np.where(keep, v / NUDGE_MW * sw[None], 0.0).transpose(1, 2, 0)  # (T, m, k)
        proj = vw @ np.linalg.pinv(vw)  # (T, m, m): onto what the unknowns can explain
        ew = ew - np.einsum("tmn,tn->tm", proj, ew)
        lost = int(np.linalg.matrix_rank(vw).sum())
    before = np.einsum("ctm,ctm->c", uw, uw)
    if len(nuisance):
        uw = uw - np.einsum("tmn,ctn->ctm", proj, uw)
    num = np.einsum("ctm,tm->c", uw, ew)
    den = np.einsum("ctm,ctm->c", uw, uw)
    # a hypothesis the unknowns explain as well (e.g. on the bus of a claim the journal
    # lacks) cannot be judged: what is left of its signature is rounding
    den = np.where(den > 1e-6 * before, den, 0.0)
    safe = np.where(den > 0, den, 1.0)
    z = np.where(den > 0, num / np.sqrt(safe), 0.0)
    alpha = np.where(den > 0, num / safe, 0.0)
    j = float((ew**2).sum())
    measurements = int(ok.sum()) * e.shape[1] - lost
    return Hypotheses(cand, z, alpha, j, measurements, int(ok.sum()))


def _signatures(
    solve: Solve,
    p: FloatArray,
    q: FloatArray,
    base: PowerFlowBatch,
    cols: npt.NDArray[np.int64],
    nodes: npt.NDArray[np.int64],
    delta_mw: FloatArray,
    homes: HomeMeters | None = None,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """How the meters move when each of ``nodes`` draws ``delta_mw`` more, in one batch.

    Returns
    -------
    moves : ndarray, shape (len(nodes), T, meter)
        Voltages at ``cols`` [p.u.], then the substation's import [MW], then (given
        ``homes``) each home meter's net power [MW]: the node's own home meter moves by
        exactly ``delta_mw``, the others not at all.
    converged : ndarray of bool, shape (len(nodes), T)
    """
    n, n_t = len(nodes), len(p)
    stacked = np.repeat(p[None], n, axis=0)
    for i, d in enumerate(nodes):
        stacked[i, :, d] += delta_mw[:, i]  # load convention: more draw, less generation
    moved = solve(stacked.reshape(-1, p.shape[1]), np.tile(q, (n, 1)))
    vm = moved.vm_pu.reshape(n, n_t, -1)[:, :, cols] - base.vm_pu[None][:, :, cols]
    imp = moved.import_mw.reshape(n, n_t) - base.import_mw[None]
    parts = [vm, imp[..., None]]
    if homes is not None:
        home = np.zeros((n, n_t, homes.n_homes))
        for i, d in enumerate(nodes):
            if homes.of_node[d] >= 0:
                home[i, :, homes.of_node[d]] = delta_mw[:, i]
        parts.append(home)
    return np.concatenate(parts, axis=2), moved.converged.reshape(n, n_t)
