"""Process faults: the twin killed (SIGKILL) mid-run and resumed with ``gridtwin run --resume``.

The run is a child process killed by the ``GRIDTWIN_KILL_AT`` hook (:mod:`twin.partial`) at a
chunk boundary, then resumed from its partial folder (journal and chunks); every table of
the resumed run is compared with an uninterrupted run's, byte for byte (the Parquet files).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from twin.engine import run_scenario
from twin.faults.base import DAY, DEFAULT_SCENARIO, Fault, Outcome, lost_in, scenario
from twin.partial import KILL_ENV, partial_of
from twin.results import open_run
from twin.resume import resumable

ROOT = DEFAULT_SCENARIO.parents[1]

#: Where the child is killed: after its 2nd chunk of node power (of 6), and in its final step.
KILL_POINTS = ("node_power:2", "nodes:1")


def _bytes(folder: Path, table: str) -> bytes | None:
    path = folder / f"{table}.parquet"
    return path.read_bytes() if path.is_file() else None


def _killed_and_resumed(folder: Path, kill_at: str) -> tuple[Path, bool]:
    out = folder / kill_at.replace(":", "-") / "run"
    args = [sys.executable, "-m", "twin.cli", "run", str(DEFAULT_SCENARIO), "--quiet"]
    args += [a for d in DAY for a in ("--set", d)] + ["--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), **{KILL_ENV: kill_at})
    child = subprocess.run(args, env=env, capture_output=True, timeout=600, check=False)
    killed = child.returncode == -signal.SIGKILL
    if not killed:
        raise RuntimeError(f"the child was not killed at {kill_at}: {child.stderr.decode()[-500:]}")
    found = resumable(out)
    run_scenario(found.scenario, found.out, None, found.scenario_file, resume=found.path)
    return out, not partial_of(out)


def killed_and_resumed(folder: Path, quick: bool) -> Outcome:
    """Killed at one point (``quick``) or two, each resumed and compared."""
    reference = folder / "uninterrupted"
    run_scenario(scenario(), reference)
    ref = open_run(reference)
    points = KILL_POINTS[:1] if quick else KILL_POINTS
    lost, differ, notes = 0, 0, []
    for point in points:
        out, cleaned = _killed_and_resumed(folder, point)
        run, count, reasons = lost_in(out)
        names = set(ref.manifest["tables"]) | set(run.manifest["tables"])
        differing = [n for n in sorted(names) if _bytes(out, n) != _bytes(reference, n)]
        lost += count + len(differing)
        differ += len(differing)
        notes.append(
            f"at {point}: {len(names) - len(differing)}/{len(names)} tables byte-identical"
        )
        notes += reasons + [f"differ: {', '.join(differing)}"] * bool(differing)
        notes += ["partial folder left behind"] * (not cleaned)
    observed = f"killed (SIGKILL) and resumed {len(points)}x; " + "; ".join(notes)
    return Outcome(observed, differ == 0, lost)


PROCESS_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "process-killed-resumed",
            "--resume gives the uninterrupted run's tables, byte for byte",
            killed_and_resumed,
        ),
    )
}
