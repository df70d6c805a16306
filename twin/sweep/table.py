"""The sweep table ``sweep.parquet``: one row a run, written atomically.

Columns: ``run_folder``, ``scenario``, a column per parameter, ``seed``, ``status`` (``ok`` /
``failed``; ``cancelled`` if the sweep was interrupted first), ``skipped`` (finished earlier),
``error``, ``wall_time_s`` and the KPIs (units in the metadata key ``gridtwin.kpi_units``; the
sweep file's configuration in ``gridtwin.sweep``).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from twin.sweep.spec import Sweep, format_value

#: The sweep table's file name inside the sweep folder.
TABLE = "sweep.parquet"


@dataclass(frozen=True)
class RunOutcome:
    """What became of one run (returned by the worker that ran it)."""

    name: str
    status: str
    error: str | None = None
    skipped: bool = False
    wall_time_s: float | None = None
    kpis: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def sweep_table(sweep: Sweep, outcomes: dict[str, RunOutcome]) -> pd.DataFrame:
    """One row a run: identity, parameters, seed, outcome and KPIs (NaN where none)."""
    kpi_names = dict.fromkeys(k for o in outcomes.values() for k in o.kpis)
    rows = []
    for run in sweep.runs:
        o = outcomes.get(run.name) or RunOutcome(run.name, "cancelled", "not run (interrupted)")
        rows.append(
            {
                "run_folder": run.name,
                "scenario": run.scenario.name,
                **run.parameters,
                "seed": run.scenario.run.seed,
                "status": o.status,
                "skipped": o.skipped,
                "error": o.error,
                "wall_time_s": o.wall_time_s,
                **{k: o.kpis.get(k, float("nan")) for k in kpi_names},
            }
        )
    frame = pd.DataFrame(rows)
    for key in sweep.config.parameters:
        values = frame[key]
        if values.dtype == object and len({type(v) for v in values}) > 1:
            frame[key] = values.map(format_value)
    return frame.astype({"wall_time_s": float})


def write_table(
    frame: pd.DataFrame, path: Path, sweep: Sweep, outcomes: dict[str, RunOutcome]
) -> None:
    """Write the sweep table atomically (temporary file, then rename), units in metadata."""
    units = {k: u for o in outcomes.values() for k, u in o.units.items()}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"gridtwin.kpi_units"] = json.dumps(units, sort_keys=True).encode()
    meta[b"gridtwin.sweep"] = sweep.config.model_dump_json().encode()
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_sweep(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """A sweep folder's table and its KPIs' units (``{kpi: unit}``)."""
    path = Path(path)
    file = path / TABLE if path.is_dir() else path
    table = pq.read_table(file)
    units = json.loads((table.schema.metadata or {}).get(b"gridtwin.kpi_units", b"{}"))
    return table.to_pandas(), units
