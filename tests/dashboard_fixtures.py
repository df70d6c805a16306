"""Data for the dashboard's tests: results folders made from real short runs.

Every table the dashboard tests read was written by the engine: the session's default day
run (``tests.conftest.day_run``: chain and devices on, every reading accepted, one batch),
one day of ``scenarios/fraud.toml`` (devices under attack: rejected and flagged readings, no
rewards for the attacks, the attackers slashed) and two days of
``scenarios/depin_economy.toml`` (stakes, daily epochs, a data sale and a device sale). So
the tests can only assert values a run can produce: batch states of
``settlement.chain.ledger.STATES``, reading statuses of ``settlement.depin.verdict.STATUSES``,
integer token amounts in base units.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FRAUD = ROOT / "scenarios" / "fraud.toml"
DEPIN_ECONOMY = ROOT / "scenarios" / "depin_economy.toml"
FLEX = ROOT / "scenarios" / "flex.toml"
FLEX_STRESSED = ROOT / "scenarios" / "flex_stressed.toml"
#: The flex runs of the faces' tests: two days, no chain (it changes no flexible load).
FLEX_SHORT = ["run.days=2", "chain.enabled=false"]
#: ``scenarios/depin_economy.toml`` made short and coarse for the faces' tests: 2 days of
#: daily epochs at hourly intervals (one upload a day), batteries on self-consumption (no
#: forecaster to train), its data sale and device sale on day 1.
DEPIN_ECONOMY_SHORT = [
    "run.days=2",
    "run.interval_s=3600",
    "devices.upload_intervals=24",
    "forecasting.battery_control=self_consumption",
    "devices.epoch_days=1",
    "devices.data_sales.start_day=1",
    "devices.data_sales.sale_days=1",
    'devices.transfers=[{node_id = "pv-1", day = 1, price_eur = 1500.0, buyer = "member-0003"}]',
]

#: Files of the settlement layer in a run folder.
SETTLEMENT_FILES = ("batches.parquet", "readings.parquet", "rewards.parquet")
#: Files of the token economy (staking, emission, data and device sales; older runs lack them).
TOKEN_ECONOMY_FILES = (
    "token_economy.parquet",
    "stakes.parquet",
    "data_sales.parquet",
    "data_releases.parquet",
    "device_transfers.parquet",
)
#: Files of the static grid tables (older run folders lack them).
GRID_FILES = ("buses.parquet", "branches.parquet")


def fraud_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One day of ``scenarios/fraud.toml``, run once a session (later calls reuse it)."""
    out = tmp_path_factory.getbasetemp() / "fraud-run" / "fraud"
    if not (out / "manifest.json").is_file():
        run_scenario(load_scenario(FRAUD, ["run.days=1"]), out)
    return open_run(out)


def depin_economy_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """``scenarios/depin_economy.toml`` shortened (:data:`DEPIN_ECONOMY_SHORT`), run once a
    session (later calls reuse it)."""
    out = tmp_path_factory.getbasetemp() / "depin-economy-run" / "depin_economy"
    if not (out / "manifest.json").is_file():
        run_scenario(load_scenario(DEPIN_ECONOMY, DEPIN_ECONOMY_SHORT), out)
    return open_run(out)


def flex_run(tmp_path_factory: pytest.TempPathFactory, name: str = "smart") -> RunFolder:
    """Two days of ``scenarios/flex.toml`` (:data:`FLEX_SHORT`), run once a session: ``smart``
    (smart charging, flexible heat pumps), ``uncontrolled`` (uncontrolled, fixed) or
    ``stressed`` (``scenarios/flex_stressed.toml``: §14a dimming on)."""
    scenario, overrides = {
        "smart": (FLEX, []),
        "uncontrolled": (FLEX, ["flex.ev.mode=uncontrolled", "flex.heat_pump.mode=fixed"]),
        "stressed": (FLEX_STRESSED, []),
    }[name]
    out = tmp_path_factory.getbasetemp() / "flex-runs" / name
    if not (out / "manifest.json").is_file():
        run_scenario(load_scenario(scenario, [*FLEX_SHORT, *overrides]), out)
    return open_run(out)


def copy_run(run: RunFolder, dest: Path, *, grid_tables: bool = True) -> RunFolder:
    """A copy of ``run`` at ``dest``, with (or without) its static grid tables."""
    shutil.copytree(run.path, dest)
    if not grid_tables:
        for name in GRID_FILES:
            (dest / name).unlink(missing_ok=True)
    return open_run(dest)


def results_folder(day: RunFolder, fraud: RunFolder, root: Path) -> Path:
    """A results folder of three runs.

    ``day``: the default day run; ``fraud``: the fraud day run; ``plain``: the day run as a
    run folder written before on-chain settlement, the token economy and the static grid
    tables (no batches, readings, rewards, token_economy, stakes, data sales, device
    transfers, buses or branches table).

    Returns
    -------
    Path
        ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    copy_run(day, root / "day")
    copy_run(fraud, root / "fraud")
    plain = copy_run(day, root / "plain", grid_tables=False)
    for name in SETTLEMENT_FILES:
        (plain.path / name).unlink()
    for name in TOKEN_ECONOMY_FILES:
        (plain.path / name).unlink(missing_ok=True)
    return root
