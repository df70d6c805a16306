"""Shared fixtures: short runs of the default scenario, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"


def scenario(*overrides: str) -> Scenario:
    """The default scenario with overrides."""
    return load_scenario(DEFAULT, list(overrides))


@pytest.fixture(scope="session")
def day_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One day of the default scenario, with a scheduled outage of the wind turbine."""
    out = tmp_path_factory.mktemp("runs") / "day"
    sc = scenario(
        "run.days=1",
        'nodes.outages=[{node_id = "wind-0", start_h = 6.0, duration_h = 2.0}]',
    )
    run_scenario(sc, out)
    return open_run(out)
