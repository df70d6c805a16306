"""Reading ``tariffs.day_ahead_csv``: a user's day-ahead price series, validated like the
scenario (each error names the file, the line and column, and the reason).

Format: a UTF-8 CSV with the header ``time,eur_per_mwh``, one row a price period:

- ``time``: the period's start, ISO 8601 with a UTC offset (``2024-01-15T00:00:00+01:00``
  or ``...Z``), on a quarter hour, strictly increasing;
- ``eur_per_mwh``: the day-ahead price [EUR/MWh], finite (negative prices are fine as long
  as the retail price they make stays non-negative).

Rows are hourly or quarter-hourly (both may mix, as when the day-ahead auction moved to
quarter hours); a longer step is a gap, an error where it falls inside the run window.
The series must cover the run window; the dispatch horizon past it repeats its last day.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from settlement.market.day_ahead import SLOT_S, DayAheadSeries, FixedParts, dynamic_retail
from twin.scenario.base import ScenarioError

HEADER = ("time", "eur_per_mwh")
#: Steps between rows that are no gap [s]: quarter-hourly and hourly.
STEPS_S = (900, 3600)


def read_day_ahead_csv(
    path: Path,
    run_start: datetime,
    run_s: int,
    fixed: FixedParts,
    key: str = "tariffs.day_ahead_csv",
) -> DayAheadSeries:
    """Read and validate the day-ahead CSV at ``path`` for a run of ``run_s`` seconds from
    ``run_start`` (UTC).

    Raises
    ------
    ScenarioError
        Missing or unreadable file, bad header, a row that does not parse (wrong column
        count, a time without offset or off the quarter hour, a non-finite price, times not
        increasing, a step neither 15 min nor 1 h), a gap inside the run window, a series that
        does not cover the run window, or a price whose retail price would be negative; the
        message names the file, the line (the header is line 1) and column, and the reason.
    """
    where = f"{key} {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{where}: cannot read: {err}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or tuple(c.strip() for c in rows[0]) != HEADER:
        got = ",".join(rows[0]) if rows else "(empty file)"
        raise ScenarioError(f"{where}: line 1: header must be {','.join(HEADER)!r}, got {got!r}")
    starts: list[int] = []
    prices: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            raise ScenarioError(f"{where}: line {line}: {len(row)} columns, expected 2")
        starts.append(_time_s(row[0].strip(), f"{where}: line {line}, column 'time'"))
        prices.append(_price(row[1].strip(), f"{where}: line {line}, column 'eur_per_mwh'"))
        if len(starts) > 1 and starts[-1] <= starts[-2]:
            raise ScenarioError(
                f"{where}: line {line}, column 'time': {row[0].strip()} is not after the"
                f" previous row's time (times must increase)"
            )
    if not starts:
        raise ScenarioError(f"{where}: no price rows after the header")
    first_s = int(run_start.timestamp())
    last_s = first_s + run_s
    start = np.asarray(starts, dtype=np.int64)
    step = np.diff(start)
    end = np.append(start[1:], start[-1] + (step[-1] if len(step) else 3600))
    for i, s in enumerate(step):
        if s in STEPS_S:
            continue
        line = _line_of(rows, i + 1)
        gap_from, gap_to = start[i] + max(STEPS_S), start[i + 1]
        if s > max(STEPS_S) and (gap_from >= last_s or gap_to <= first_s):
            continue  # a gap outside the run window
        if s > max(STEPS_S):
            raise ScenarioError(
                f"{where}: line {line}, column 'time': gap of {s / 3600:g} h before this row"
                f" ({_iso(start[i])} to {_iso(start[i + 1])}), inside the run window"
                f" {_iso(first_s)} to {_iso(last_s)}"
            )
        raise ScenarioError(
            f"{where}: line {line}, column 'time': {s} s after the previous row; rows must be"
            f" hourly (3600 s) or quarter-hourly (900 s)"
        )
    end[:-1] = np.where(np.isin(step, STEPS_S), end[:-1], start[:-1] + 3600)
    if start[0] > first_s or end[-1] < last_s:
        raise ScenarioError(
            f"{where}: prices from {_iso(start[0])} to {_iso(end[-1])} do not cover the run"
            f" window {_iso(first_s)} to {_iso(last_s)}"
        )
    series = DayAheadSeries(start, end, np.asarray(prices, dtype=float))
    retail = dynamic_retail(series.eur_per_mwh, fixed)
    inside = (end > first_s) & (start < last_s)
    negative = np.flatnonzero(inside & (retail < 0))
    if len(negative):
        i = int(negative[0])
        raise ScenarioError(
            f"{where}: line {_line_of(rows, i)}, column 'eur_per_mwh': a day-ahead price of"
            f" {prices[i]:g} EUR/MWh makes a negative retail price ({retail[i]:.2f} EUR/MWh);"
            " the market settles non-negative prices only"
        )
    return series


def _line_of(rows: list[list[str]], index: int) -> int:
    """File line (1: the header) of the ``index``-th price row, blank lines skipped."""
    seen = -1
    for line, row in enumerate(rows[1:], start=2):
        if row and any(c.strip() for c in row):
            seen += 1
            if seen == index:
                return line
    return len(rows)


def _time_s(text: str, where: str) -> int:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ScenarioError(f"{where}: {text!r} has no UTC offset (e.g. +01:00 or Z)")
    seconds = stamp.timestamp()
    if seconds % SLOT_S:
        raise ScenarioError(f"{where}: {text!r} is not on a quarter hour")
    return int(seconds)


def _price(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ScenarioError(f"{where}: {text!r} is not a finite price")
    return value


def _iso(seconds: int | np.integer) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=int(seconds))).isoformat() + "Z"
