"""``scenarios/depin_economy.toml``, shortened to 3 days of daily epochs: the issue's bars.

The token economy's emission is the token supply's change (per epoch, and on chain by
``gridtwin verify``); the data buyer's payments are the devices' payouts plus the treasury's
cut, to the micro-euro; no released aggregate covers fewer than k households; the subtle
inflater's readings are flagged and earn nothing, and no honest device is slashed; the device
sale pays its royalty into the treasury; and ``gridtwin verify`` passes on the whole run, and
fails on a tampered slash, naming its row and the columns its event contradicts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import Scenario, load_scenario
from twin.verify import verify_run

DEPIN_ECONOMY = ROOT / "scenarios" / "depin_economy.toml"


def depin_economy_scenario(days: int = 3) -> Scenario:
    """The scenario shortened to ``days`` daily epochs, its sale and data purchase on day 1."""
    return load_scenario(
        DEPIN_ECONOMY,
        [
            f"run.days={days}",
            "devices.epoch_days=1",
            "devices.data_sales.start_day=1",
            "devices.data_sales.sale_days=1",
            'devices.transfers=[{node_id = "pv-1", day = 1, price_eur = 1500.0, '
            'buyer = "member-0003"}]',
        ],
    )


@pytest.fixture(scope="module")
def depin_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("runs") / "depin_economy"
    run_scenario(depin_economy_scenario(), out)
    return open_run(out)


def test_the_full_scenario_is_what_the_issue_asks() -> None:
    sc = load_scenario(DEPIN_ECONOMY)
    assert sc.run.days == 90
    assert sc.devices.emission.schedule in ("halving", "decay")
    assert sc.devices.staking.enabled
    assert sc.devices.physics_check.enabled
    assert sc.devices.data_sales.enabled
    assert sc.devices.data_sales.k >= 5
    subtle = [a for a in sc.devices.attacks if a.kind == "inflate"]
    assert subtle
    assert all(a.inflate_factor is not None and a.inflate_factor <= 1.2 for a in subtle)


@pytest.mark.slow
def test_emission_is_the_supply_change_and_decays(depin_run: RunFolder) -> None:
    economy = depin_run.table("token_economy").sort_values("epoch")
    assert len(economy) == 3
    pools = economy["pool_units"].tolist()
    assert pools == [10**9, 95 * 10**7, 9025 * 10**5]  # 1,000 tokens, 5 % less every epoch
    supply_before = economy["supply_units"].shift(1, fill_value=0)
    change = economy["supply_units"] - supply_before
    minted = economy["genesis_units"] + economy["emitted_units"] - economy["burned_units"]
    assert (change == minted).all()
    rewards = depin_run.table("rewards")
    assert int(rewards["amount"].sum()) == int(economy["emitted_units"].sum())


@pytest.mark.slow
def test_data_payments_are_payouts_plus_the_treasury_cut_exactly(depin_run: RunFolder) -> None:
    sales = depin_run.table("data_sales")
    assert not sales.empty
    for sale, rows in sales.groupby("sale"):
        payment = int(rows["payment_micro_eur"].iloc[0])
        assert int(rows["amount_micro_eur"].sum()) == payment, sale
        assert (rows["payment_micro_eur"] == payment).all()
    treasury = depin_run.table("treasury")
    cut = sales.loc[sales["kind"] == "treasury", "amount_micro_eur"].sum()
    assert int(treasury.loc[treasury["kind"] == "data_sale", "amount_micro_eur"].sum()) == cut
    releases = depin_run.table("data_releases")
    assert int(releases["households"].min()) >= 5


@pytest.mark.slow
def test_the_subtle_inflater_earns_nothing_and_no_honest_device_is_slashed(
    depin_run: RunFolder,
) -> None:
    readings = depin_run.table("readings")
    status = readings["status"].astype(str)
    attack = readings["attack"].astype(str) != "none"
    assert set(readings.loc[attack, "node_id"]) == {"wind-0"}
    first_day = readings["time"].dt.floor("D") == readings["time"].min().floor("D")
    assert (status[attack & ~first_day] != "accepted").all()  # flagged within a day
    assert (status[attack] != "accepted").mean() >= 2 / 3
    honest = readings[~attack]
    device_day = [honest["node_id"].astype(str), honest["time"].dt.floor("D")]
    flagged = (honest["status"].astype(str) != "accepted").groupby(device_day).any()
    assert flagged.sum() <= 0.01 * len(flagged)  # at most 1 % of honest device-days flagged
    rewards = depin_run.table("rewards")
    wind = rewards[rewards["node_id"] == "wind-0"]
    accepted_wh = readings.loc[attack & (status == "accepted"), "energy_wh"].clip(lower=0).sum()
    assert int(wind["energy_wh"].sum()) <= int(accepted_wh)  # flagged readings earn nothing
    stakes = depin_run.table("stakes")
    slashes = stakes.loc[stakes["kind"] == "slash"]
    assert slashes["node_id"].tolist() == ["wind-0"]  # the liar, once; no honest device
    assert slashes["reason"].tolist() == ["state_estimation"]


@pytest.mark.slow
def test_the_sale_pays_its_royalty_into_the_treasury_and_verify_passes(
    depin_run: RunFolder, tmp_path: Path
) -> None:
    sale = depin_run.table("device_transfers")
    assert len(sale) == 1
    assert int(sale["royalty_micro_eur"].iloc[0]) == 75_000_000
    treasury = depin_run.table("treasury")
    assert int(treasury.loc[treasury["kind"] == "device_royalty", "amount_micro_eur"].sum()) == (
        75_000_000
    )
    checks = verify_run(depin_run.path)
    failed = [c for c in checks if not c.ok]
    assert not failed, failed
    names = " ".join(c.name for c in checks).replace("_", " ")
    for word in ("token economy", "data sales", "device transfers", "stake"):
        assert word in names, word


@pytest.mark.slow
def test_verify_names_a_tampered_slash_row_and_columns(
    depin_run: RunFolder, tmp_path: Path
) -> None:
    """One base unit of wind-0's slash moved from the treasury to the burn (the slash's total
    unchanged): the Slashed event contradicts the row."""
    copy = tmp_path / "run"
    shutil.copytree(depin_run.path, copy)
    stakes = pd.read_parquet(copy / "stakes.parquet")
    row = int(np.flatnonzero(stakes["kind"] == "slash")[0])
    moved = (np.arange(len(stakes)) == row).astype(np.int64)
    stakes["to_treasury_units"] -= moved
    stakes["burned_units"] += moved
    stakes.to_parquet(copy / "stakes.parquet", index=False)
    failed = [f"{c.name}: {c.detail}" for c in verify_run(copy) if not c.ok]
    assert any(f"stakes row {row}" in t and "to_treasury_units" in t for t in failed), failed
