"""Rolling-horizon battery dispatch: one linear programme for every battery, solved by HiGHS.

Each battery sits behind a home meter. Over a horizon of ``H`` intervals, given the forecast
net power of each battery's home without the battery ``n[b, t]`` [MW] (load convention), the
import and export prices ``pi[t]``, ``pe[t]`` [EUR/MWh] and the state of charge now, the
programme chooses charge ``c``, discharge ``d`` [MW] and the import ``imp`` [MW] of each home:

.. math::

    \\min \\sum_{b,t} \\Delta t \\, (pe_t (n_{bt} + c_{bt} - d_{bt}) + (pi_t - pe_t) \\, imp_{bt})
          - v \\sum_b s_{b,H}

    imp_{bt} \\ge n_{bt} + c_{bt} - d_{bt}, \\quad imp_{bt} \\ge 0

    s_{bt} = s_{b,t-1} + 1000 \\, \\Delta t \\, (\\eta_c c_{bt} - d_{bt} / \\eta_d)

    0 \\le c, d \\le p_{max}, \\quad s_{min} \\le s \\le s_{max}

(export is ``imp - (n + c - d)``, paid ``pe``). ``v`` [EUR/kWh] values the energy left at
the horizon's end at the cheapest import price of the horizon times the discharge
efficiency, so the plan neither dumps the battery at the end nor charges to hoard.

Each plan also yields the dual of every energy-balance row: what one more unit of energy
stored after step ``t`` is worth to the plan [EUR/MWh] (:attr:`BatteryDispatcher.energy_value`).
The real-time rule of :class:`forecasting.policy.ForecastDispatchPolicy` weighs forecast errors
against it.

The model is built once; each plan changes only costs and bounds and re-solves from the
previous basis (HiGHS warm start). The homes' programmes are independent: batteries are
planned in blocks, one programme a block.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (HiGHS prints a banner when its first instance is made)."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


@dataclass(frozen=True)
class BatterySpec:
    """The batteries a dispatcher plans for.

    Attributes
    ----------
    capacity_kwh, p_max_mw : ndarray, shape (battery,)
        Usable capacity [kWh] and rated power [MW].
    eta_charge, eta_discharge : float
        One-way efficiencies [-].
    soc_min, soc_max : float
        State-of-charge band [share of capacity].
    """

    capacity_kwh: np.ndarray
    p_max_mw: np.ndarray
    eta_charge: float
    eta_discharge: float
    soc_min: float
    soc_max: float


def battery_block(
    capacity_kwh: np.ndarray,
    p_max_mw: np.ndarray,
    spec: BatterySpec,
    horizon_steps: int,
    dt_h: float,
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """The battery programme's rows and column bounds for ``b`` batteries (module docstring).

    Columns, battery by battery: charge ``c``, discharge ``d``, import ``imp`` [MW] and state of
    charge ``s`` [kWh], ``horizon_steps`` each. Rows: the ``b * H`` energy balances
    ``s_t - s_{t-1} - 1000 dt (eta_c c_t - d_t / eta_d) = s_0 [t = 0]``, then the ``b * H``
    import rows ``-c_t + d_t + imp_t >= n_t``.

    Returns
    -------
    a : sparse matrix, shape (2 b H, 4 b H)
    lower, upper : ndarray, shape (b, 4, H)
        Column bounds (``upper`` of the import: ``inf``).
    """
    b, h = len(capacity_kwh), horizon_steps
    eye = sp.eye(h, format="csr")
    zero = sp.csr_matrix((h, h))
    step = (sp.eye(h) - sp.eye(h, k=-1)).tocsr()
    e = 1000.0 * dt_h
    dynamics = sp.hstack([-spec.eta_charge * e * eye, e / spec.eta_discharge * eye, zero, step])
    imports = sp.hstack([-eye, eye, eye, zero])
    a = sp.vstack([sp.block_diag([dynamics] * b), sp.block_diag([imports] * b)]).tocsc()
    lower = np.zeros((b, 4, h))
    upper = np.empty((b, 4, h))
    upper[:, 0:2] = p_max_mw[:, None, None]
    upper[:, 2] = np.inf
    lower[:, 3] = (spec.soc_min * capacity_kwh)[:, None]
    upper[:, 3] = (spec.soc_max * capacity_kwh)[:, None]
    return a, lower, upper


def battery_cost(
    n_battery: int, pi: np.ndarray, pe: np.ndarray, dt_h: float, eta_discharge: float
) -> np.ndarray:
    """The columns' costs of :func:`battery_block`, shape (battery, 4, H) [EUR per unit]:
    feed-in forgone or earned, the import's premium over feed-in, the stored energy's worth
    at the horizon's end (module docstring)."""
    cost = np.zeros((n_battery, 4, len(pi)))
    cost[:, 0] = pe * dt_h
    cost[:, 1] = -pe * dt_h
    cost[:, 2] = (pi - pe) * dt_h
    cost[:, 3, -1] = -eta_discharge * pi.min() / 1000.0
    return cost


class _BlockLP:
    """The programme of one block of batteries, built once, re-solved warm."""

    def __init__(
        self,
        capacity_kwh: np.ndarray,
        p_max_mw: np.ndarray,
        spec: BatterySpec,
        horizon_steps: int,
        dt_h: float,
    ) -> None:
        b, h = len(capacity_kwh), horizon_steps
        self.n_battery, self.horizon_steps, self.dt_h = b, h, dt_h
        self.eta_discharge = spec.eta_discharge
        with _quiet_stdout():
            self._h = highspy.Highs()
            self._h.setOptionValue("output_flag", False)
        a, lower, upper = battery_block(capacity_kwh, p_max_mw, spec, h, dt_h)
        self._n_col, self._n_row = a.shape[1], a.shape[0]
        lower, upper = lower.ravel(), upper.ravel()
        upper[np.isinf(upper)] = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self._n_col, self._n_row
        lp.col_cost_ = np.zeros(self._n_col)
        lp.col_lower_, lp.col_upper_ = lower, upper
        lp.row_lower_, lp.row_upper_ = np.zeros(self._n_row), np.zeros(self._n_row)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_ = a.indptr, a.indices
        lp.a_matrix_.value_ = a.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self._n_col, self._n_row
        self._h.passModel(lp)
        self._cols = np.arange(self._n_col, dtype=np.int32)
        self._rows = np.arange(self._n_row, dtype=np.int32)
        #: The last plan's worth of stored energy, shape (battery, horizon) [EUR/MWh].
        self.energy_value = np.zeros((b, h))

    def solve(
        self, net_mw: np.ndarray, pi: np.ndarray, pe: np.ndarray, soc_kwh: np.ndarray
    ) -> np.ndarray | None:
        """Battery power (battery, horizon) [MW], or None without an optimal solution."""
        b, h, dt = self.n_battery, self.horizon_steps, self.dt_h
        cost = battery_cost(b, pi, pe, dt, self.eta_discharge)
        start = np.zeros((b, h))
        start[:, 0] = soc_kwh
        lower = np.concatenate([start.ravel(), net_mw.ravel()])
        upper = np.concatenate([start.ravel(), np.full(b * h, highspy.kHighsInf)])
        self._h.changeColsCost(self._n_col, self._cols, cost.ravel())
        self._h.changeRowsBounds(self._n_row, self._rows, lower, upper)  # type: ignore[attr-defined]
        self._h.run()
        if self._h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            self._h.clearSolver()
            return None
        solution = self._h.getSolution()
        x = np.asarray(solution.col_value).reshape(b, 4, h)
        # the dual of step t's energy balance: what one more kWh stored after step t is worth
        self.energy_value = -np.asarray(solution.row_dual)[: b * h].reshape(b, h) * 1000.0
        return x[:, 0] - x[:, 1]


class BatteryDispatcher:
    """Plans all batteries over a rolling horizon with warm-started LPs.

    The homes' programmes are independent, so the batteries are planned in blocks of
    ``block_size``, one HiGHS model per block kept between plans (warm start): a block of
    16 solves in about 10 ms here, where one programme for a thousand batteries took 5 s.

    Parameters
    ----------
    spec : BatterySpec
        The batteries.
    horizon_steps : int
        Intervals planned ahead [-].
    interval_s : int
        Interval length [s].
    block_size : int
        Batteries per programme [-].
    """

    def __init__(
        self, spec: BatterySpec, horizon_steps: int, interval_s: int, block_size: int = 16
    ) -> None:
        self.spec = spec
        self.horizon_steps = horizon_steps
        self.n_battery = len(spec.capacity_kwh)
        self.dt_h = interval_s / 3600.0
        self._slices = [
            slice(i, min(i + block_size, self.n_battery))
            for i in range(0, self.n_battery, block_size)
        ]
        self._blocks = [
            _BlockLP(spec.capacity_kwh[s], spec.p_max_mw[s], spec, horizon_steps, self.dt_h)
            for s in self._slices
        ]
        #: The last plan's worth of one more MWh stored after each step, shape (battery,
        #: horizon) [EUR/MWh]: the duals of the energy balances.
        self.energy_value = np.zeros((self.n_battery, horizon_steps))

    def plan(
        self,
        net_mw: np.ndarray,
        import_eur_per_mwh: np.ndarray,
        export_eur_per_mwh: np.ndarray,
        soc_kwh: np.ndarray,
    ) -> np.ndarray | None:
        """Plan every battery over the horizon.

        Parameters
        ----------
        net_mw : ndarray, shape (battery, horizon)
            Forecast net power of each battery's home without the battery [MW].
        import_eur_per_mwh, export_eur_per_mwh : ndarray, shape (horizon,)
            Prices over the horizon [EUR/MWh].
        soc_kwh : ndarray, shape (battery,)
            State of charge now [kWh].

        Returns
        -------
        ndarray, shape (battery, horizon), or None
            Planned battery power [MW], load convention (charging positive); None when an
            input is not finite or a programme has no optimal solution.
        """
        b, h = self.n_battery, self.horizon_steps
        net_mw = np.asarray(net_mw, dtype=float)
        pi = np.asarray(import_eur_per_mwh, dtype=float)
        pe = np.asarray(export_eur_per_mwh, dtype=float)
        soc = np.asarray(soc_kwh, dtype=float)
        if net_mw.shape != (b, h) or not all(np.isfinite(x).all() for x in (net_mw, pi, pe, soc)):
            return None
        out = np.zeros((b, h))
        value = np.zeros((b, h))
        for part, block in zip(self._slices, self._blocks, strict=True):
            planned = block.solve(net_mw[part], pi, pe, soc[part])
            if planned is None:
                return None
            out[part] = planned
            value[part] = block.energy_value
        self.energy_value = value
        return out


def home_cost_eur(
    net_mw: np.ndarray,
    battery_mw: np.ndarray,
    import_eur_per_mwh: np.ndarray,
    export_eur_per_mwh: np.ndarray,
    interval_s: int,
) -> float:
    """Energy cost of homes with batteries at the tariff [EUR].

    Parameters
    ----------
    net_mw, battery_mw : ndarray, shape (home, interval)
        Home net power without the battery and the battery's power [MW], load convention.
    import_eur_per_mwh, export_eur_per_mwh : ndarray, shape (interval,)
        Prices [EUR/MWh].
    interval_s : int
        Interval length [s].
    """
    total = net_mw + battery_mw
    dt = interval_s / 3600.0
    cost = np.where(total > 0, total * import_eur_per_mwh, total * export_eur_per_mwh)
    return float(cost.sum() * dt)
