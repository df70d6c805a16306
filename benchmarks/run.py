"""``make bench``: gridtwin's performance, measured side by side in one run.

Prints markdown tables and writes them, with the machine described, to
``benchmarks/RESULTS.md``:

1. power-flow throughput: the pandapower loop against the fast (power-grid-model) backend on
   the default LV community and on SimBench MV rural (``powerflow_bench``);
2. power flow inside the engine: the grid layer's intervals/s in whole runs on MV rural;
3. the whole engine: a year of the default scenario with every layer that exists, wall time,
   peak memory and each layer's share;
   against the peer a user would otherwise pick: pandapower's timeseries power flow alone on
   the same grid, a week and a year (``peer_bench``);
4. scale: SimBench ``1-MVLV-rural-all-0-sw`` (5,373 loads), a week of the engine alone and a
   year; every layer on the embedded chain: a week of it and of SimBench's largest grid,
   ``1-MVLV-urban-all-0-sw`` (11,542 loads), beside the default year (``scale_bench``);
5. the value of forecasting (``forecast_value``), forecasting at the edge against the central
   pooled model (``edge_bench``), and the value of the P2P market (``market_bench``,
   ``market_value``), and who gains and loses under each market rule (``market_fairness``);
   flexible loads' cost and peak import (``flex_peak_bench``);
6. DePIN: rewards' gas, the grid-side fraud check, and whether the token economy pays for
   itself across emission schedules and protocol fees (``emission_bench``).

Every engine run is its own process (``engine_bench``), so peak memory is its own.
Run: ``.venv/bin/python benchmarks/run.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import depin_bench  # noqa: E402
import devices_bench  # noqa: E402
import dimming_bench  # noqa: E402
import edge_bench  # noqa: E402
import emission_bench  # noqa: E402
import engine_bench  # noqa: E402
import flex_peak_bench  # noqa: E402
import forecast_value  # noqa: E402
import fraud_detection  # noqa: E402
import market_bench  # noqa: E402
import market_fairness  # noqa: E402
import market_value  # noqa: E402
import peer_bench  # noqa: E402
import powerflow_bench  # noqa: E402
import scale_bench  # noqa: E402
import settlement_bench  # noqa: E402
import sweep_bench  # noqa: E402

DEFAULT = "scenarios/default.toml"
MV = "grid.simbench_code=1-MV-rural--0-sw"
MVLV = "grid.simbench_code=1-MVLV-rural-all-0-sw"
YEAR = ["run.days=365", "run.start=2016-01-01T00:00:00Z"]
PP_WEEK = ["run.days=7", "run.start=2016-01-01T00:00:00Z", "grid.solver=pandapower"]
LAYERS = (
    "build",
    "nodes",
    "forecasting",
    "dispatch",
    "market",
    "grid",
    "chain",
    "devices",
    "results",
)
RULE = "forecasting.battery_control=self_consumption"
#: The layers that existed when the performance issue landed: nodes, rule, grid, results.
ENGINE_ONLY = [RULE, "market.enabled=false", "chain.enabled=false"]


def machine() -> str:
    """One paragraph describing this machine and the software measured."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = "unknown memory"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("pandapower", "power-grid-model", "simpy", "numpy", "pyarrow")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {versions}; gridtwin {rev}; "
        f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. The machine is shared: compare "
        "figures within one run."
    )


def _layers(run: dict[str, Any]) -> str:
    t = run["timings_s"]
    total = run["wall_s"]
    return ", ".join(f"{k} {t[k]:.1f} s ({t[k] / total:.0%})" for k in LAYERS if k in t)


def engine_rows(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """Engine runs as a markdown table."""
    lines = [
        "| run | intervals | wall [s] | peak memory [MiB] | grid layer [intervals/s] | layers |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, run in runs:
        grid_s = run["timings_s"]["grid"]
        lines.append(
            f"| {label} | {run['intervals']:,} | {run['wall_s']:.1f} | {run['peak_mib']:,.0f} "
            f"| {run['intervals'] / grid_s:,.0f} | {_layers(run)} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure everything, print the tables, write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short horizons (a smoke test)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    days = 7 if args.quick else 365
    year = [f"run.days={days}", "run.start=2016-01-01T00:00:00Z"]

    print("measuring power-flow throughput ...", flush=True)
    pf_rows = [powerflow_bench.measure(code, days, 200) for code in powerflow_bench.GRIDS]
    pf = powerflow_bench.table(pf_rows)
    print(pf, flush=True)

    sections = []
    runs: list[tuple[str, dict[str, Any]]] = []
    plan = [
        (f"default LV community, {days} d (every layer at its defaults)", DEFAULT, year),
        (
            f"default LV community, {days} d (engine only: rule, no market, no chain)",
            DEFAULT,
            [*year, *ENGINE_ONLY],
        ),
        (f"MV rural, {days} d (fast, engine only)", DEFAULT, [MV, *year, *ENGINE_ONLY]),
        (
            "MV rural, 7 d (pandapower reference, engine only)",
            DEFAULT,
            [MV, *PP_WEEK, *ENGINE_ONLY],
        ),
        (
            "1-MVLV-rural-all-0-sw, 7 d (every layer but the chain and devices)",
            DEFAULT,
            [MVLV, "run.days=7", year[1], "chain.enabled=false"],
        ),
        (
            "1-MVLV-rural-all-0-sw, 7 d (engine only)",
            DEFAULT,
            [MVLV, "run.days=7", year[1], *ENGINE_ONLY],
        ),
    ]
    if not args.quick:
        plan.append(
            (f"1-MVLV-rural-all-0-sw, {days} d (engine only)", DEFAULT, [MVLV, *year, *ENGINE_ONLY])
        )
    for label, scenario, overrides in plan:
        print(f"measuring {label} ...", flush=True)
        runs.append((label, engine_bench.measure_in_subprocess(scenario, overrides)))
    engine = engine_rows(runs)
    scale_rows = [(scale_bench.RUNS[0][0], days, runs[0][1])]  # the year above
    for label, code, scale_days in scale_bench.RUNS[1:]:
        scale_days = 1 if args.quick else scale_days
        print(f"measuring {label}, {scale_days} d, every layer ...", flush=True)
        scale_rows.append((label, scale_days, scale_bench.measure(code, scale_days)))
    scale = scale_bench.scale_table(scale_rows)
    print(scale, flush=True)
    mv_fast = runs[2][1]["intervals"] / runs[2][1]["timings_s"]["grid"]
    mv_pp = runs[3][1]["intervals"] / runs[3][1]["timings_s"]["grid"]
    ratio = (
        f"Power flow on MV rural inside the engine: fast {mv_fast:,.0f} intervals/s, "
        f"pandapower {mv_pp:,.1f} intervals/s (its first interval includes numba's "
        f"compilation): {mv_fast / mv_pp:,.0f}x in this run."
    )
    peer = peer_bench.peer_table(
        [peer_bench.measure_period(*period) for period in peer_bench.periods(None, args.quick)]
    )
    print(peer, flush=True)
    print("measuring the value of forecasting ...", flush=True)
    fv_days = 7 if args.quick else 30
    value = forecast_value.value_table(fv_days, forecast_value.STARTS)
    spread = forecast_value.seed_table(fv_days, forecast_value.STARTS, forecast_value.SEEDS)
    replan = forecast_value.replan_table(fv_days, forecast_value.STARTS[0], [1, 4, 8, 16, 24, 32])
    print("measuring forecasting at the edge ...", flush=True)
    edge = edge_bench.edge_table(3 if args.quick else 14)
    print(edge, flush=True)
    print("measuring the market ...", flush=True)
    clearing = market_bench.market_table()
    market = market_value.value_table(fv_days)
    stressed = market_value.stressed_table(7)
    fairness = market_fairness.fairness_table(fv_days)
    print("measuring flexible loads against the tariff and the peak ...", flush=True)
    flex_peak = flex_peak_bench.flex_table(fv_days)
    print("measuring the grid operator's dimming ...", flush=True)
    dimming = dimming_bench.dimming_table(2)
    print("measuring settlement ...", flush=True)
    settlement = settlement_bench.settlement_table(7)
    print("measuring devices and rewards ...", flush=True)
    depin = depin_bench.depin_table(14)
    signing = devices_bench.devices_table(365)
    print("measuring the grid-side fraud check ...", flush=True)
    fraud = fraud_detection.detection_table(quick=args.quick)
    print("measuring the token economy across emission schedules and fees ...", flush=True)
    emission = emission_bench.emission_table(3)
    print("measuring sweeps on dask ...", flush=True)
    sweeps = sweep_bench.sweep_table()
    sections = [
        "# gridtwin benchmarks",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand.",
        f"Machine: {machine()}",
        "## Power-flow throughput (solver alone)",
        "The pandapower loop (`runpp`, warm start from the previous interval) on the first 200 "
        f"intervals, the fast backend on {days} days of intervals in one batch; both on the "
        "twin's node powers (batteries idle).",
        pf,
        "## The engine",
        "Whole runs of `gridtwin`, each in a fresh process (SimBench's on-disk cache warm); "
        "wall time includes building the twin and writing the run folder. Layers: build (net, "
        "nodes, profiles, solver), nodes (the SimPy node processes and the interval loop), "
        "market (orders, clearing, settlement of trades and imbalances), grid (power flow and "
        "network-aware curtailment), results (checks, KPIs and Parquet), chain (deploy, mint, "
        "journal, Merkle roots, commits on the embedded chain, saving it).",
        engine,
        ratio,
        "Against the peer a user would otherwise pick (`benchmarks/peer_bench.py`): "
        + " ".join((peer_bench.__doc__ or "").split("\n\n")[1].split()),
        peer,
        "## Scale",
        " ".join((scale_bench.__doc__ or "").split("\n\n")[0:2]).replace("\n", " "),
        scale,
        "## The value of forecasting",
        forecast_value.__doc__.split("\n\n")[1].replace("\n", " "),
        value,
        "Captured share of the ML dispatch by run seed: "
        + " ".join((forecast_value.seed_table.__doc__ or "").split("\n\n")[1].split()),
        spread,
        f"Re-plan period of the ML dispatch ({forecast_value.STARTS[0][:10]} + {fv_days} d): "
        "cost against wall time.",
        replan,
        "## Forecasting at the edge",
        " ".join((edge_bench.__doc__ or "").split("\n\n")[1].split()),
        edge,
        "## The P2P market",
        "Clearing alone (`benchmarks/market_bench.py`): one interval's double auction, "
        "zero-intelligence limits, median over many calls.",
        clearing,
        "What the market is worth (`benchmarks/market_value.py`): the same community, seed "
        "and dispatch with and without the market; the baseline is the utility-only bill of "
        "the same metered energy.",
        market,
        "Network-aware clearing on the stressed feeder.",
        stressed,
        "Who gains and who loses, by market rule and season (`benchmarks/market_fairness.py`): "
        "the ex-ante auction against the rules that settle on metered energy (`market.rule`).",
        fairness,
        "## Flexible loads: cost and peak import",
        " ".join(" ".join((flex_peak_bench.__doc__ or "").split("\n\n")[1:3]).split()),
        flex_peak,
        "## Flexible loads: the grid operator's dimming",
        " ".join((dimming_bench.__doc__ or "").split("\n\n")[1].split()),
        dimming,
        "## On-chain settlement",
        "Embedded chain (eth-tester + py-evm); `benchmarks/settlement_bench.py`.",
        settlement,
        "## DePIN devices and rewards",
        "`benchmarks/depin_bench.py`: gas per rewarded device per epoch by payout mode and "
        "epoch length, and the fraud scenario.",
        depin,
        "Signing and verifying readings alone (`benchmarks/devices_bench.py`):",
        signing,
        "Physics as the fraud check (`benchmarks/fraud_detection.py`): "
        + " ".join((fraud_detection.__doc__ or "").split("\n\n")[1].split())
        + " Plot: `benchmarks/fraud_detection.html`.",
        fraud,
        "Emission and sustainability (`benchmarks/emission_bench.py`, plot "
        "`benchmarks/emission.html`): "
        + " ".join((emission_bench.__doc__ or "").split("\n\n")[1].split()),
        emission,
        "## Sweeps on dask",
        sweeps,
    ]
    text = "\n\n".join(sections) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print()
    print(engine)
    print(ratio)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
