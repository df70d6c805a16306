"""The orchestrator: one SimPy environment, the node processes and the interval process.

Per interval (DESIGN.md "One interval, as data flows"):

1. meters: the node processes set each node's power (``grid.nodes``);
2. forecast + dispatch: the battery policy (forecast-driven LP, or the self-consumption rule);
3. market: every owner orders its forecast net position and the market clears
   (:class:`twin.layers.market.MarketLayer`);
4. grid check: AC power flow of the interval's injections; in network-aware mode the
   generation behind a violation is curtailed, with its trades (:mod:`grid.curtailment`).
   No later interval's decision depends on an interval's grid check or settlement, so both
   run for a chunk (a day) of intervals at once, on the chunk's batch power flow;
5. settlement: trades and each owner's imbalance with the utility at tariff.

Results are collected in arrays chunk by chunk and written once per chunk by
:class:`twin.results.RunWriter`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from grid.curtailment import Sensitivities, curtail, violated
from grid.kpis import KpiAccumulator
from grid.nodes import Meters, outage_process
from grid.zones import voltage_zones
from settlement.market.tariff import tariff_prices
from twin.build import Twin, build, streams
from twin.layers.chain import SettlementLayer
from twin.layers.devices import DeviceLayer
from twin.layers.market import MarketLayer
from twin.manifest import manifest_base
from twin.results import RunWriter
from twin.scenario import Scenario
from twin.tables import (
    ChunkResults,
    interval_flags,
    write_chunk,
    write_forecasts,
    write_market,
    write_settlement,
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunResult:
    """What a finished run returns: its folder, KPIs and wall time."""

    path: Path
    kpis: dict[str, tuple[float, str]]
    wall_time_s: float
    timings_s: dict[str, float]


class _Chunk:
    """Per-chunk buffers of the interval process."""

    def __init__(self, size: int, n_nodes: int, n_bat: int, n_series: int) -> None:
        self.p_mw = np.zeros((size, n_nodes))
        self.q_mvar = np.zeros((size, n_nodes))
        self.soc_kwh = np.zeros((size, n_bat))
        self.nodes_out = np.zeros(size, dtype=np.int64)
        self.forecast_mw = np.zeros((size, n_series))
        self.fallback = np.zeros(size, dtype=bool)
        self.plan_mw = np.full((size, n_bat), np.nan)
        self.plan_issued = np.zeros(size, dtype=np.int64)
        self.available = np.ones((size, n_nodes), dtype=bool)
        self.fill = 0


class Engine:
    """Runs a built twin and writes its run folder."""

    def __init__(self, twin: Twin, writer: RunWriter, progress: Progress | None = None) -> None:
        self.twin = twin
        self.writer = writer
        self.progress = progress
        run = twin.scenario.run
        self.interval_s = run.interval_s
        self.n_intervals = run.n_intervals
        chain = twin.scenario.chain
        chunk_s = min(86_400, chain.batch_hours * 3600) if chain.enabled else 86_400
        self.chunk_size = max(1, chunk_s // run.interval_s)
        self.batch_intervals = max(1, chain.batch_hours * 3600 // run.interval_s)
        table = twin.nodes.table
        self.node_ids = table["node_id"].to_numpy().astype(str)
        self.owners, self.owner_idx = np.unique(
            table["owner"].to_numpy().astype(str), return_inverse=True
        )
        self.bat_ids = self.node_ids[twin.batteries.rows]
        self.kpis = KpiAccumulator(twin.nodes)
        self.import_price, self.export_price = tariff_prices(
            twin.times.hour.to_numpy(), twin.scenario.tariffs
        )
        self.market = MarketLayer(
            twin.scenario.market,
            self.owner_idx,
            self.owners,
            self.import_price,
            self.export_price,
            streams(run.seed)["market"],
            self.interval_s,
            *self._zones(),
        )
        nodes = twin.nodes
        self.gen_rows = np.concatenate([nodes.rows("solar"), nodes.rows("wind")])
        self._sensitivities: Sensitivities | None = None
        self.last_p = np.zeros(len(nodes))
        self.curtailed_wh = 0
        self.violations_uncurtailed = 0
        self.stamps = twin.times.tz_localize(None).to_numpy().astype("datetime64[us]")
        #: Wall time by layer [s]; "nodes" is the SimPy run less the layers timed inside it.
        self.timings_s: dict[str, float] = dict.fromkeys(
            ("nodes", "market", "grid", "results"), 0.0
        )
        self.settlement: SettlementLayer | None = None
        if chain.enabled:
            t0 = time.perf_counter()
            self.settlement = SettlementLayer(
                chain,
                self.owners,
                run.seed,
                run.interval_s,
                writer.tmp,
                streams(run.seed)["chain"],
                float(run.n_intervals * run.interval_s),
            )
            self.timings_s["chain"] = time.perf_counter() - t0
        self.devices: DeviceLayer | None = None
        if self.settlement is not None and twin.scenario.devices.enabled:
            addresses = np.array(self.settlement.addresses)
            self.devices = DeviceLayer(
                twin.scenario,
                twin.nodes,
                addresses[self.owner_idx].tolist(),
                self.settlement.chain,
                twin.solver.layout,
                twin.times,
            )
            self.timings_s["devices"] = self.devices.wall_s
        self.chain_manifest: dict[str, Any] | None = None

    def run(self) -> None:
        """Run every interval in simulated time."""
        env = simpy.Environment()
        twin = self.twin
        meters = Meters(len(twin.nodes))
        soc_log = np.zeros((self.n_intervals, len(twin.batteries.rows)))
        env.process(outage_process(env, meters, twin.outages))
        env.process(twin.consumers.process(env, meters, self.interval_s))
        for fleet in twin.generators:
            env.process(fleet.process(env, meters, self.interval_s))
        env.process(twin.batteries.process(env, meters, self.n_intervals, soc_log))
        settlement = self.settlement
        if settlement is not None:
            env.process(settlement.process(env))
        env.process(self._intervals(env, meters, soc_log))
        chain_before = settlement.wall_s if settlement is not None else 0.0
        devices_before = self.devices.wall_s if self.devices is not None else 0.0
        t0 = time.perf_counter()
        env.run()
        policy = twin.forecast_policy
        if policy is not None:
            self.timings_s.update(policy.timings_s)
        inside = sum(v for k, v in self.timings_s.items() if k not in ("nodes", "chain", "devices"))
        if settlement is not None:
            inside += settlement.wall_s - chain_before
            self.timings_s["chain"] = settlement.wall_s
        if self.devices is not None:
            inside += self.devices.wall_s - devices_before
        self.timings_s["nodes"] = time.perf_counter() - t0 - inside

    def _intervals(self, env: simpy.Environment, meters: Meters, soc_log: np.ndarray) -> Any:
        policy = self.twin.forecast_policy
        series = self.twin.series_rows if self.twin.series_rows is not None else np.zeros(0, int)
        chunk = _Chunk(self.chunk_size, len(meters.p_mw), soc_log.shape[1], len(series))
        clock = time.perf_counter
        for k in range(self.n_intervals):
            # 1-2. meters and battery policy have run (the node processes, started first)
            i = chunk.fill
            chunk.p_mw[i] = meters.p_mw
            chunk.q_mvar[i] = meters.q_mvar
            chunk.soc_kwh[i] = soc_log[k]
            chunk.nodes_out[i] = int((~meters.available).sum())
            chunk.available[i] = meters.available
            if policy is not None:
                policy.observe(k, meters.p_mw[series])
                chunk.forecast_mw[i] = policy.current_forecast
                chunk.fallback[i] = k in policy.fallback
                chunk.plan_mw[i] = policy.current_plan
                chunk.plan_issued[i] = policy.plan_issued
            chunk.fill += 1
            # 3. market: orders from what each node is expected to do, not its meter
            t0 = clock()
            self.market.clear(k, self._expected_mw())
            self.timings_s["market"] += clock() - t0
            self.last_p = meters.p_mw.copy()
            # 4-5. grid check and settlement, batched by chunk
            if chunk.fill == self.chunk_size or k == self.n_intervals - 1:
                self._flush(k + 1 - chunk.fill, chunk)
                chunk.fill = 0
                if self.progress is not None:
                    self.progress(k + 1, self.n_intervals)
            yield env.timeout(self.interval_s)

    def _zones(self) -> tuple[np.ndarray, np.ndarray]:
        """Each owner's voltage zone (of its first node's bus) and the levels between zones."""
        if not self.twin.scenario.market.grid_fee_eur_per_mwh_per_level:
            return np.zeros(len(self.owners), dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
        zone_of_bus, levels = voltage_zones(self.twin.net)
        bus = self.twin.nodes.table["bus"].to_numpy()
        first = np.unique(self.owner_idx, return_index=True)[1]
        return np.array([zone_of_bus[int(b)] for b in bus[first]], dtype=np.int64), levels

    def _expected_mw(self) -> np.ndarray:
        """Each node's expected power this interval: forecast, battery plan, else persistence
        (``market.positions``)."""
        expected = self.last_p.copy()
        policy, twin = self.twin.forecast_policy, self.twin
        by_forecast = twin.scenario.market.positions == "forecast"
        if by_forecast and policy is not None and twin.series_rows is not None:
            fc = policy.current_forecast
            ok = np.isfinite(fc)
            expected[twin.series_rows[ok]] = fc[ok]
            plan = policy.current_plan
            ok = np.isfinite(plan)
            expected[twin.batteries.rows[ok]] = plan[ok]
        return expected

    def _sensitivities_now(self) -> Sensitivities:
        if self._sensitivities is None:
            bus = self.twin.nodes.table["bus"].to_numpy()
            self._sensitivities = Sensitivities.of(self.twin.solver.solve, bus)
        return self._sensitivities

    def _grid_check(
        self, p: np.ndarray, q: np.ndarray
    ) -> tuple[np.ndarray, Any, np.ndarray, np.ndarray]:
        """Power flow of a chunk, curtailed in network-aware mode.

        Returns the (curtailed) powers, their flow, the curtailment per node [MW] and the
        violations per interval.
        """
        twin = self.twin
        grid = twin.scenario.grid
        flow = twin.solver.solve(p, q)
        before = violated(flow, grid.vm_min_pu, grid.vm_max_pu, grid.max_loading_percent)
        self.violations_uncurtailed += int(before.sum())
        if not twin.scenario.market.network_aware or not before.any():
            return p, flow, np.zeros_like(p), before
        cut = curtail(
            p,
            q,
            flow,
            solve=twin.solver.solve,
            sensitivities=self._sensitivities_now,
            gen_rows=self.gen_rows,
            vm_min=grid.vm_min_pu,
            vm_max=grid.vm_max_pu,
            max_loading=grid.max_loading_percent,
            rounds=twin.scenario.market.curtailment_rounds,
        )
        after = violated(cut.flow, grid.vm_min_pu, grid.vm_max_pu, grid.max_loading_percent)
        return cut.p_mw, cut.flow, cut.curtailed_mw, after

    def _flush(self, first: int, chunk: _Chunk) -> None:
        n = chunk.fill
        twin = self.twin
        clock = time.perf_counter
        t0 = clock()
        p, flow, curtailed_mw, violations = self._grid_check(chunk.p_mw[:n], chunk.q_mvar[:n])
        t1 = clock()
        market = self.market.settle(first, p, curtailed_mw)
        t2 = clock()
        self.timings_s["grid"] += t1 - t0
        self.timings_s["market"] += t2 - t1
        layout = twin.solver.layout
        curtailed_wh = np.rint(curtailed_mw.sum(axis=1) * self.interval_s / 3600.0 * 1e6)
        self.curtailed_wh += int(curtailed_wh.sum())
        flags = interval_flags(
            flow.converged,
            chunk.nodes_out[:n],
            chunk.fallback[:n],
            curtailed_wh,
            violations,
            twin.scenario.market.network_aware,
        )
        times = self.stamps[first : first + n]
        trades = market["trades"]
        batch = (first + trades["interval"]) // self.batch_intervals
        write_market(self.writer, times, market, self.owners, batch)
        has_plan = twin.forecast_policy is not None
        results = ChunkResults(
            times=times,
            p_mw=p,
            flow=flow,
            violations=violations,
            curtailed_mw=curtailed_mw,
            curtailed_wh=curtailed_wh,
            nodes_out=chunk.nodes_out[:n],
            flags=flags,
            soc_kwh=chunk.soc_kwh[:n],
            plan_mw=chunk.plan_mw[:n] if has_plan else None,
            plan_issued=chunk.plan_issued[:n] if has_plan else None,
            forecast_mw=chunk.forecast_mw[:n],
            market=market,
        )
        write_chunk(
            self.writer,
            results,
            stamps=self.stamps,
            layout=layout,
            node_ids=self.node_ids,
            bat_rows=twin.batteries.rows,
            series_rows=twin.series_rows,
            interval_s=self.interval_s,
        )
        self.kpis.add(p, flow, violations, chunk.nodes_out[:n], self.interval_s)
        self.timings_s["results"] += clock() - t2
        if self.settlement is not None:  # 5. settlement: the batch is journaled when it closes
            self.settlement.add(first, n, trades, self.stamps)
        if self.devices is not None:  # signed readings, the journal's checks, rewards
            self.devices.add(first, p, chunk.available[:n], flow, self.writer)
            self.timings_s["devices"] = self.devices.wall_s

    def _write_forecasts(self) -> None:
        twin = self.twin
        policy = twin.forecast_policy
        if policy is None or twin.series_rows is None:
            return
        ids = self.node_ids[twin.series_rows]
        cols = policy.forecasts_table(ids, self.n_intervals)
        write_forecasts(self.writer, cols, ids, self.stamps, self.n_intervals)

    def finish(self) -> dict[str, tuple[float, str]]:
        """Write the static tables and the KPIs; return the KPIs."""
        self._write_forecasts()
        table = self.twin.nodes.table
        self.writer.append(
            "nodes",
            {
                "node_id": table["node_id"],
                "kind": table["kind"],
                "bus": table["bus"],
                "p_max_mw": table["p_max_mw"],
                "capacity_kwh": table["capacity_kwh"],
                "owner": table["owner"],
                "device_address": (
                    self.devices.addresses if self.devices is not None else [None] * len(table)
                ),
                "device_id": (
                    self.devices.ids if self.devices is not None else np.zeros(len(table), np.int64)
                ),
                "attack": (
                    self.devices.attack if self.devices is not None else ["none"] * len(table)
                ),
            },
        )
        self.writer.append("bills", self.market.bills())
        extra = {
            **self.market.kpis(),
            "curtailed_wh": (float(self.curtailed_wh), "Wh"),
            "violations_uncurtailed": (float(self.violations_uncurtailed), "count"),
        }
        if self.settlement is not None:
            settled = self.settlement.finish()
            self.timings_s["chain"] = self.settlement.wall_s
            write_settlement(self.writer, settled, self.stamps[0])
            extra.update(settled["kpis"])
            self.chain_manifest = settled["manifest"]
            if self.devices is not None:
                depin = self.devices.finish()
                extra.update(depin["kpis"])
                self.chain_manifest["addresses"].update(depin["addresses"])
        kpis = self.kpis.result(extra)
        self.writer.append(
            "kpis",
            {
                "name": list(kpis),
                "value": [v for v, _ in kpis.values()],
                "unit": [u for _, u in kpis.values()],
            },
        )
        return kpis


def default_out(scenario: Scenario, results_dir: Path = Path("results")) -> Path:
    """``results/<scenario>-<UTC timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return results_dir / f"{scenario.name}-{stamp}"


def run_scenario(
    scenario: Scenario,
    out: Path | None = None,
    progress: Progress | None = None,
    scenario_file: str | None = None,
) -> RunResult:
    """Build and run a scenario; write its run folder atomically.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    out : Path, optional
        The run folder (must not exist); default ``results/<name>-<UTC timestamp>``.
    progress : callable, optional
        Called as ``progress(done, total)`` with interval counts.
    scenario_file : str, optional
        Where the scenario came from (recorded in the manifest).
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    twin = build(scenario)
    build_s = time.perf_counter() - t0
    writer = RunWriter(out or default_out(scenario))
    try:
        engine = Engine(twin, writer, progress)
        engine.run()
        kpis = engine.finish()
        wall = time.perf_counter() - t0
        timings = {"build": build_s, **engine.timings_s}
        manifest = manifest_base(scenario, scenario_file)
        manifest.update(
            started=started.isoformat(),
            finished=datetime.now(UTC).isoformat(),
            wall_time_s=round(wall, 3),
            timings_s={k: round(v, 3) for k, v in timings.items()},
            solver=twin.solver.name,
            nodes={
                kind: len(twin.nodes.rows(kind))
                for kind in ("consumer", "solar", "wind", "battery")
            },
            buses=len(twin.solver.layout.bus),
            branches=len(twin.solver.layout.branch),
            chain=engine.chain_manifest,
        )
        path = writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise
    return RunResult(path, kpis, wall, timings)
