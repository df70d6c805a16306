"""The dashboard's access to the results store: which runs there are, and their tables.

Run folders never change once written (they are renamed into place whole), so everything
read from one is cached per folder with :func:`functools.lru_cache`, keyed on the folder's
path and its manifest's modification time (a folder replaced under the same name is read
anew). Tables are read with only the columns a page needs. The frames handed out are shared
by every caller: treat them as read-only (the figure builders do).

Not a page: Dash Pages skips modules whose name starts with ``_``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from figures.common import as_utc
from figures.geometry import (
    GEOMETRY_TABLES,
    NetworkGeometry,
    loading_matrix,
    network_geometry,
    voltage_matrix,
)
from twin.results import RunFolder, list_runs, open_run

#: The environment variable ``app.create_app`` sets to the results folder.
RESULTS_ENV = "GRIDTWIN_RESULTS"

#: A run folder as a cache key: (absolute path, manifest mtime [ns]).
RunKey = tuple[str, int]


def results_dir() -> Path:
    """The folder the dashboard reads runs from (and writes the Scenarios page's runs to)."""
    return Path(os.environ.get(RESULTS_ENV, "results"))


def runs() -> list[RunFolder]:
    """The finished runs, newest first."""
    return list_runs(results_dir())


def run_names() -> list[str]:
    """Names of the finished runs, newest first."""
    return [run.path.name for run in runs()]


def run_key(name: str | None) -> RunKey | None:
    """The cache key of run ``name`` in the results folder, None if there is no such run."""
    if not name or "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
        return None
    path = results_dir().resolve() / name
    try:
        stamp = (path / "manifest.json").stat().st_mtime_ns
    except (OSError, ValueError):  # no such run, or a name no file system takes
        return None
    return str(path), stamp


@lru_cache(maxsize=256)
def _manifest(key: RunKey) -> dict[str, Any]:
    return open_run(key[0]).manifest


def manifest(key: RunKey) -> dict[str, Any]:
    """The run's manifest (shared: do not change it)."""
    return _manifest(key)


def has_table(key: RunKey, name: str) -> bool:
    """Whether the run has table ``name``."""
    return (Path(key[0]) / f"{name}.parquet").is_file()


@lru_cache(maxsize=128)
def _table(key: RunKey, name: str, columns: tuple[str, ...] | None) -> pd.DataFrame:
    path = Path(key[0]) / f"{name}.parquet"
    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = tuple(c for c in columns if c in present)
    return pd.read_parquet(path, columns=list(columns) if columns is not None else None)


def table(key: RunKey, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Table ``name`` of the run (only ``columns`` of it, those it has), None if absent."""
    if not has_table(key, name):
        return None
    return _table(key, name, tuple(columns) if columns is not None else None)


@lru_cache(maxsize=256)
def kpis(key: RunKey) -> dict[str, float]:
    """The run's KPIs ``{name: value}`` (empty when it has none)."""
    frame = table(key, "kpis")
    if frame is None:
        return {}
    return dict(zip(frame["name"].astype(str), frame["value"].astype(float), strict=True))


def run_kpis(runs_: Sequence[RunFolder]) -> list[dict[str, float]]:
    """The KPIs of each run (cached per run folder)."""
    out = []
    for run in runs_:
        key = run_key(run.path.name)
        out.append(kpis(key) if key is not None else {})
    return out


@lru_cache(maxsize=32)
def times(key: RunKey) -> pd.DatetimeIndex:
    """The run's interval starts (UTC), from the ``intervals`` table (or ``grid_exchange``)."""
    for name in ("intervals", "grid_exchange"):
        frame = table(key, name, ["time"])
        if frame is not None:
            return pd.DatetimeIndex(frame["time"]).sort_values()
    return pd.DatetimeIndex([], tz="UTC")


def clicked_interval(key: RunKey | None, click: dict[str, Any] | None) -> int | None:
    """The interval a figure click points at (its ``x`` a time), or None."""
    points = (click or {}).get("points") or []
    if key is None or not points:
        return None
    stamps = times(key)
    return min(int(stamps.searchsorted(as_utc(points[0]["x"]))), len(stamps) - 1)


@lru_cache(maxsize=16)
def voltages(key: RunKey) -> pd.DataFrame | None:
    """Time x bus voltage matrix [p.u.], None without a ``bus_voltage`` table."""
    frame = table(key, "bus_voltage")
    return None if frame is None else voltage_matrix(frame)


@lru_cache(maxsize=16)
def loadings(key: RunKey) -> pd.DataFrame | None:
    """Time x (kind, branch) loading matrix [%], None without a ``branch_loading`` table."""
    frame = table(key, "branch_loading")
    return None if frame is None else loading_matrix(frame)


@lru_cache(maxsize=16)
def node_powers(key: RunKey) -> pd.DataFrame | None:
    """Time x node_id power matrix [MW], None without a ``node_power`` table."""
    frame = table(key, "node_power")
    if frame is None:
        return None
    return frame.assign(node_id=frame["node_id"].astype(str)).pivot(
        index="time", columns="node_id", values="p_mw"
    )


@lru_cache(maxsize=16)
def geometry(key: RunKey) -> NetworkGeometry | None:
    """Where to draw the run's net, from its ``buses`` and ``branches`` tables.

    None when the run has not both (a run folder written before the results store kept
    them): the grid page says so instead of drawing a map.
    """
    buses, branches = (table(key, name) for name in GEOMETRY_TABLES)
    if buses is None or branches is None:
        return None
    return network_geometry(buses, branches)


@lru_cache(maxsize=16)
def _orders_sorted(key: RunKey) -> tuple[pd.DataFrame, np.ndarray] | None:
    frame = table(key, "orders")
    if frame is None:
        return None
    frame = frame.sort_values("time", kind="stable")
    return frame, frame["time"].to_numpy(dtype="datetime64[ns]")


def orders_at(key: RunKey, time: pd.Timestamp) -> pd.DataFrame | None:
    """The run's orders in the interval starting at ``time``, None without an orders table."""
    cached = _orders_sorted(key)
    if cached is None:
        return None
    frame, stamps = cached
    t = np.datetime64(pd.Timestamp(time).tz_convert("UTC").tz_localize(None), "ns")
    lo, hi = np.searchsorted(stamps, t, side="left"), np.searchsorted(stamps, t, side="right")
    return frame.iloc[lo:hi]


@lru_cache(maxsize=16)
def forecasts_by_node(key: RunKey) -> dict[str, pd.DataFrame]:
    """The ``forecasts`` table split by node."""
    frame = table(key, "forecasts")
    if frame is None:
        return {}
    return {
        str(n): rows
        for n, rows in frame.groupby(frame["node_id"].astype(str), sort=False, observed=True)
    }


def clear_caches() -> None:
    """Forget everything read (tests; a results folder edited by hand)."""
    for fn in (
        _manifest,
        _table,
        kpis,
        times,
        voltages,
        loadings,
        node_powers,
        geometry,
        _orders_sorted,
        forecasts_by_node,
    ):
        fn.cache_clear()
