"""Partial run folders: a run being written, or one that failed or was killed.

A run is written into a hidden ``.<name>.partial-<id>`` folder next to where it will land
(:class:`twin.results.RunWriter`); only a finished run is renamed into place. The partial
folder holds, beside the tables written so far and the settlement journal ``ledger.sqlite``:

``partial.json``
    the run's status (``running``, ``failed`` with its error), its process id, where it will
    land, and the resolved scenario (the whole configuration, seed included) it runs: what
    ``gridtwin run --resume`` replays;
``chunks.log``
    one line per chunk appended to a table, written as it is appended: the table, its rows and
    the SHA-256 of the chunk's Arrow data. A killed process leaves its Parquet files without a
    footer (unreadable); this log is what a resumed run proves its replay against.

A run that fails keeps this folder (its Parquet files closed, so the chunks written are
readable), and so does a killed one; ``gridtwin clean`` lists them with their state and removes
them on request, never one whose process still runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

STATUS = "partial.json"
CHUNKS = "chunks.log"

#: Fault injection for the resume tests: ``GRIDTWIN_KILL_AT=<table>:<k>`` SIGKILLs the process
#: right after the ``k``-th chunk of ``<table>`` is appended (as a kill from outside would).
KILL_ENV = "GRIDTWIN_KILL_AT"


def chunk_digest(table: pa.Table) -> str:
    """SHA-256 of a chunk's Arrow data (IPC stream: schema and buffers), hex."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def kill_point(name: str, count: int) -> None:
    """SIGKILL this process if :data:`KILL_ENV` names the ``count``-th append of ``name``."""
    if os.environ.get(KILL_ENV) == f"{name}:{count}":
        os.kill(os.getpid(), signal.SIGKILL)


def write_status(folder: Path, status: dict[str, Any]) -> None:
    """Write ``partial.json`` atomically (temp file, then rename)."""
    tmp = folder / f".{STATUS}.tmp"
    tmp.write_text(json.dumps(status, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    os.replace(tmp, folder / STATUS)


def read_status(folder: Path) -> dict[str, Any] | None:
    """``partial.json`` of a partial folder, or None if it has none (or it cannot be read)."""
    try:
        status = json.loads((Path(folder) / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def read_chunks(folder: Path) -> list[tuple[str, int, str]]:
    """The chunks a run appended, in order: (table, rows, digest); a torn last line is left
    out (the process was killed while writing it)."""
    path = Path(folder) / CHUNKS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        parts = line.split()
        if not line.endswith("\n") or len(parts) != 3:
            break
        out.append((parts[0], int(parts[1]), parts[2]))
    return out


def new_status(
    out: Path, config: dict[str, Any] | None, scenario_file: str | None
) -> dict[str, Any]:
    """The status of a run that starts now in this process."""
    return {
        "state": "running",
        "out": str(out),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "scenario_file": scenario_file,
        "config": config,
        "error": None,
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@dataclass(frozen=True)
class PartialRun:
    """A partial run folder and what became of its run.

    ``state``: ``running`` (its process is alive on this host), ``failed`` (it raised: see
    ``error``), ``killed`` (its process is gone without a word), or ``unknown`` (no status:
    written by an older gridtwin).
    """

    path: Path
    state: str
    out: Path | None
    error: str | None
    config: dict[str, Any] | None
    scenario_file: str | None


def partial_run(path: Path) -> PartialRun:
    """What :func:`read_status` says of the partial folder ``path``."""
    status = read_status(path)
    if status is None:
        return PartialRun(Path(path), "unknown", None, None, None, None)
    state = str(status.get("state"))
    if state == "running":
        here = status.get("host") == socket.gethostname()
        if here and not _alive(int(status.get("pid", 0))):
            state = "killed"
    out = status.get("out")
    return PartialRun(
        Path(path),
        state,
        Path(out) if out else None,
        status.get("error"),
        status.get("config"),
        status.get("scenario_file"),
    )


def partial_runs(results_dir: str | Path) -> list[Path]:
    """Hidden partial run folders under ``results_dir`` (``.<name>.partial-<id>``): runs that
    are being written, or were killed or failed before they were renamed into place, oldest
    first."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.is_dir() and p.name.startswith(".") and ".partial-" in p.name
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def partial_of(out: Path) -> list[Path]:
    """The partial folders of the run that lands at ``out`` (oldest first)."""
    prefix = f".{Path(out).name}.partial-"
    return [p for p in partial_runs(Path(out).parent) if p.name.startswith(prefix)]
