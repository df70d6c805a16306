"""Shared fixtures: short runs of the default and economy scenarios, written once a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
ECONOMY = ROOT / "scenarios" / "economy.toml"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: the same order in every xdist worker), so that the
    workers of ``-n auto`` do not end on one long test while the others idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


def economy_scenario(*overrides: str) -> Scenario:
    """``scenarios/economy.toml`` shortened to 10 days: its proposals on days 3 and 6, each
    voted by a 3-day what-if (the first passes and its battery joins the grid on day 4, the
    second is defeated)."""
    sc = load_scenario(ECONOMY, list(overrides))
    proposals = [
        p.model_copy(update={"day": day, "whatif_days": 3})
        for p, day in zip(sc.economy.proposals, (3.0, 6.0), strict=True)
    ]
    return sc.model_copy(
        update={
            "run": sc.run.model_copy(update={"days": 10}),
            "economy": sc.economy.model_copy(update={"proposals": proposals}),
        }
    )


@pytest.fixture(scope="session")
def economy_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """The shortened economy scenario (:func:`economy_scenario`), run once a session."""
    out = tmp_path_factory.mktemp("runs") / "economy"
    run_scenario(economy_scenario(), out)
    return open_run(out)
