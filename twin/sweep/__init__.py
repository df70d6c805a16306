"""Parameter sweeps: scenarios x parameter grid x seeds, run on dask.distributed.

:mod:`~twin.sweep.spec` reads a sweep file and validates every run's scenario before anything
runs; :mod:`~twin.sweep.runner` runs them on a dask cluster, resumably, one run folder each;
:mod:`~twin.sweep.table` writes and reads ``sweep.parquet``, one row a run.
"""

from twin.sweep.runner import (
    SINGLE_THREAD_ENV,
    Progress,
    dask_client,
    execute,
    run_sweep,
    single_threaded,
    task,
)
from twin.sweep.spec import (
    Sweep,
    SweepConfig,
    SweepError,
    SweepRun,
    load_sweep,
    run_name,
    sweep_from_dict,
)
from twin.sweep.table import TABLE, RunOutcome, read_sweep, sweep_table, write_table

__all__ = [
    "SINGLE_THREAD_ENV",
    "TABLE",
    "Progress",
    "RunOutcome",
    "Sweep",
    "SweepConfig",
    "SweepError",
    "SweepRun",
    "dask_client",
    "execute",
    "load_sweep",
    "read_sweep",
    "run_name",
    "run_sweep",
    "single_threaded",
    "sweep_from_dict",
    "sweep_table",
    "task",
    "write_table",
]
