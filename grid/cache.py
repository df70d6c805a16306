"""A small on-disk cache for what is slow to rebuild: SimBench nets and profile tables.

Reading SimBench's CSV files takes seconds per net and per profile library; the cache keeps
them as pickles / Parquet under ``$GRIDTWIN_CACHE`` (default ``$XDG_CACHE_HOME/gridtwin`` or
``~/.cache/gridtwin``), keyed by the simbench version. Entries are written atomically; a
corrupt entry is rebuilt.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

import pandas as pd

T = TypeVar("T")


def cache_dir() -> Path:
    """The cache folder (created on first use)."""
    root = os.environ.get("GRIDTWIN_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "gridtwin"


def _path(key: str, suffix: str) -> Path:
    version = metadata.version("simbench")
    return cache_dir() / f"simbench-{version}" / f"{key}{suffix}"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_pickle(key: str, build: Callable[[], T]) -> T:
    """``build()``, cached as a pickle under ``key``."""
    path = _path(key, ".pickle")
    if path.is_file():
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            path.unlink(missing_ok=True)
    value = build()

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)

    with contextlib.suppress(OSError):  # a read-only home must not stop a run
        _atomic_write(path, write)
    return value


def cached_frames(
    key: str, build: Callable[[], dict[str, pd.DataFrame]]
) -> dict[str, pd.DataFrame]:
    """``build()`` (named DataFrames), cached as one Parquet file per frame under ``key``."""
    folder = _path(key, "")
    names_file = folder / "names.txt"
    if names_file.is_file():
        try:
            names = names_file.read_text(encoding="utf-8").split()
            return {n: pd.read_parquet(folder / f"{n}.parquet") for n in names}
        except (OSError, ValueError):
            pass
    frames = build()

    def write_names(tmp: Path) -> None:
        tmp.write_text(" ".join(frames), encoding="utf-8")

    with contextlib.suppress(OSError):
        for name, frame in frames.items():
            _atomic_write(folder / f"{name}.parquet", frame.to_parquet)
        _atomic_write(names_file, write_names)
    return frames
