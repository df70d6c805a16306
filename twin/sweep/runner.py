"""Running a sweep on dask.distributed: each run in a worker of its own, resumable.

Each run writes its run folder under the sweep folder (named by
:func:`twin.sweep.spec.run_name`): a rerun skips the runs whose folder is complete (has
``manifest.json``) and retries the others. A failed run is reported with its error; the sweep
goes on. The sweep table (:mod:`twin.sweep.table`) is written at the end, and also when the
sweep is interrupted.

Runs go to a dask ``LocalCluster`` (worker processes, one thread each) or to the scheduler at
a given address, whose workers need gridtwin installed and the sweep folder at the same path
(a shared file system). Each run is single-threaded in its worker: a worker is a core.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from twin.scenario import Scenario
from twin.sweep.spec import Sweep, SweepRun
from twin.sweep.table import TABLE, RunOutcome, sweep_table, write_table

if TYPE_CHECKING:
    from distributed import Client

#: Environment of LocalCluster workers: one thread in every OpenMP / BLAS pool.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

#: Called as ``progress(outcome, done, total)`` after each run (:func:`run_sweep`).
Progress = Callable[[RunOutcome, int, int], None]


def single_threaded() -> None:
    """Make this process's runs single-threaded (called in each worker before a run).

    OpenMP / BLAS pools are limited around each run with threadpoolctl (:func:`execute`);
    the environment variables cover libraries loaded later. power-grid-model's batch
    threads do not read them: the fast solver has its own switch
    (:data:`grid.fastflow.SINGLE_THREAD_ENV`).
    """
    from grid import fastflow

    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    os.environ[fastflow.SINGLE_THREAD_ENV] = "1"


def _finished(name: str, folder: Path) -> RunOutcome:
    """The outcome of a run whose folder is complete, read from the folder."""
    frame = pd.read_parquet(folder / "kpis.parquet")
    kpis = {str(n): float(v) for n, v in zip(frame["name"], frame["value"], strict=True)}
    units = {str(n): str(u) for n, u in zip(frame["name"], frame["unit"], strict=True)}
    wall = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("wall_time_s")
    return RunOutcome(name, "ok", None, True, wall, kpis, units)


def execute(name: str, config: dict[str, Any], scenario_file: str, sweep_dir: str) -> RunOutcome:
    """Run one sweep run into ``sweep_dir/name`` (the task each worker executes).

    ``config``: the scenario as JSON data (:func:`task`), validated again here, so a worker
    whose gridtwin differs fails with a validation error, not a half-unpickled model. A
    failing run returns its error; a run whose folder is complete is skipped.
    """
    folder = Path(sweep_dir) / name
    if (folder / "manifest.json").is_file():
        return _finished(name, folder)
    try:
        single_threaded()
        from threadpoolctl import threadpool_limits

        from twin.engine import run_scenario

        scenario = Scenario.model_validate(config)
        with threadpool_limits(limits=1):
            result = run_scenario(scenario, folder, scenario_file=scenario_file)
    except Exception as err:
        return RunOutcome(name, "failed", f"{type(err).__name__}: {err}")
    kpis = {k: float(v) for k, (v, _) in result.kpis.items()}
    units = {k: u for k, (_, u) in result.kpis.items()}
    return RunOutcome(name, "ok", None, False, round(result.wall_time_s, 3), kpis, units)


def task(run: SweepRun) -> tuple[str, dict[str, Any], str]:
    """:func:`execute`'s arguments for ``run`` but the sweep folder: plain data only."""
    return run.name, run.scenario.model_dump(mode="json"), run.scenario_file


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler`` (``tcp://HOST:PORT``), or else of a new
    LocalCluster of ``workers`` processes (default: the CPU count), one thread each."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise ValueError("workers applies to a local cluster, not to a scheduler address")
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=SINGLE_THREAD_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    client: Client | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run every run of ``sweep`` not finished yet under ``out``; write ``out/sweep.parquet``.

    Parameters
    ----------
    sweep : Sweep
        A loaded sweep (:func:`load_sweep`).
    out : str or Path
        The sweep folder (created); each run's folder goes inside it.
    client : distributed.Client, optional
        Run on this client's cluster; else on ``scheduler``'s (``tcp://HOST:PORT``), else on
        a new LocalCluster of ``workers`` processes (see :func:`dask_client`).
    scheduler : str, optional
    workers : int, optional
    progress : callable, optional
        Called as ``progress(outcome, done, total)`` after each run, skipped ones included.

    Returns
    -------
    DataFrame
        The sweep table (see the module's docstring), one row a run in the sweep's order.
    """
    out = Path(out)
    pending = [r for r in sweep.runs if not (out / r.name / "manifest.json").is_file()]
    if pending and client is None:  # connect first: an unreachable scheduler writes nothing
        with dask_client(scheduler, workers) as own:
            return run_sweep(sweep, out, own, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, RunOutcome] = {}

    def record(outcome: RunOutcome) -> None:
        outcomes[outcome.name] = outcome
        if progress is not None:
            progress(outcome, len(outcomes), len(sweep.runs))

    todo = {r.name for r in pending}
    for run in sweep.runs:
        if run.name not in todo:
            record(_finished(run.name, out / run.name))
    try:
        if pending and client is not None:
            _submit(client, pending, out, record)
    finally:
        frame = sweep_table(sweep, outcomes)
        write_table(frame, out / TABLE, sweep, outcomes)
    return frame


def _submit(
    client: Client, runs: list[SweepRun], out: Path, record: Callable[[RunOutcome], None]
) -> None:
    from distributed import as_completed

    where = str(out.resolve())
    futures = {client.submit(execute, *task(run), where, pure=False): run for run in runs}
    try:
        for future in as_completed(futures):
            run = futures[future]
            if future.status == "error":
                err = future.exception()
                record(RunOutcome(run.name, "failed", f"{type(err).__name__}: {err}"))
            else:
                record(future.result())
    finally:
        client.cancel(list(futures))
