"""What a run folder's manifest records to reproduce the run."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from twin.scenario import Scenario

_PACKAGES = (
    "gridtwin",
    "pandapower",
    "simbench",
    "simpy",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
)


def versions() -> dict[str, str]:
    """Python and the versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str | None:
    """The source tree's git commit (with ``-dirty`` if changed), or None outside git."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def manifest_base(scenario: Scenario, scenario_file: str | None) -> dict[str, Any]:
    """The reproducibility part of a manifest (no wall-clock values)."""
    return {
        "scenario": scenario.name,
        "scenario_file": scenario_file,
        "config": scenario.model_dump(mode="json"),
        "seed": scenario.run.seed,
        "days": scenario.run.days,
        "interval_s": scenario.run.interval_s,
        "start": scenario.run.start.isoformat(),
        "versions": versions(),
        "git_revision": git_revision(),
        "chain": None,
    }
