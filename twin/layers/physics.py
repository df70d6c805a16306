"""The devices layer's grid-side fraud check: the claimed readings against the grid's meters.

:class:`PhysicsCheck` keeps what the grid's own meters report for each interval (the
substation meter's import, the smart meters' voltages and, with ``home_meters``, each home
meter's net active power, with the noise of ``[devices.physics_check]``, seeded from the run
seed) and, once a period's uploads are verified, tests the claims against them.
``method = "hypotheses"`` fits every generating device's inflation to the meters
(:mod:`grid.localization`), blaming one device a round until nobody stands out (a blamed
device's claims are a free parameter of the next round: a second liar in the same period is
not hidden behind the first); ``"state_estimation"`` places the lie by pandapower's WLS
normalized residuals (:mod:`grid.estimation`), and also records what the hypotheses would
have blamed. A device blamed has its period's readings marked ``flagged_implausible`` with
the ``state_estimation`` flag (a reason code slashing can read): they earn nothing. Every
period's decisions are kept (``physics_checks`` table).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from grid.detection import attribute, day_scores, localize
from grid.estimation import InjectionEstimator
from grid.localization import weigh_hypotheses
from grid.measurements import HomeMeters, MeterNoise, measure, measure_homes
from settlement.depin.plausibility import FLAGS
from settlement.depin.verdict import ACCEPTED, FLAGGED, Verification
from twin.layers.base import Chunk
from twin.layers.context import LayerContext

#: Spawn key of the meters' noise stream under the run seed.
NOISE_SPAWN_KEY = 0x5E
#: Spawn key of the home meters' noise stream (its own: the other meters' draws stay put).
HOME_NOISE_SPAWN_KEY = 0x5F
#: Most devices the hypotheses blame in one period (one a round).
MAX_ROUNDS = 8
#: A round: (liar, top, runner-up node column, their z); -1 for none.
Round = tuple[int, int, int, float, float]


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
            home_power_std=cfg.home_power_std,
            home_power_floor_mw=cfg.home_power_floor_mw,
        )
        table = twin.nodes.table
        self.p_max_mw = table["p_max_mw"].to_numpy(dtype=float)
        self.estimator = InjectionEstimator(twin.net, table["bus"].to_numpy(), self.noise)
        self.vm_buses = twin.solver.layout.bus
        self.solve = twin.solver.solve
        bus_col = {int(b): i for i, b in enumerate(self.vm_buses)}
        metered = np.union1d(table["bus"].to_numpy(), [self.estimator.slack])
        self.vm_cols = np.array([bus_col[int(b)] for b in metered], dtype=np.int64)
        self.method = cfg.method
        #: (first interval, arrival slot's end, method, applied, flagged, top, runner-up node
        #: column, their z)
        self.records: list[tuple[int, int, str, bool, int, int, int, float, float]] = []
        #: first interval -> (claims [MW], production convention; known), shape
        #: (interval, device): the claims held of a period an upload can still reach
        self.claims: dict[int, tuple[np.ndarray, npt.NDArray[np.bool_]]] = {}
        self.eligible = eligible
        self.sign = sign
        self.interval_s = ctx.scenario.run.interval_s
        self.z_threshold = cfg.z_threshold
        self.margin = cfg.margin
        seed = np.random.SeedSequence(ctx.scenario.run.seed, spawn_key=(NOISE_SPAWN_KEY,))
        self.rng = np.random.default_rng(seed)
        self.homes = (
            HomeMeters.from_hosts(table["kind"].to_numpy(), table["host"].to_numpy())
            if cfg.home_meters
            else None
        )
        home_seed = np.random.SeedSequence(ctx.scenario.run.seed, spawn_key=(HOME_NOISE_SPAWN_KEY,))
        self.home_rng = np.random.default_rng(home_seed)
        self.home: list[np.ndarray] = []
        self.first = 0
        self.vm: list[np.ndarray] = []
        self.imp: list[np.ndarray] = []
        self.q: list[np.ndarray] = []
        self.flagged: set[int] = set()
        self.estimated_intervals = 0

    def observe(self, chunk: Chunk) -> None:
        """Keep the meters' readings of a chunk (noise drawn once, in interval order)."""
        vm, imp = measure(chunk.flow.vm_pu, chunk.flow.import_mw, self.noise, self.rng)
        self.vm.append(vm)
        self.imp.append(imp)
        self.q.append(chunk.q_mvar)
        if self.homes is not None:
            net = self.homes.net(chunk.p_mw)
            self.home.append(measure_homes(net, self.noise, self.home_rng))

    def flag(self, result: Verification, first: int, n: int, at: int) -> None:
        """Flag, in ``result``, the readings of the devices a lie in intervals
        ``[first, first + n)`` is localized at (in place: status and flags), by the
        configured ``method``; every method computed is recorded (:meth:`table`).

        The claims tested are those of ``result`` in the period and those of the period
        already held (:meth:`forget` keeps them while an upload of the period can still
        arrive): a late upload is tested with its own period's meters and claims. Only
        ``result``'s readings are flagged: the verdicts of the held ones stand.

        Parameters
        ----------
        result : Verification
            The batch that arrived; its held readings outside the period are ignored.
        first, n : int
            The period's first interval and length [intervals].
        at : int
            The end of the slot the batch arrived in [intervals from the run's start].
        """
        vm = np.concatenate(self.vm)
        imp = np.concatenate(self.imp)
        q = np.concatenate(self.q)
        home = np.concatenate(self.home) if self.home else None
        self.vm, self.imp, self.q = [vm], [imp], [q]
        self.home = [home] if home is not None else []
        if first < self.first:
            raise ValueError(f"the meters of interval {first} were forgotten ({self.first} on)")
        rows = slice(first - self.first, first - self.first + n)
        n_dev = len(self.sign)
        claimed, known = self.claims.get(first, (np.zeros((n, n_dev)), np.zeros((n, n_dev), bool)))
        claimed, known = claimed.copy(), known.copy()
        held = (result.status == ACCEPTED) | (result.status == FLAGGED)
        row = result.interval - first
        col = result.device_id - 1
        ok = held & (row >= 0) & (row < n) & (col >= 0) & (col < n_dev)
        per_mw = 3600.0 / self.interval_s / 1e6
        claimed[row[ok], col[ok]] = result.energy_wh[ok] * per_mw
        known[row[ok], col[ok]] = True
        self.claims[first] = (claimed, known)
        claimed_p = self.sign * claimed  # load convention
        output = np.where(self.sign < 0, claimed, 0.0)  # generation and discharge [MW]
        generating = (output > 0) & self.eligible
        period_home = home[rows] if home is not None else None
        blamed = {
            "hypotheses": self._hypotheses(claimed_p, output, known, q, vm, imp, period_home, rows)
        }
        if self.method == "state_estimation":
            blamed["state_estimation"] = [
                self._state_estimation(claimed_p, output, generating, known, q, vm, imp, rows)
            ]
        for method, rounds in blamed.items():
            applied = method == self.method
            for liar, top, second, top_z, second_z in rounds:
                self.records.append(
                    (first, at, method, applied, liar, top, second, top_z, second_z)
                )
        liars = [r[0] for r in blamed[self.method] if r[0] >= 0]
        if not liars:
            return
        hit = ok & np.isin(col, liars)
        result.status[hit] = FLAGGED
        result.flags[hit] |= np.uint8(FLAGS["state_estimation"])
        self.flagged.add(first)

    def forget(self, keep: set[int], end: int) -> None:
        """Drop the meters' readings and the claims of every period but those whose first
        interval is in ``keep`` (an upload of them can still arrive), up to interval ``end``."""
        self.claims = {f: c for f, c in self.claims.items() if f in keep}
        done = min([*keep, end]) - self.first
        self.vm = [np.concatenate(self.vm)[done:]]
        self.imp = [np.concatenate(self.imp)[done:]]
        self.q = [np.concatenate(self.q)[done:]]
        self.home = [np.concatenate(self.home)[done:]] if self.home else []
        self.first += done

    @property
    def flagged_periods(self) -> int:
        """Upload periods in which a device's readings were flagged."""
        return len(self.flagged)

    def _hypotheses(
        self,
        claimed_p: np.ndarray,
        output: np.ndarray,
        known: npt.NDArray[np.bool_],
        q: np.ndarray,
        vm: np.ndarray,
        imp: np.ndarray,
        home: np.ndarray | None,
        rows: slice,
    ) -> list[Round]:
        """Every generating device's inflation fitted to the meters (:mod:`grid.localization`);
        a claim the journal lacks is a free parameter of its interval. One device is blamed a
        round; its claims, moved to what the fit says it generated, become a free parameter
        of the next round, until nobody is blamed. The rounds that blamed, or the one that
        blamed nobody."""
        candidates = np.flatnonzero(self.eligible & (output > 0).any(axis=0))
        unknown = np.asarray(~known, dtype=bool)
        claimed_p = claimed_p.copy()
        rounds: list[Round] = []
        for _ in range(MAX_ROUNDS):
            test = weigh_hypotheses(
                self.solve,
                claimed_p,
                q[rows],
                vm[rows],
                imp[rows],
                self.vm_cols,
                self.noise,
                output,
                candidates,
                unknown=unknown,
                homes=self.homes,
                home_mw=home,
            )
            order = test.ranked()
            top = int(test.candidates[order[0]]) if len(order) else -1
            second = int(test.candidates[order[1]]) if len(order) > 1 else -1
            top_z = float(test.z[order[0]]) if len(order) else 0.0
            second_z = float(test.z[order[1]]) if len(order) > 1 else 0.0
            liar = test.blame(self.z_threshold, self.margin)
            if liar < 0:
                return rounds or [(liar, top, second, top_z, second_z)]
            rounds.append((liar, top, second, top_z, second_z))
            alpha = min(max(float(test.alpha[order[0]]), 0.0), 1.0)
            claimed_p[:, liar] *= 1.0 - alpha  # linearize at what it generated
            unknown = unknown.copy()
            unknown[:, liar] = True
            candidates = candidates[candidates != liar]
        return rounds

    def _state_estimation(
        self,
        claimed_p: np.ndarray,
        output: np.ndarray,
        generating: npt.NDArray[np.bool_],
        known: npt.NDArray[np.bool_],
        q: np.ndarray,
        vm: np.ndarray,
        imp: np.ndarray,
        rows: slice,
    ) -> tuple[int, int, int, float, float]:
        """pandapower's WLS per interval; the bus with the largest matched-filtered normalized
        residual, then its device that best explains them (:mod:`grid.estimation`)."""
        est = self.estimator
        n = len(claimed_p)
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
        order = np.argsort(scores)[::-1]
        top_z = float(scores[order[0]]) if len(order) else 0.0
        second_z = float(scores[order[1]]) if len(order) > 1 else 0.0

        def device(b: int) -> int:
            candidates = np.flatnonzero((est.node_col == b) & self.eligible)
            if not len(candidates):
                return -1
            return int(candidates[attribute(residuals.rn[:, b], output[:, candidates])])

        top = device(int(order[0])) if len(order) else -1
        second = device(int(order[1])) if len(order) > 1 else -1
        bus = localize(scores, self.z_threshold, self.margin)
        return (device(bus) if bus >= 0 else -1), top, second, top_z, second_z

    def table(self, node_ids: np.ndarray, stamps_us: np.ndarray) -> dict[str, np.ndarray]:
        """The ``physics_checks`` table: one row a device blamed in a period by a method
        computed, or one row blaming nobody, per check (a period is checked again when a
        late upload of it arrives: ``uploaded_at``, the end of the slot it arrived in)."""
        recs = self.records

        def names(i: int) -> list[str]:
            cols = [int(r[i]) for r in recs]
            return [str(node_ids[c]) if c >= 0 else "" for c in cols]

        at = np.array([r[1] for r in recs], dtype=np.int64)

        return {
            "time": stamps_us[np.array([r[0] for r in recs], dtype=np.int64)],
            "method": np.array([r[2] for r in recs], dtype=object),
            "applied": np.array([r[3] for r in recs], dtype=bool),
            "flagged_node": np.array(names(4), dtype=object),
            "top_node": np.array(names(5), dtype=object),
            "runner_up_node": np.array(names(6), dtype=object),
            "top_z": np.array([r[7] for r in recs], dtype=float),
            "runner_up_z": np.array([r[8] for r in recs], dtype=float),
            "uploaded_at": stamps_us[0] + at * np.timedelta64(self.interval_s, "s"),
        }
