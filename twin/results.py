"""The results store: a run folder of ``manifest.json`` and Parquet tables.

The contract between the engine and every face (CLI, dashboard, notebooks): every table has
a declared schema (:mod:`twin.schemas`), units in the column names. A run is written into a
hidden folder renamed into place when complete: a reader never sees half a run. A run that
fails or is killed leaves the hidden one, with its journal and the chunks it wrote, to be
resumed or cleaned (:mod:`twin.partial`).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from twin.partial import (
    CHUNKS,
    STATUS,
    chunk_digest,
    kill_point,
    new_status,
    partial_runs,
    read_status,
    write_status,
)
from twin.schemas import SCHEMAS

__all__ = ["ResumeError", "RunFolder", "RunWriter", "list_runs", "open_run", "partial_runs"]


class ResumeError(RuntimeError):
    """A resumed run's replay differs from what the killed run wrote: not the same run."""


def tiled_ids(ids: np.ndarray, times: int, index_type: pa.DataType | None = None) -> pa.Array:
    """``ids`` repeated ``times`` times as a dictionary-encoded string column."""
    codes, uniques = pd.factorize(np.asarray(ids, dtype=str))
    indices = pa.array(np.tile(codes, times), type=index_type or pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(uniques, type=pa.string()))


class RunWriter:
    """Writes one run folder atomically.

    Tables are appended chunk by chunk (one Parquet row group a chunk) into a hidden
    temporary folder, each chunk's digest logged as it is written; :meth:`finish` writes the
    manifest and renames the folder into place; :meth:`keep` marks it failed and keeps it.

    Parameters
    ----------
    out : Path
        Where the finished run lands (must not exist).
    config : dict, optional
        The resolved scenario as JSON data, stored in ``partial.json`` for a resume.
    scenario_file : str, optional
        Where the scenario came from.
    expected : sequence of (table, rows, digest), optional
        The chunks a killed run wrote (:func:`twin.partial.read_chunks`): each append is
        checked against them, in order, and a difference raises :class:`ResumeError`.
    """

    def __init__(
        self,
        out: Path,
        *,
        config: dict[str, Any] | None = None,
        scenario_file: str | None = None,
        expected: Sequence[tuple[str, int, str]] = (),
    ) -> None:
        self.out = Path(out)
        if self.out.exists():
            raise FileExistsError(f"{self.out}: run folder exists already")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.partial-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self._appends: dict[str, int] = {}
        self._expected = list(expected)
        self._seq = 0
        write_status(self.tmp, new_status(self.out, config, scenario_file))
        (self.tmp / CHUNKS).touch()

    def append(self, name: str, columns: dict[str, Any]) -> None:
        """Append a chunk of rows to table ``name`` (columns as arrays, declared schema)."""
        schema = SCHEMAS[name][0]
        table = pa.table(columns, schema=schema)
        digest = chunk_digest(table)
        if self._seq < len(self._expected):
            want = self._expected[self._seq]
            if want != (name, table.num_rows, digest):
                raise ResumeError(
                    f"chunk {self._seq} ({name}, {table.num_rows} rows) differs from the killed "
                    f"run's ({want[0]}, {want[1]} rows): the replay is not the same run "
                    "(other code, profiles or scenario)"
                )
        self._seq += 1
        writer = self._writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(self.tmp / f"{name}.parquet", schema, compression="zstd")
            self._writers[name] = writer
        writer.write_table(table)
        self.rows[name] = self.rows.get(name, 0) + table.num_rows
        with (self.tmp / CHUNKS).open("a", encoding="utf-8") as log:  # whole lines, at once
            log.write(f"{name} {table.num_rows} {digest}\n")
        self._appends[name] = self._appends.get(name, 0) + 1
        kill_point(name, self._appends[name])

    @property
    def replayed(self) -> int:
        """How many of the expected chunks (a killed run's) the replay has matched."""
        return min(self._seq, len(self._expected))

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Close every table, write ``manifest.json`` and move the folder into place."""
        self._close()
        (self.tmp / STATUS).unlink()
        (self.tmp / CHUNKS).unlink()
        manifest = {**manifest, "tables": dict(sorted(self.rows.items()))}
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        (self.tmp / "manifest.json").write_text(text + "\n", encoding="utf-8")
        os.replace(self.tmp, self.out)
        return self.out

    def fail(self, error: BaseException, *, keep: bool = True) -> None:
        """After a failure: :meth:`keep` the folder, or (``keep=False``: nothing was sent
        anywhere, nothing worth keeping) :meth:`abort`."""
        if keep:
            self.keep(error)
        else:
            self.abort()

    def keep(self, error: BaseException) -> Path:
        """After a failure: close every table (the chunks written stay readable), mark the
        folder ``failed`` with the error, and keep it. Returns the folder."""
        self._close()
        status = read_status(self.tmp) or {}
        status.update(state="failed", error=f"{type(error).__name__}: {error}")
        write_status(self.tmp, status)
        return self.tmp

    def abort(self) -> None:
        """Remove the temporary folder (after a failure that left nothing worth keeping)."""
        self._close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


@dataclass(frozen=True)
class RunFolder:
    """A finished run folder and its manifest."""

    path: Path
    manifest: dict[str, Any]

    def table(self, name: str) -> pd.DataFrame:
        """Read one table as a DataFrame.

        Raises
        ------
        FileNotFoundError
            If the run has no such table.
        ValueError
            Naming the file, if it is not readable Parquet.
        """
        path = self.path / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{self.path}: run has no table {name!r}")
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise ValueError(f"{path.name}: unreadable ({type(err).__name__}: {err})") from err

    def kpis(self) -> dict[str, float]:
        """The run's KPIs as ``{name: value}``."""
        frame = self.table("kpis")
        return dict(zip(frame["name"], frame["value"], strict=True))


def open_run(path: str | Path) -> RunFolder:
    """Open a finished run folder (one with a ``manifest.json``)."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{path}: not a run folder (no manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError(f"{manifest_path}: not a manifest (a JSON object)")
    return RunFolder(path, manifest)


def _scan_runs(results_dir: str | Path) -> tuple[list[RunFolder], list[tuple[Path, str]]]:
    """The run folders under ``results_dir`` (hidden partial folders skipped): those whose
    manifest opens, and those whose manifest cannot be read, with why (sorted by path)."""
    root = Path(results_dir)
    runs: list[RunFolder] = []
    broken: list[tuple[Path, str]] = []
    if not root.is_dir():
        return runs, broken
    for p in sorted(root.iterdir()):
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file():
            try:
                runs.append(open_run(p))
            except (OSError, ValueError) as err:
                broken.append((p, f"{type(err).__name__}: {err}"))
    return runs, broken


def list_runs(results_dir: str | Path) -> list[RunFolder]:
    """Finished runs under ``results_dir``, newest first (a folder whose manifest cannot be
    read is left out: :func:`broken_runs` lists those)."""
    runs = _scan_runs(results_dir)[0]
    return sorted(runs, key=lambda r: str(r.manifest.get("started", "")), reverse=True)


def broken_runs(results_dir: str | Path) -> list[tuple[Path, str]]:
    """Run folders under ``results_dir`` whose ``manifest.json`` cannot be read, with why."""
    return _scan_runs(results_dir)[1]
