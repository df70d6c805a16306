"""Sweeps on dask: 16 runs on a LocalCluster of 1 worker against 2 workers, side by side.

A 4 x 4 grid (PV share x battery share) of the default scenario, 7 days with the
self-consumption rule by default, one seed. Each cluster is started, every worker is warmed
up with a 1-day run (imports, SimBench's cache), then the sweep is timed from submission to
its table written. Worker counts alternate over ``repeats`` rounds, so a neighbour's load on
the shared machine hits both sides alike; the speed-up is taken from the best round of each
(the least disturbed), the median beside it, and so is the time one run takes in its
worker: if it grows with the worker count, the workers were short of cores. The KPIs of
every run must be the same whatever the worker count.

Run: ``.venv/bin/python benchmarks/sweep_bench.py [--days 7] [--control self_consumption]``;
``sweep_table()`` returns the Markdown table for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from twin.sweep import Sweep, dask_client, execute, run_sweep, sweep_from_dict, task

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
PV_SHARES = [0.2, 0.4, 0.6, 0.8]
BATTERY_SHARES = [0.0, 0.2, 0.4, 0.6]


def bench_sweep(days: int, control: str, seed: int = 42) -> Sweep:
    """The 16-run sweep: PV share x battery share on the default scenario."""
    return sweep_from_dict(
        {
            "name": "bench",
            "scenarios": [str(DEFAULT)],
            "seeds": [seed],
            "fixed": {"run.days": days, "forecasting.battery_control": control},
            "parameters": {"nodes.pv_share": PV_SHARES, "nodes.battery_share": BATTERY_SHARES},
        },
        source="sweep_bench",
    )


def measure(sweep: Sweep, workers: int, out: Path) -> tuple[float, pd.DataFrame]:
    """Wall time [s] of ``sweep`` on a warm LocalCluster of ``workers``, and its table."""
    warm = bench_sweep(1, "self_consumption", seed=7).runs[0]
    with dask_client(workers=workers) as client:
        addresses = list(client.scheduler_info()["workers"])
        futures = [
            client.submit(execute, *task(warm), str(out / f"warm-{i}"), workers=[a], pure=False)
            for i, a in enumerate(addresses)
        ]
        for outcome in client.gather(futures):
            if outcome.status != "ok":
                raise RuntimeError(f"warm-up run failed: {outcome.error}")
        t0 = time.perf_counter()
        frame = run_sweep(sweep, out / "sweep", client=client)
        wall = time.perf_counter() - t0
    failed = frame[frame["status"] != "ok"]
    if len(failed):
        raise RuntimeError(f"{len(failed)} runs failed: {failed['error'].iloc[0]}")
    return wall, frame


def sweep_table(
    days: int = 7,
    control: str = "self_consumption",
    worker_counts: tuple[int, ...] = (1, 2),
    repeats: int = 3,
) -> str:
    """Wall time of the 16-run sweep by worker count (best and median), as a Markdown table."""
    sweep = bench_sweep(days, control)
    load_before = os.getloadavg()[0]
    walls: dict[int, list[float]] = {n: [] for n in worker_counts}
    frames: dict[int, pd.DataFrame] = {}
    run_s: dict[int, list[float]] = {n: [] for n in worker_counts}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for n in worker_counts:
                wall, frame = measure(sweep, n, Path(tmp) / f"r{r}-w{n}")
                walls[n].append(wall)
                frames.setdefault(n, frame)
                run_s[n].append(float(frame["wall_time_s"].median()))
                print(f"  round {r + 1}: {n} worker(s) {wall:.2f} s", flush=True)
    kpis = ["community_cost_eur", "baseline_cost_eur", "violations", "self_sufficiency"]
    first = frames[worker_counts[0]]
    same = all(frames[n][kpis].equals(first[kpis]) for n in worker_counts)
    base = min(walls[worker_counts[0]])
    load_after = os.getloadavg()[0]
    lines = [
        f"{len(sweep.runs)} runs: default scenario, {days} d, battery control `{control}`, "
        f"PV share {PV_SHARES} x battery share {BATTERY_SHARES}, seed 42. LocalCluster, one "
        f"single-threaded worker process a core ({os.cpu_count()} cores), workers warm; "
        f"{repeats} rounds alternating the worker counts, speed-up of the best round. "
        f"Same KPIs on every worker count: {same}. Load average (1 min) {load_before:.1f} "
        f"before, {load_after:.1f} after: the machine is shared, and a neighbour's load takes "
        "a core from the 2-worker side.",
        "",
        "| workers | wall [s] (best) | wall [s] (median) | rounds [s] | runs/s (best) | speed-up "
        "| one run in its worker [s] (median by round) |",
        "|---:|---:|---:|---|---:|---:|---|",
    ]
    for n in worker_counts:
        best, med = min(walls[n]), statistics.median(walls[n])
        rounds = ", ".join(f"{w:.2f}" for w in walls[n])
        lines.append(
            f"| {n} | {best:.2f} | {med:.2f} | {rounds} | {len(sweep.runs) / best:.2f} "
            f"| {base / best:.2f}x | {', '.join(f'{r:.2f}' for r in run_s[n])} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--control", default="self_consumption")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(sweep_table(args.days, args.control, repeats=args.repeats))


if __name__ == "__main__":
    main()
