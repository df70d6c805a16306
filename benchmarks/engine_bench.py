"""Whole-engine benchmark: one run of a scenario in a fresh process, wall time and peak memory.

Each measurement runs in its own Python process, so its peak resident memory is its own and
no cache warmed by another measurement flatters it (SimBench's on-disk cache is warmed once
before, as after a user's first run).

Run: ``.venv/bin/python benchmarks/engine_bench.py SCENARIO [--set KEY=VALUE ...]``
prints one JSON line: wall time, per-layer times, peak memory, intervals.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def peak_rss_mib() -> float:
    """This process's peak resident memory [MiB].

    Read from ``/proc/self/status`` (VmHWM): ``getrusage``'s ``ru_maxrss`` survives
    ``execve`` and would report the parent's peak for a fresh child.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(scenario: str, overrides: list[str]) -> dict[str, Any]:
    """Run ``scenario`` with ``overrides`` in this process; return its figures."""
    from twin.engine import run_scenario
    from twin.scenario import load_scenario

    sc = load_scenario(scenario, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_scenario(sc, Path(tmp) / "run")
        wall = time.perf_counter() - t0
        manifest = json.loads((Path(tmp) / "run" / "manifest.json").read_text())
    peak_mib = peak_rss_mib()
    from workers.pipe import PEAKS_MIB

    return {
        "scenario": scenario,
        "overrides": overrides,
        "intervals": sc.run.n_intervals,
        "wall_s": wall,
        "timings_s": result.timings_s,
        "peak_mib": peak_mib,
        "workers_peak_mib": PEAKS_MIB,
        "nodes": manifest.get("nodes", {}),
        "kpis": {k: v for k, (v, _) in result.kpis.items()},
    }


def measure_in_subprocess(
    scenario: str, overrides: list[str], timeout_s: float = 3600
) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter."""
    cmd = [sys.executable, str(HERE / "engine_bench.py"), scenario]
    for item in overrides:
        cmd += ["--set", item]
    return json_from_subprocess(cmd, timeout_s)


def json_from_subprocess(cmd: list[str], timeout_s: float = 3600) -> dict[str, Any]:
    """Run ``cmd`` (a measurement in a fresh interpreter) from the repository's root; return
    the JSON object on the last line it prints."""
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout_s, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Command line: measure one scenario, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    print(json.dumps(measure(args.scenario, args.overrides)))


if __name__ == "__main__":
    main()
