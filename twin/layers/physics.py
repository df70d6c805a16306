"""The devices layer's grid-side fraud check: state estimation against the claimed readings.

:class:`PhysicsCheck` keeps what the grid's own meters report for each interval (the
substation meter's import and the smart meters' voltages, with the noise of
``[devices.physics_check]``, seeded from the run seed) and, once a period's uploads are
verified, estimates the grid's state against the claims (:mod:`grid.estimation`) and scores
it (:mod:`grid.detection`). The generating device a localized lie points at has its period's
readings marked ``flagged_implausible`` with the ``state_estimation`` flag (a reason code
slashing can read): they earn nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from grid.detection import attribute, day_scores, localize
from grid.estimation import InjectionEstimator
from grid.measurements import MeterNoise, measure
from settlement.depin.plausibility import FLAGS
from settlement.depin.verdict import ACCEPTED, FLAGGED, Verification
from twin.layers.base import Chunk
from twin.layers.context import LayerContext

#: Spawn key of the meters' noise stream under the run seed.
NOISE_SPAWN_KEY = 0x5E


class PhysicsCheck:
    """State estimation of each upload period against the devices' claims.

    Parameters
    ----------
    ctx : LayerContext
        The run (``[devices.physics_check]``, the net, the nodes and the solver's buses).
    eligible : ndarray of bool, shape (device,)
        Rewarded devices (the ones a lie pays for, hence the ones blamed).
    sign : ndarray, shape (device,)
        Production convention of each device's readings (+1 consumer, -1 the others).
    """

    def __init__(
        self, ctx: LayerContext, eligible: npt.NDArray[np.bool_], sign: npt.NDArray[np.float64]
    ) -> None:
        cfg = ctx.scenario.devices.physics_check
        twin = ctx.twin
        self.noise = MeterNoise(
            voltage_std_pu=cfg.voltage_std_pu,
            power_std=cfg.power_std,
            power_floor_mw=cfg.power_floor_mw,
        )
        table = twin.nodes.table
        self.p_max_mw = table["p_max_mw"].to_numpy(dtype=float)
        self.estimator = InjectionEstimator(twin.net, table["bus"].to_numpy(), self.noise)
        self.vm_buses = twin.solver.layout.bus
        self.eligible = eligible
        self.sign = sign
        self.interval_s = ctx.scenario.run.interval_s
        self.z_threshold = cfg.z_threshold
        self.margin = cfg.margin
        seed = np.random.SeedSequence(ctx.scenario.run.seed, spawn_key=(NOISE_SPAWN_KEY,))
        self.rng = np.random.default_rng(seed)
        self.first = 0
        self.vm: list[np.ndarray] = []
        self.imp: list[np.ndarray] = []
        self.q: list[np.ndarray] = []
        self.flagged_periods = 0
        self.estimated_intervals = 0

    def observe(self, chunk: Chunk) -> None:
        """Keep the meters' readings of a chunk (noise drawn once, in interval order)."""
        vm, imp = measure(chunk.flow.vm_pu, chunk.flow.import_mw, self.noise, self.rng)
        self.vm.append(vm)
        self.imp.append(imp)
        self.q.append(chunk.q_mvar)

    def flag(self, result: Verification, first: int, n: int) -> None:
        """Flag, in ``result``, the readings of the device a lie in intervals
        ``[first, first + n)`` is localized at (in place: status and flags)."""
        vm = np.concatenate(self.vm)
        imp = np.concatenate(self.imp)
        q = np.concatenate(self.q)
        rows = slice(first - self.first, first - self.first + n)
        n_dev = len(self.sign)
        claimed = np.zeros((n, n_dev))
        known = np.zeros((n, n_dev), dtype=bool)
        held = (result.status == ACCEPTED) | (result.status == FLAGGED)
        row = result.interval - first
        col = result.device_id - 1
        ok = held & (row >= 0) & (row < n) & (col >= 0) & (col < n_dev)
        per_mw = 3600.0 / self.interval_s / 1e6
        claimed[row[ok], col[ok]] = result.energy_wh[ok] * per_mw
        known[row[ok], col[ok]] = True
        claimed_p = self.sign * claimed  # load convention
        output = np.where(self.sign < 0, claimed, 0.0)  # generation and discharge [MW]
        generating = (output > 0) & self.eligible
        est = self.estimator
        weight = np.zeros((n, len(est.buses)))
        np.add.at(weight.T, est.node_col, np.where(generating, output, 0.0).T)
        todo: npt.NDArray[np.bool_] = np.asarray((weight > 0).any(axis=1), dtype=bool)
        residuals = est.residuals(
            claimed_p,
            q[rows],
            vm[rows],
            imp[rows],
            self.vm_buses,
            estimate=todo,
            claim_slack_mw=np.where(known, 0.0, self.p_max_mw),
        )
        self.estimated_intervals += int(residuals.converged.sum())
        scores = day_scores(residuals.rn, weight, max(n, 1))[0]
        bus = localize(scores, self.z_threshold, self.margin)
        done = first + n - self.first
        self.vm, self.imp, self.q = [vm[done:]], [imp[done:]], [q[done:]]
        self.first = first + n
        if bus < 0:
            return
        candidates = np.flatnonzero((est.node_col == bus) & self.eligible)
        if not len(candidates):
            return
        liar = candidates[attribute(residuals.rn[:, bus], output[:, candidates])]
        hit = ok & (col == liar)
        result.status[hit] = FLAGGED
        result.flags[hit] |= np.uint8(FLAGS["state_estimation"])
        self.flagged_periods += 1
