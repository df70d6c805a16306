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

:func:`day_scores` filters a bus's signed normalized residuals over a day with its claimed
generation (matched filter): under honest claims each interval's residual is ~N(0, <= 1), so
the day's score is too, while a device that inflates by ``f`` adds a bias in proportion to its
output in every interval it generates.
One interval's evidence is weak (a 10 % lie of a 6 kW rooftop PV moves its bus by ~1e-4 p.u.,
against a smart meter's 5e-3 p.u. noise); a day of it is what the test accumulates.

Sign convention: load convention (consumption positive), as pandapower's bus measurements.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandapower as pp
import pandas as pd
from pandapower.estimation.state_estimation import StateEstimation
from scipy.stats import chi2

FloatArray = npt.NDArray[np.float64]

_ELEMENTS = ("load", "sgen", "storage", "gen", "shunt", "ward", "xward", "motor")


@dataclass(frozen=True)
class MeterNoise:
    """Measurement noise of the grid's meters and of the devices' claims (one standard
    deviation).

    Defaults follow common meter classes: a smart meter's voltage within 0.5 % (IEC
    61000-4-30 class S), a substation power meter of class 1 (1 %).

    Attributes
    ----------
    voltage_std_pu : float
        Smart meters' and the substation's voltage magnitude [p.u.].
    power_std : float
        Substation active power, relative to the measured flow [-].
    power_floor_mw : float
        Substation active power, absolute floor (a flow near zero is not measured exactly)
        [MW].
    claim_std : float
        Weight of a bus's claimed injection: relative std of the devices' meters [-].
    claim_floor_mw : float
        Absolute floor of a claim's std [MW].
    zero_std_mw : float
        Std of the virtual zero-injection measurements [MW] (small: a bus without nodes has
        none).
    """

    voltage_std_pu: float = 0.005
    power_std: float = 0.01
    power_floor_mw: float = 0.0005
    claim_std: float = 0.01
    claim_floor_mw: float = 0.00002
    zero_std_mw: float = 0.000001

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{f.name} must be finite and > 0, got {value}")

    def substation_std_mw(self, import_mw: FloatArray) -> FloatArray:
        """Std of the substation meter's active power for these flows [MW]."""
        return np.maximum(self.power_std * np.abs(import_mw), self.power_floor_mw)


def measure(
    vm_pu: FloatArray,
    import_mw: FloatArray,
    noise: MeterNoise,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """What the meters report: true voltages and substation import plus Gaussian noise.

    Parameters
    ----------
    vm_pu : ndarray, shape (T, bus)
        True bus voltage magnitudes [p.u.].
    import_mw : ndarray, shape (T,)
        True active power drawn from the slack [MW].
    noise : MeterNoise
        The meters' standard deviations.
    rng : numpy.random.Generator
        The noise's random stream.

    Returns
    -------
    vm_pu, import_mw : ndarray
        The meters' readings, same shapes [p.u.], [MW].
    """
    vm = vm_pu + rng.normal(0.0, noise.voltage_std_pu, size=np.shape(vm_pu))
    imp = import_mw + rng.normal(0.0, 1.0, size=np.shape(import_mw)) * noise.substation_std_mw(
        import_mw
    )
    return vm, imp


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


def day_scores(
    rn: FloatArray,
    weight: FloatArray,
    intervals_per_day: int,
) -> FloatArray:
    """Per day and bus, the matched filter of the signed normalized residuals:
    ``sum(w * rn) / sqrt(sum(w^2))`` over the day's estimated intervals.

    An inflation by ``f`` biases a bus's residuals in proportion to what its devices claim to
    generate, so the bus's claimed generation is the weight ``w`` (the optimal filter for that
    shape). Under honest claims each interval's ``rn`` is ~N(0, <= 1) and so is the score.

    Parameters
    ----------
    rn : ndarray, shape (T, bus)
        :attr:`IntervalResiduals.rn` (NaN where not estimated).
    weight : ndarray, shape (T, bus)
        Non-negative weights, e.g. the bus's claimed generation [MW]; 0 leaves an interval out.
    intervals_per_day : int
        Intervals in a day (the last day may be partial).

    Returns
    -------
    ndarray, shape (day, bus)
        The day's score; 0 where a bus had no weight.
    """
    n_t, n_b = rn.shape
    days = -(-n_t // intervals_per_day)
    use = np.isfinite(rn) & (weight > 0)
    w = np.where(use, weight, 0.0)
    pad = ((0, days * intervals_per_day - n_t), (0, 0))
    shape = (days, intervals_per_day, n_b)
    num = np.pad(w * np.where(use, rn, 0.0), pad).reshape(shape).sum(axis=1)
    norm = np.sqrt(np.pad(w**2, pad).reshape(shape).sum(axis=1))
    return np.divide(num, norm, out=np.zeros_like(num), where=norm > 0)


def localize(scores: FloatArray, z_threshold: float, margin: float) -> int:
    """The bus a period's scores localize a lie at, or -1.

    The largest score must exceed ``z_threshold`` and lead the runner-up by ``margin``: a
    mismatch the substation sees but the voltages cannot place (every generating bus scores
    alike) localizes nothing, so no honest device is blamed for it.

    Parameters
    ----------
    scores : ndarray, shape (bus,)
        One period's :func:`day_scores` row.
    z_threshold, margin : float
        Detection threshold and lead over the runner-up [-].
    """
    if len(scores) == 0:
        return -1
    order = np.argsort(scores)[::-1]
    top = float(scores[order[0]])
    second = float(scores[order[1]]) if len(scores) > 1 else 0.0
    return int(order[0]) if top > z_threshold and top - second > margin else -1


def attribute(rn: FloatArray, output_mw: FloatArray) -> int:
    """Which of a bus's generating devices the bus's residuals point at (matched filter).

    An inflation by ``f`` adds ``(f - 1) * output`` to the bus's claim in every interval, so
    the residuals follow the liar's own output profile.

    Parameters
    ----------
    rn : ndarray, shape (T,)
        The bus's signed normalized residuals (NaN where not estimated).
    output_mw : ndarray, shape (T, device)
        Each candidate's claimed output (generation positive) [MW].

    Returns
    -------
    int
        Column of ``output_mw`` with the largest ``sum(rn * c) / sqrt(sum(c^2))``.
    """
    use = np.isfinite(rn)
    c = np.clip(output_mw[use], 0.0, None)
    norm = np.sqrt((c**2).sum(axis=0))
    fit = np.divide(rn[use] @ c, norm, out=np.full(c.shape[1], -np.inf), where=norm > 0)
    return int(np.argmax(fit))
