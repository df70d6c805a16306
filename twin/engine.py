"""The orchestrator: one SimPy environment, the node processes, the layers, the grid check.

Per interval (DESIGN.md "One interval, as data flows"):

1. meters: the node processes set each node's power (``grid.nodes``); the batteries' policy
   (forecast-driven LP, or the self-consumption rule) runs inside the batteries' process;
2. every layer steps (:meth:`twin.layers.base.Layer.step`): the market orders and clears,
   dispatch records the forecast in force;
3. no later interval's decision depends on an interval's grid check or settlement, so both
   run for a chunk (a day, or a batch if shorter) of intervals at once: the chunk's AC power
   flow is solved on its batch solver, then the chunk is handed to every layer in turn
   (:meth:`~twin.layers.base.Layer.add`: the market's grid check and settlement, dispatch's
   record, the chain's batches, the devices' uploads and rewards), then the physical tables
   are written (:mod:`twin.tables`).

The engine knows the layers only as the list :mod:`twin.layers.registry` builds; it times
every call of every layer, and every step of their SimPy processes, in one place
(:meth:`Engine._timed`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import simpy

from grid.curtailment import violated
from grid.kpis import KpiAccumulator
from grid.nodes import Meters, outage_process
from twin.build import Twin, build
from twin.layers.base import Chunk, Columns, JsonValue, Kpis, Layer, LayerOutput, Process
from twin.layers.context import LayerContext
from twin.layers.registry import layer_factories, run_order
from twin.manifest import manifest_base
from twin.partial import read_chunks
from twin.results import ResumeError, RunWriter
from twin.resume import check_replay
from twin.scenario import Scenario, ScenarioError
from twin.static_tables import write_grid_tables
from twin.tables import write_chunk, write_nodes

Progress = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True)
class RunResult:
    """What a finished run returns: its folder, KPIs and wall time."""

    path: Path
    kpis: Kpis
    wall_time_s: float
    timings_s: dict[str, float]


class _Meters:
    """Per-chunk buffers of the meters (fresh arrays every chunk)."""

    def __init__(self, size: int, n_nodes: int, n_bat: int) -> None:
        self.p_mw = np.zeros((size, n_nodes))
        self.q_mvar = np.zeros((size, n_nodes))
        self.soc_kwh = np.zeros((size, n_bat))
        self.nodes_out = np.zeros(size, dtype=np.int64)
        self.available = np.ones((size, n_nodes), dtype=bool)
        self.fill = 0


class LayerError(RuntimeError):
    """A layer failed: the message names the layer, the call and the cause.

    Raised from the original exception (``__cause__``). It takes one message argument, so it
    survives SimPy's re-raise, which rebuilds an exception as ``type(exc)(*exc.args)`` and
    turns any exception with another constructor into an unrelated ``TypeError``.
    """


def merge_manifest(into: dict[str, JsonValue], entries: dict[str, JsonValue]) -> None:
    """Merge ``entries`` into ``into``; nested dictionaries key by key."""
    for key, value in entries.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge_manifest(old, value)
        else:
            into[key] = value


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
        self.node_ids = twin.nodes.table["node_id"].to_numpy().astype(str)
        shared_rows = twin.shared.rows if twin.shared is not None else np.zeros(0, np.int64)
        #: Rows of every battery whose state of charge is logged: the homes', the shared.
        self.bat_rows = np.concatenate([twin.batteries.rows, shared_rows])
        self.kpis = KpiAccumulator(twin.nodes)
        #: Wall time by part [s]: each layer by name, ``grid`` (the chunks' power flow),
        #: ``results`` (the physical tables), work layers report from inside node processes
        #: (``forecasting``, ``dispatch``), and ``nodes``: the SimPy run less all of these.
        self.timings_s: dict[str, float] = dict.fromkeys(("nodes", "grid", "results"), 0.0)
        ctx = LayerContext.of(twin, writer)
        self.stamps = ctx.stamps
        #: Worker processes and the like, released when the intervals are done or failed.
        self.closing = ctx.closing
        if twin.forecast_policy is not None:  # its refits' worker process
            self.closing.callback(twin.forecast_policy.refits.close)
        built: dict[str, Layer] = {}
        for name, factory in layer_factories(ctx):
            t0 = time.perf_counter()
            built[name] = factory(ctx, built)
            self.timings_s[name] = time.perf_counter() - t0
        self.layers = run_order(built)
        self.manifest: dict[str, JsonValue] = {}

    def _timed(self, name: str, call: Callable[..., T], *args: object) -> T:
        """``call(*args)``, its wall time added to ``name``'s; a failure becomes a
        :class:`LayerError` naming the layer and the call."""
        t0 = time.perf_counter()
        try:
            return call(*args)
        except (LayerError, ResumeError):  # a replay that differs is no layer's fault
            raise
        except Exception as exc:
            what = getattr(call, "__name__", "call")
            raise LayerError(f"layer {name!r} failed in {what}: {_cause(exc)}") from exc
        finally:
            self.timings_s[name] += time.perf_counter() - t0

    def _timed_process(self, name: str, process: Process) -> Generator[simpy.Event, object, None]:
        """``process`` run as it is, its steps timed under ``name``."""
        clock = time.perf_counter
        value: object = None
        error: BaseException | None = None
        while True:
            t0 = clock()
            try:
                event = process.throw(error) if error is not None else process.send(value)
            except StopIteration:
                return
            except (LayerError, ResumeError):  # a replay that differs is no layer's fault
                raise
            except Exception as exc:
                raise LayerError(f"layer {name!r} failed in its process: {_cause(exc)}") from exc
            finally:
                self.timings_s[name] += clock() - t0
            error = None
            try:
                value = yield event
            except BaseException as exc:  # a failed event: hand it to the process
                error = exc

    def run(self) -> None:
        """Run every interval in simulated time."""
        env = simpy.Environment()
        twin = self.twin
        meters = Meters(len(twin.nodes))
        n_home = len(twin.batteries.rows)
        soc_log = np.zeros((self.n_intervals, len(self.bat_rows)))
        env.process(outage_process(env, meters, twin.outages))
        env.process(twin.consumers.process(env, meters, self.interval_s))
        for fleet in twin.generators:
            env.process(fleet.process(env, meters, self.interval_s))
        if twin.flex is not None:  # after the consumers: overwrites the flexible loads' meters
            env.process(twin.flex.process(env, meters, self.n_intervals))
        env.process(twin.batteries.process(env, meters, self.n_intervals, soc_log[:, :n_home]))
        if twin.shared is not None:  # after every other node: it balances what they metered
            shared_log = soc_log[:, n_home:]
            env.process(twin.shared.process(env, meters, self.n_intervals, shared_log))
        if twin.dimming is not None:  # after every node: the operator dims what they metered
            env.process(twin.dimming.process(env, meters, soc_log[:, :n_home]))
        for layer in self.layers:
            for process in layer.start(env):
                env.process(self._timed_process(layer.name, process))
        env.process(self._intervals(env, meters, soc_log))
        before = sum(self.timings_s.values())
        t0 = time.perf_counter()
        try:
            env.run()
        except LayerError as copy:  # SimPy raises a copy; the layer's own error is its cause
            original = copy.__cause__
            if isinstance(original, LayerError):
                raise original from original.__cause__
            raise
        finally:
            self.closing.close()
        inside = sum(self.timings_s.values()) - before
        self.timings_s["nodes"] = time.perf_counter() - t0 - inside

    def _intervals(self, env: simpy.Environment, meters: Meters, soc_log: np.ndarray) -> Process:
        n_nodes, n_bat = len(meters.p_mw), soc_log.shape[1]
        buf = _Meters(self.chunk_size, n_nodes, n_bat)
        for k in range(self.n_intervals):
            # the node processes (started first) have set the meters and the batteries
            i = buf.fill
            buf.p_mw[i] = meters.p_mw
            buf.q_mvar[i] = meters.q_mvar
            buf.soc_kwh[i] = soc_log[k]
            buf.nodes_out[i] = int((~meters.available).sum())
            buf.available[i] = meters.available
            buf.fill += 1
            for layer in self.layers:
                self._timed(layer.name, layer.step, k, meters.p_mw)
            if buf.fill == self.chunk_size or k == self.n_intervals - 1:
                self._flush(k + 1 - buf.fill, buf)
                buf = _Meters(self.chunk_size, n_nodes, n_bat)
                if self.progress is not None:
                    self.progress(k + 1, self.n_intervals)
            yield env.timeout(self.interval_s)

    def _flush(self, first: int, buf: _Meters) -> None:
        n = buf.fill
        twin = self.twin
        grid = twin.scenario.grid
        clock = time.perf_counter
        t0 = clock()
        p, q = buf.p_mw[:n], buf.q_mvar[:n]
        flow = twin.solver.solve(p, q)
        chunk = Chunk(
            first=first,
            times=self.stamps[first : first + n],
            p_mw=p,
            q_mvar=q,
            available=buf.available[:n],
            nodes_out=buf.nodes_out[:n],
            soc_kwh=buf.soc_kwh[:n],
            flow=flow,
            violations=violated(flow, grid.vm_min_pu, grid.vm_max_pu, grid.max_loading_percent),
            curtailed_mw=np.zeros_like(p),
        )
        self.timings_s["grid"] += clock() - t0
        for layer in self.layers:
            self._timed(layer.name, layer.add, chunk)
        t1 = clock()
        write_chunk(
            self.writer,
            chunk,
            layout=twin.solver.layout,
            node_ids=self.node_ids,
            bat_rows=self.bat_rows,
            interval_s=self.interval_s,
            in_service_from=twin.in_service_from,
        )
        self.kpis.add(chunk.p_mw, chunk.flow, chunk.violations, chunk.nodes_out, self.interval_s)
        self.timings_s["results"] += clock() - t1

    def finish(self) -> Kpis:
        """Every layer's output; the static tables and the KPIs. Returns the KPIs."""
        outputs: list[LayerOutput] = [
            self._timed(layer.name, layer.finish) for layer in self.layers
        ]
        extra: Kpis = {}
        node_columns: Columns = {}
        for out in outputs:
            extra.update(out.kpis)
            node_columns.update(out.node_columns)
            merge_manifest(self.manifest, out.manifest)
            for key, seconds in out.timings_s.items():  # spent inside the node processes
                self.timings_s[key] = self.timings_s.get(key, 0.0) + seconds
                self.timings_s["nodes"] -= seconds
        write_nodes(self.writer, self.twin.nodes.table, node_columns)
        write_grid_tables(self.writer, self.twin.net, self.twin.solver.layout)
        for out in outputs:
            for name, columns in out.tables.items():
                self.writer.append(name, columns)
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
    resume: Path | None = None,
) -> RunResult:
    """Build and run a scenario; write its run folder atomically.

    A run that fails keeps its partial folder (journal, tables written so far), marked
    failed; :mod:`twin.resume` continues it.

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
    resume : Path, optional
        The partial folder of a killed run of this scenario (:func:`twin.resume.resumable`):
        the run is replayed, every chunk checked against the killed run's, and the killed
        run's folder removed once the run is in place.
    """
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        twin = build(scenario)
    except ScenarioError as err:  # e.g. a node it names that the run does not have
        raise _in_file(err, scenario_file) from None
    build_s = time.perf_counter() - t0
    expected = read_chunks(resume) if resume is not None else []
    writer = RunWriter(
        out or default_out(scenario),
        config=scenario.model_dump(mode="json"),
        scenario_file=scenario_file,
        expected=expected,
    )
    try:
        engine = Engine(twin, writer, progress)
        engine.run()
        kpis = engine.finish()
        if resume is not None:
            check_replay(resume, writer, len(expected))
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
            chain=None,  # the chain layer's entry, when there is one
        )
        if resume is not None:
            manifest["resumed"] = {"chunks_replayed": len(expected)}
        merge_manifest(manifest, engine.manifest)
        path = writer.finish(manifest)
    except ScenarioError as err:  # kept if a journal exists (contracts deployed), else removed
        writer.fail(err, keep=(writer.tmp / "ledger.sqlite").exists())
        raise _in_file(err, scenario_file) from None
    except ResumeError:  # not the killed run: its own folder stays as it was
        writer.abort()
        raise
    except BaseException as err:
        writer.fail(err)
        raise
    if resume is not None:
        shutil.rmtree(resume, ignore_errors=True)
    return RunResult(path, kpis, wall, timings)


def _cause(exc: BaseException) -> str:
    """``Type: message`` of an exception, for an error message."""
    return f"{type(exc).__name__}: {exc}"


def _in_file(err: ScenarioError, scenario_file: str | None) -> ScenarioError:
    """``err``, naming the scenario file it comes from where that is known."""
    return ScenarioError(f"{scenario_file}: {err}") if scenario_file else err
