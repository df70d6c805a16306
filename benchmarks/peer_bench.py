"""Against the peer: gridtwin with every layer vs pandapower's timeseries power flow alone.

The peer is what a user would otherwise pick to simulate a SimBench grid over time:
pandapower's timeseries module on the same SimBench net and the same quarter-hours, with
SimBench's own profiles (``simbench.get_absolute_values``, profiles instead of study cases)
applied by ``simbench.apply_const_controllers`` and ``pandapower.timeseries.run_timeseries``
computing one AC power flow per quarter-hour, logging nothing (an ``OutputWriter`` with no
log variables, ``verbose=False``). Its time counts ``apply_const_controllers`` and
``run_timeseries`` only; reading the net and its profiles is reported apart. gridtwin runs
the default scenario with every layer at its defaults on the same grid and period; its wall
time includes building the twin and writing the run folder. Each side is its own process
(peak memory its own), measured one after the other in the same run.

The peer's quarter-hours are the profile rows gridtwin's own run reads
(:func:`grid.profiles.window`: the run's UTC start on SimBench's UTC-converted stamps, a
window past the profile year wrapping to its start).

Run: ``.venv/bin/python benchmarks/peer_bench.py [--days N | --quick | --year]``; by
default the scenario's week, then a year from 2016-01-01.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402

DEFAULT = "scenarios/default.toml"
YEAR_START = "run.start=2016-01-01T00:00:00Z"
#: The issue's bar: a year with every layer in at most this share of the peer's year.
YEAR_BAR = 0.10
#: SimBench's profile step [s].
STEP_S = 900


def profile_rows(net: Any, start: str, n_steps: int) -> list[int]:
    """The rows of ``net.profiles`` gridtwin reads for ``n_steps`` quarter-hours from ``start``.

    Parameters
    ----------
    net : pandapowerNet
        A SimBench net with its profiles.
    start : str
        The run's first interval start, ISO 8601 in UTC.
    n_steps : int
        Number of quarter-hours.
    """
    import numpy as np
    import pandas as pd

    from grid.profiles import simbench_times_to_utc, window

    stamps = net.profiles["load"]["time"]
    rows = pd.DataFrame({"row": np.arange(len(stamps))}, index=simbench_times_to_utc(stamps))
    picked = window(rows, pd.Timestamp(start), n_steps, STEP_S)["row"]
    return [int(r) for r in picked]


def measure_peer(code: str, start: str, n_steps: int) -> dict[str, Any]:
    """pandapower's timeseries power flow of SimBench ``code`` over ``n_steps`` quarter-hours
    from ``start``, in this process; its figures (times [s], peak memory [MiB])."""
    import pandapower.timeseries as ts
    import simbench

    t0 = time.perf_counter()
    net = simbench.get_simbench_net(code)
    profiles = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    rows = profile_rows(net, start, n_steps)
    cut = {
        key: frame.iloc[rows].reset_index(drop=True)
        for key, frame in profiles.items()
        if frame.shape[1]
    }
    load_s = time.perf_counter() - t0
    steps = list(range(n_steps))
    t0 = time.perf_counter()
    simbench.apply_const_controllers(net, cut)
    ts.OutputWriter(net, steps, output_path=None, log_variables=[])
    ts.run_timeseries(net, time_steps=steps, verbose=False)
    timeseries_s = time.perf_counter() - t0
    return {
        "grid": code,
        "start": start,
        "steps": n_steps,
        "first_row": rows[0],
        "load_s": load_s,
        "timeseries_s": timeseries_s,
        "peak_mib": engine_bench.peak_rss_mib(),
    }


def peer_in_subprocess(code: str, start: str, n_steps: int) -> dict[str, Any]:
    """:func:`measure_peer` in a fresh interpreter."""
    cmd = [sys.executable, str(HERE / "peer_bench.py"), "--peer", code, start, str(n_steps)]
    return engine_bench.json_from_subprocess(cmd, timeout_s=4 * 3600)


def measure_period(label: str, overrides: list[str]) -> dict[str, Any]:
    """The peer, then gridtwin with every layer, on the default scenario with ``overrides``."""
    from twin.scenario import load_scenario

    sc = load_scenario(DEFAULT, overrides)
    n_steps = sc.run.n_intervals * sc.run.interval_s // STEP_S
    start = sc.run.start.isoformat()
    print(f"measuring the peer, {label} ({n_steps:,} quarter-hours) ...", flush=True)
    peer = peer_in_subprocess(sc.grid.simbench_code, start, n_steps)
    print(f"measuring gridtwin, {label} (every layer) ...", flush=True)
    twin = engine_bench.measure_in_subprocess(DEFAULT, overrides)
    return {"label": label, "days": sc.run.days, "peer": peer, "twin": twin}


def periods(days: int | None, quick: bool, year_only: bool = False) -> list[tuple[str, list[str]]]:
    """The periods to measure: (label, scenario overrides)."""
    if quick:
        days = 1
    if days is not None:
        return [(f"{days} d from the scenario's start", [f"run.days={days}"])]
    year = ("year (365 d from 2016-01-01)", ["run.days=365", YEAR_START])
    return [year] if year_only else [("week (the scenario's 7 d)", []), year]


def _largest_layers(timings_s: dict[str, float], n: int = 3) -> str:
    """The ``n`` layers that took longest, with their times."""
    largest = sorted(timings_s.items(), key=lambda item: -item[1])[:n]
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in largest)


def peer_table(rows: list[dict[str, Any]]) -> str:
    """The measurements as a markdown table."""
    lines = [
        "| period | quarter-hours | pandapower `run_timeseries`, power flow only [s] "
        "| gridtwin, every layer [s] | gridtwin / peer | peak memory peer [MiB] "
        "| peak memory gridtwin [MiB] | peer reading net and profiles [s] "
        f"| year bar (≤ {YEAR_BAR:.2f}) | gridtwin's largest layers [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        peer, twin = row["peer"], row["twin"]
        ratio = twin["wall_s"] / peer["timeseries_s"]
        bar = ("met" if ratio <= YEAR_BAR else "not met") if row["days"] >= 365 else "n/a"
        lines.append(
            f"| {row['label']} | {peer['steps']:,} | {peer['timeseries_s']:.1f} "
            f"| {twin['wall_s']:.1f} | {ratio:.2f} | {peer['peak_mib']:,.0f} "
            f"| {twin['peak_mib']:,.0f} | {peer['load_s']:.1f} | {bar} "
            f"| {_largest_layers(twin['timings_s'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Command line: measure the periods side by side, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, help="one period of N days from the scenario's start")
    parser.add_argument("--quick", action="store_true", help="one day (a smoke test)")
    parser.add_argument("--year", action="store_true", help="the year alone")
    parser.add_argument(
        "--peer", nargs=3, metavar=("CODE", "START", "STEPS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.peer:
        code, start, n_steps = args.peer
        print(json.dumps(measure_peer(code, start, int(n_steps))))
        return
    rows = []
    for label, overrides in periods(args.days, args.quick, args.year):
        rows.append(measure_period(label, overrides))
        print(peer_table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(peer_table(rows))


if __name__ == "__main__":
    main()
