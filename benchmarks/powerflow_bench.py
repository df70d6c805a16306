"""Power-flow throughput: the pandapower loop against the power-grid-model batch solver.

Builds the twin of the default scenario on each grid, draws the nodes' powers of a whole
profile year (consumers and generators from their profiles, batteries idle), then measures
side by side in one run

* :class:`grid.powerflow.PandapowerSolver` (``runpp`` interval by interval) on the first
  ``--pp-intervals`` intervals, and
* :class:`grid.fastflow.FastSolver` (one power-grid-model batch) on all intervals, on all
  cores and sequentially (best of two runs each),

and prints a markdown table of intervals per second and the speed-up, plus the largest
deviation between the two solvers on the intervals both solved.

Run: ``.venv/bin/python benchmarks/powerflow_bench.py [--days 365] [--pp-intervals 200]``
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grid.fastflow import FastSolver
from grid.powerflow import PandapowerSolver, PowerFlowBatch
from twin.build import build, profile_powers
from twin.scenario import load_scenario

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"
GRIDS = ("1-LV-semiurb4--0-sw", "1-MV-rural--0-sw")


@dataclass
class Row:
    """One grid's measurements; rates in [intervals/s], times in [s]."""

    grid: str
    buses: int
    nodes: int
    n_pp: int
    rate_pp: float
    n_fast: int
    build_fast_s: float
    rate_fast: float
    rate_fast_seq: float
    converged_fast: int
    dev_vm_pu: float
    dev_loading: float
    dev_import_mw: float


def _timed_solve(
    solver: FastSolver | PandapowerSolver, p: np.ndarray, q: np.ndarray, repeat: int = 1
) -> tuple[PowerFlowBatch, float]:
    """The solver's results and its best wall time of ``repeat`` runs [s]."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = solver.solve(p, q)
        best = min(best, time.perf_counter() - start)
    return out, best


def _max_dev(a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(a - b)
    return float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")


def measure(code: str, days: int, n_pp: int) -> Row:
    """Measure both solvers on SimBench grid ``code`` over ``days`` of 15-min intervals."""
    tw = build(
        load_scenario(
            DEFAULT,
            [f"grid.simbench_code={code}", f"run.days={days}", "run.start=2016-01-01T00:00:00Z"],
        )
    )
    n_t = len(tw.times)
    p, q = profile_powers(tw, n_t)
    FastSolver(tw.net, tw.nodes).solve(p[:1], q[:1])  # warm-up
    start = time.perf_counter()
    fast = FastSolver(tw.net, tw.nodes)
    build_s = time.perf_counter() - start
    fast_out, fast_s = _timed_solve(fast, p, q, repeat=2)
    seq = FastSolver(tw.net, tw.nodes, threading=-1)
    _, seq_s = _timed_solve(seq, p, q, repeat=2)
    n_pp = min(n_pp, n_t)
    reference = PandapowerSolver(tw.net, tw.nodes)
    reference.solve(p[-1:], q[-1:])  # warm-up: first runpp, numba compilation
    reference._warm = False  # start cold, as a fresh solver
    pp_out, pp_s = _timed_solve(reference, p[:n_pp], q[:n_pp])
    return Row(
        grid=code,
        buses=len(tw.net.bus),
        nodes=len(tw.nodes),
        n_pp=n_pp,
        rate_pp=n_pp / pp_s,
        n_fast=n_t,
        build_fast_s=build_s,
        rate_fast=n_t / fast_s,
        rate_fast_seq=n_t / seq_s,
        converged_fast=int(fast_out.converged.sum()),
        dev_vm_pu=_max_dev(fast_out.vm_pu[:n_pp], pp_out.vm_pu),
        dev_loading=_max_dev(fast_out.loading_percent[:n_pp], pp_out.loading_percent),
        dev_import_mw=_max_dev(fast_out.import_mw[:n_pp], pp_out.import_mw),
    )


def table(rows: list[Row]) -> str:
    """The measurements as a markdown table."""
    lines = [
        "| grid | buses | nodes | pandapower [int/s] (n) | fast, all cores [int/s] (n) "
        "| fast, 1 thread [int/s] | speed-up | fast converged | fast build [s] "
        "| max dev vm [p.u.] / loading [%] / import [MW] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.grid} | {r.buses} | {r.nodes} | {r.rate_pp:,.1f} ({r.n_pp}) "
            f"| {r.rate_fast:,.0f} ({r.n_fast}) | {r.rate_fast_seq:,.0f} "
            f"| {r.rate_fast / r.rate_pp:,.0f}x | {r.converged_fast}/{r.n_fast} "
            f"| {r.build_fast_s:.3f} "
            f"| {r.dev_vm_pu:.1e} / {r.dev_loading:.1e} / {r.dev_import_mw:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, measure every grid, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of intervals for fast")
    parser.add_argument("--pp-intervals", type=int, default=200, help="intervals for pandapower")
    parser.add_argument("--grids", nargs="+", default=list(GRIDS), help="SimBench codes")
    args = parser.parse_args()
    rows = [measure(code, args.days, args.pp_intervals) for code in args.grids]
    print(f"power flow throughput ({os.cpu_count()} CPUs; 15-min intervals)\n")
    print(table(rows))


if __name__ == "__main__":
    main()
