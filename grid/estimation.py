"""State estimation against claimed injections: physics as a fraud check.

A device that signs inflated readings claims an injection the grid did not see. The grid's
own meters see it: the substation meter measures the active power drawn through the
transformer, the homes' smart meters report their bus voltage. :class:`InjectionEstimator`
runs pandapower's weighted-least-squares state estimator (:mod:`pandapower.estimation`) per
interval on

* every bus's **claimed** active injection (the sum of its devices' readings),
* every bus's reactive injection (the smart meters' reactive register),
* zero injection at buses without nodes (virtual measurements),
* the substation's active import at the slack (noisy, :class:`MeterNoise`),
* the voltage magnitude of every bus with a smart meter and of the slack (noisy),

and returns, per interval, pandapower's chi-squared test (performance index ``J`` against its
threshold) and each bus injection's **normalized residual** ``r_i / sqrt(Omega_ii)``,
``Omega = R - H G^-1 H^T`` as pandapower's largest-normalized-residual test computes it
(:func:`pandapower.estimation.remove_bad_data`), signed so that a positive value is a bus that
claims more generation (or less consumption) than the physics explains.

The meters and their noise are in :mod:`grid.measurements`; :mod:`grid.detection` turns the
residuals into a finding (a day's score per bus, the bus, the device).

Sign convention: load convention (consumption positive), as pandapower's bus measurements.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandapower as pp
import pandas as pd
from pandapower.estimation.state_estimation import StateEstimation
from scipy.stats import chi2

from grid.measurements import MeterNoise

FloatArray = npt.NDArray[np.float64]

_ELEMENTS = ("load", "sgen", "storage", "gen", "shunt", "ward", "xward", "motor")


@dataclass(frozen=True)
class IntervalResiduals:
    """What the state estimator says about each interval's claims.

    Attributes
    ----------
    converged : ndarray of bool, shape (T,)
        The estimation converged (and the rest of the row is meaningful).
    j : ndarray, shape (T,)
        The performance index ``J = r^T R^-1 r`` [-].
    j_threshold : float
        The chi-squared test's threshold at ``chi2_prob_false`` for the degrees of freedom.
    rn : ndarray, shape (T, bus)
        Signed normalized residual of each node bus's claimed active injection: positive when
        the bus claims more generation than the estimate [-]; NaN where not converged.
    buses : ndarray of int
        The node buses (columns of ``rn``).
    """

    converged: npt.NDArray[np.bool_]
    j: FloatArray
    j_threshold: float
    rn: FloatArray
    buses: npt.NDArray[np.int64]

    @property
    def bad_data(self) -> npt.NDArray[np.bool_]:
        """Intervals whose chi-squared test fails (bad data present)."""
        return self.converged & (self.j > self.j_threshold)


class InjectionEstimator:
    """pandapower's WLS state estimation of a net's intervals against claimed injections.

    Parameters
    ----------
    net : pandapowerNet
        The grid (topology and branch parameters; its loads and generators are ignored).
    node_bus : array_like of int, shape (node,)
        The bus of each node (pandapower bus index).
    noise : MeterNoise, optional
        The meters' standard deviations (weights of the estimation).
    chi2_prob_false : float
        False-alarm probability of the per-interval chi-squared test.
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        node_bus: npt.ArrayLike,
        noise: MeterNoise | None = None,
        chi2_prob_false: float = 0.01,
    ) -> None:
        self.noise = noise or MeterNoise()
        node_bus = np.asarray(node_bus, dtype=np.int64)
        self.buses, self.node_col = np.unique(node_bus, return_inverse=True)
        se_net = copy.deepcopy(net)
        for element in _ELEMENTS:
            if element in se_net and len(se_net[element]):
                se_net[element] = se_net[element].iloc[0:0]
        if len(se_net.ext_grid) != 1:
            raise ValueError("the estimator needs exactly one external grid (the slack)")
        self.slack = int(se_net.ext_grid.bus.iloc[0])
        self.slack_vm_pu = float(se_net.ext_grid.vm_pu.iloc[0])
        in_service = se_net.bus.index[se_net.bus.in_service.astype(bool)].to_numpy(dtype=np.int64)
        self.all_buses = in_service
        self.zero = np.setdiff1d(in_service, np.append(self.buses, self.slack))
        self.net = se_net
        self.chi2_prob_false = chi2_prob_false
        n_b, n_z = len(self.buses), len(self.zero)
        # measurement rows: v at node buses and the slack; p, q at node buses; p, q zero at
        # buses without nodes; p at the slack (the substation meter)
        kinds = ["v"] * (n_b + 1) + ["p"] * n_b + ["q"] * n_b + ["p"] * n_z + ["q"] * n_z + ["p"]
        elements = np.concatenate(
            [self.buses, [self.slack], self.buses, self.buses, self.zero, self.zero, [self.slack]]
        )
        self._rows_p = np.arange(n_b + 1, 2 * n_b + 1)
        self.template = pd.DataFrame(
            {
                "name": None,
                "measurement_type": kinds,
                "element_type": "bus",
                "element": elements.astype(np.uint32),
                "value": 0.0,
                "std_dev": 1.0,
                "side": None,
            }
        )
        n_state = 2 * len(in_service) - 1
        self.j_threshold = float(chi2.ppf(1 - chi2_prob_false, len(self.template) - n_state))

    def _bus_sums(self, per_node: FloatArray) -> FloatArray:
        """Sum each interval's node values per node bus, shape (T, bus)."""
        out = np.zeros((per_node.shape[0], len(self.buses)))
        np.add.at(out.T, self.node_col, per_node.T)
        return out

    def residuals(
        self,
        claimed_p_mw: FloatArray,
        q_mvar: FloatArray,
        vm_pu: FloatArray,
        import_mw: FloatArray,
        vm_buses: npt.ArrayLike,
        *,
        estimate: npt.NDArray[np.bool_] | None = None,
        claim_slack_mw: FloatArray | None = None,
    ) -> IntervalResiduals:
        """Estimate each interval; the chi-squared index and the claims' normalized residuals.

        Parameters
        ----------
        claimed_p_mw : ndarray, shape (T, node)
            Each node's claimed active power, load convention [MW].
        q_mvar : ndarray, shape (T, node)
            Each node's reactive power (smart meters' reactive register) [Mvar].
        vm_pu : ndarray, shape (T, len(vm_buses))
            Measured voltage magnitudes [p.u.] (e.g. from :func:`measure`).
        import_mw : ndarray, shape (T,)
            Measured active import at the slack [MW].
        vm_buses : array_like of int
            pandapower bus index of each column of ``vm_pu`` (every node bus and the slack
            must be there).
        estimate : ndarray of bool, shape (T,), optional
            Intervals to estimate (others stay NaN, not converged); all by default.
        claim_slack_mw : ndarray, shape (T, node), optional
            Added to the std of a node's claim [MW]: a claim the journal does not have (e.g. a
            revoked device's) weighs little.

        Returns
        -------
        IntervalResiduals
        """
        noise = self.noise
        claimed = self._bus_sums(np.asarray(claimed_p_mw, dtype=float))
        slack = (
            np.zeros_like(claimed)
            if claim_slack_mw is None
            else self._bus_sums(np.asarray(claim_slack_mw, dtype=float))
        )
        todo = np.ones(len(claimed), dtype=bool) if estimate is None else np.asarray(estimate)
        q = self._bus_sums(np.asarray(q_mvar, dtype=float))
        col = {int(b): i for i, b in enumerate(np.asarray(vm_buses, dtype=np.int64))}
        v_cols = np.array([col[int(b)] for b in (*self.buses, self.slack)])
        n_t = len(claimed)
        n_b, n_z = len(self.buses), len(self.zero)
        meas = self.template.copy()
        std = np.concatenate(
            [
                np.full(n_b + 1, noise.voltage_std_pu),
                np.zeros(2 * n_b),
                np.full(2 * n_z, noise.zero_std_mw),
                [0.0],
            ]
        )
        converged = np.zeros(n_t, dtype=bool)
        j = np.full(n_t, np.nan)
        rn = np.full((n_t, n_b), np.nan)
        logger = logging.getLogger("gridtwin.estimation")
        logger.setLevel(logging.ERROR)
        for t in range(n_t):
            imp = float(import_mw[t])
            if not todo[t] or not np.isfinite(imp) or not np.isfinite(vm_pu[t, v_cols]).all():
                continue
            value = np.concatenate([vm_pu[t, v_cols], claimed[t], q[t], np.zeros(2 * n_z), [-imp]])
            std[n_b + 1 : 2 * n_b + 1] = (
                np.maximum(noise.claim_std * np.abs(claimed[t]), noise.claim_floor_mw) + slack[t]
            )
            std[2 * n_b + 1 : 3 * n_b + 1] = np.maximum(
                noise.claim_std * np.abs(q[t]), noise.claim_floor_mw
            )
            std[-1] = float(noise.substation_std_mw(np.array([imp]))[0])
            meas["value"] = value
            meas["std_dev"] = std
            self.net.measurement = meas
            se = StateEstimation(self.net, tolerance=1e-8, maximum_iterations=20, logger=logger)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = se.estimate(zero_injection=None)
            solver = se.solver
            if not (isinstance(result, dict) and result["success"]) or solver.r is None:
                continue
            r = np.asarray(solver.r).ravel()
            r_inv = np.asarray(solver.R_inv)
            h = np.asarray(solver.H)
            gain_inv_ht = np.linalg.solve(np.asarray(solver.Gm), h.T)
            omega = 1.0 / np.diag(r_inv) - np.einsum("ij,ji->i", h, gain_inv_ht)
            order = np.asarray(solver.pp_meas_indices).ravel()
            rows = np.full(len(meas), -1)
            rows[order] = np.arange(len(order))
            p_rows = rows[self._rows_p]
            ok = p_rows >= 0
            values = np.full(n_b, np.nan)
            # pandapower turns bus powers into injections (generation positive) internally:
            # r = z - h(x) > 0 where the bus claims more generation than the estimate
            values[ok] = r[p_rows[ok]] / np.sqrt(np.maximum(omega[p_rows[ok]], 1e-30))
            rn[t] = values
            j[t] = float(r @ (r_inv @ r))
            converged[t] = True
        return IntervalResiduals(converged, j, self.j_threshold, rn, self.buses)
