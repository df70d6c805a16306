"""Input faults: a corrupted profile.

The SimBench profile tables are read once and cached as Parquet (:mod:`grid.cache`). The
fault copies the cache, truncates one profile table and overwrites the other with garbage,
then runs a day in a child process on that cache: the corrupt entries must be rebuilt from
SimBench and the run must use the true profiles (every value equal to the intact cache's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from grid.cache import cache_dir
from grid.profiles import TABLES, profile_library
from twin.faults.base import DAY, DEFAULT_SCENARIO, Fault, Outcome, lost_in

ROOT = DEFAULT_SCENARIO.parents[1]


def corrupted_profile(folder: Path, quick: bool) -> Outcome:
    """One profile table truncated, the other garbage; the run must rebuild both."""
    profile_library(0)  # the intact cache exists
    intact = next(cache_dir().glob(f"simbench-*/profiles-{'-'.join(TABLES)}-0"))
    cache = folder / "cache"
    shutil.copytree(cache_dir(), cache)
    corrupt = cache / intact.parent.name / intact.name
    truncated, garbage = (corrupt / f"{t}.parquet" for t in TABLES)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    garbage.write_bytes(os.urandom(4096))
    out = folder / "run"
    args = [sys.executable, "-m", "twin.cli", "run", str(DEFAULT_SCENARIO), "--quiet"]
    args += [a for d in DAY for a in ("--set", d)] + ["--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDTWIN_CACHE=str(cache))
    child = subprocess.run(args, env=env, capture_output=True, timeout=600, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"the run failed: {child.stdout.decode()[-500:]}")
    _, lost, reasons = lost_in(out)
    differing = 0
    for t in TABLES:
        rebuilt = pd.read_parquet(corrupt / f"{t}.parquet")
        true = pd.read_parquet(intact / f"{t}.parquet")
        same = rebuilt.shape == true.shape and rebuilt.equals(true)
        differing += 0 if same else max(true.size, 1)
    observed = (
        f"{len(TABLES)} corrupt profile tables (truncated, garbage) rebuilt from SimBench; "
        f"run completed; rebuilt profiles {'equal' if not differing else 'differ from'} "
        "the intact ones"
    )
    reasons += [f"{differing} profile values differ"] * bool(differing)
    return Outcome(observed + "".join(f"; {r}" for r in reasons), True, lost + differing)


INPUT_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "corrupted-profile",
            "corrupt cached profiles detected and rebuilt; the run uses the true profiles",
            corrupted_profile,
        ),
    )
}
