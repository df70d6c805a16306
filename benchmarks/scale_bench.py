"""Scale: the default scenario with every layer at its defaults on SimBench's grids, small to
largest, on the embedded chain: wall time, peak memory and each layer's share.

Each run is its own process (:func:`engine_bench.measure_in_subprocess`), so its peak memory
is its own; homes are the grid's loads (SimBench's households), devices every node (each is a
signing device of the DePIN layer). The runs: the default LV community for a year, then a
week of ``1-MVLV-rural-all-0-sw`` (5,373 loads) and of SimBench's largest grid,
``1-MVLV-urban-all-0-sw`` (11,542 loads); both MVLV weeks take many minutes on one core.
The split run across Dask workers (issue #19) is not built: its column says so.

Run: ``.venv/bin/python benchmarks/scale_bench.py [--quick] [--only LABEL ...]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402

DEFAULT = "scenarios/default.toml"
#: (label, SimBench code or None for the scenario's own, days) of each run.
RUNS = (
    ("default LV community", None, 365),
    ("1-MVLV-rural-all-0-sw", "1-MVLV-rural-all-0-sw", 7),
    ("1-MVLV-urban-all-0-sw", "1-MVLV-urban-all-0-sw", 7),
)
#: Layers in the order their shares are printed.
LAYERS = (
    "build",
    "forecasting",
    "dispatch",
    "market",
    "chain",
    "economy",
    "devices",
    "grid",
    "results",
    "nodes",
)
START = "run.start=2016-01-01T00:00:00Z"


def measure(code: str | None, days: int) -> dict[str, Any]:
    """One run of the default scenario on ``code`` for ``days``, every layer at its defaults."""
    overrides = [f"run.days={days}", START]
    if code is not None:
        overrides.append(f"grid.simbench_code={code}")
    return engine_bench.measure_in_subprocess(DEFAULT, overrides, timeout_s=4 * 3600)


def _shares(run: dict[str, Any]) -> str:
    t, total = run["timings_s"], run["wall_s"]
    ranked = sorted((k for k in LAYERS if k in t), key=lambda k: -t[k])
    return ", ".join(f"{k} {t[k] / total:.0%}" for k in ranked if t[k] / total >= 0.01)


def scale_table(rows: list[tuple[str, int, dict[str, Any]]]) -> str:
    """Markdown: one row per run (label, days, :func:`engine_bench.measure`'s figures)."""
    lines = [
        "| grid | homes | devices | days | wall [s] | peak memory [MiB] | share per layer "
        "| split run on 2 Dask workers |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for label, days, run in rows:
        nodes = run.get("nodes", {})
        homes, devices = nodes.get("consumer", 0), sum(nodes.values())
        lines.append(
            f"| {label} | {homes:,} | {devices:,} | {days} | {run['wall_s']:,.1f} "
            f"| {run['peak_mib']:,.0f} | {_shares(run)} | not built |"
        )
    return "\n".join(lines)


def main() -> None:
    """Measure the runs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one day each (a smoke test)")
    parser.add_argument("--only", action="append", default=[], help="a label of RUNS")
    args = parser.parse_args()
    rows = []
    for label, code, days in RUNS:
        if args.only and label not in args.only:
            continue
        days = 1 if args.quick else days
        print(f"measuring {label}, {days} d ...", flush=True)
        rows.append((label, days, measure(code, days)))
        print(scale_table(rows[-1:]).splitlines()[-1], flush=True)
    print(scale_table(rows))


if __name__ == "__main__":
    main()
