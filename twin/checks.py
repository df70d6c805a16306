"""One fact ``gridtwin verify`` checks: what, whether it holds, and the detail; and how a failed
check names the rows it found wrong."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Check:
    """One verified fact: what, whether it holds, and the detail."""

    name: str
    ok: bool
    detail: str


def row_check(
    name: str,
    table: str,
    bad: np.ndarray | Sequence[bool],
    why: Callable[[int], str],
    total: int | None = None,
    shown: int = 3,
) -> Check:
    """A check over the rows of ``table``: failed if any of ``bad`` (one bool a row, in the
    Parquet file's order) holds; the detail names the table, the first rows (``row i``, their
    position in the file) and ``why(i)`` each is wrong."""
    rows = np.flatnonzero(np.asarray(bad, dtype=bool))
    n = len(bad) if total is None else total
    if not len(rows):
        return Check(name, True, f"{table}: {n:,} rows")
    named = "; ".join(f"{table} row {int(i)}: {why(int(i))}" for i in rows[:shown])
    more = f" (and {len(rows) - shown:,} more)" if len(rows) > shown else ""
    return Check(name, False, f"{len(rows):,} of {n:,} rows wrong: {named}{more}")
