"""Staking, slashing and the token economy in a run: known economic truths, against the chain.

The fraud scenario at seed 4 over two one-day epochs, with a halving emission and one
generator left unstaked; and an attack-free day with staking. Truths: the token supply is
genesis + emitted - burned at every epoch's end; every stake is on chain as in the table;
every device that lies about its own energy is slashed once and the slash lands where
configured: the gross inflater (its own signed readings above its nameplate) and the modest
one the grid-side check localizes (``slash_on`` includes ``state_estimation``); no honest
device is slashed, nor the victims of replayed, forged and wrong-chain uploads (anyone can
send those: they are rejected and slash no one); an unstaked device earns nothing; verify
names a tampered stake or slash row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from settlement.depin.client import DepinContracts
from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import open_chain, verify_run

FRAUD = ROOT / "scenarios" / "fraud.toml"
DEFAULT = ROOT / "scenarios" / "default.toml"


@pytest.fixture(scope="module")
def staked_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("staking") / "fraud"
    overrides = [
        "run.seed=4",
        "run.days=2",
        "devices.epoch_days=1",
        'devices.emission.schedule="halving"',
        "devices.emission.halving_epochs=1",
        'devices.staking.unstaked=["pv-0"]',
    ]
    run_scenario(load_scenario(FRAUD, overrides), out)
    return open_run(out)


def test_every_self_lying_device_is_slashed_once_and_it_lands_where_configured(
    staked_run: RunFolder,
) -> None:
    stakes = staked_run.table("stakes")
    slashes = stakes[stakes["kind"] == "slash"]
    # the two devices lying about their own energy, once each over two days; nobody else
    assert sorted(slashes["node_id"]) == ["pv-12", "pv-5"]
    # pv-5's 30 % breaks no hard bound: the grid-side check localizes it (its home's meter)
    reason = slashes.set_index("node_id")["reason"]
    assert reason["pv-5"] == "state_estimation"
    assert reason["pv-12"] in ("nameplate", "state_estimation")  # the first period's proof
    for _, slash in slashes.iterrows():
        staked = stakes[(stakes["kind"] == "stake") & (stakes["node_id"] == slash["node_id"])]
        held = int(staked["amount_units"].sum())
        assert slash["amount_units"] == held // 2  # slash_share 0.5
        assert slash["to_reporter_units"] == slash["amount_units"] // 10  # reporter_share 0.1
        assert slash["to_treasury_units"] == slash["amount_units"] - slash["to_reporter_units"]
        assert slash["burned_units"] == 0
        assert slash["active_after_units"] == held - slash["amount_units"]
    # replayed, forged and wrong-chain uploads are not their device's own lie: no slash
    lying = {a.node_id for a in load_scenario(FRAUD).devices.attacks if a.kind == "inflate"}
    assert set(slashes["node_id"]) == lying
    # on chain: the treasury holds the slashed tokens, the stake is what the table says
    chain = open_chain(staked_run)
    addresses = staked_run.manifest["chain"]["addresses"]
    depin = DepinContracts(chain, addresses=addresses)
    assert depin.reward_balance(addresses["Treasury"]) == slashes["to_treasury_units"].sum()
    assert depin.reward_balance(chain.operator) == slashes["to_reporter_units"].sum()


def test_unstaked_and_slashed_devices_earn_nothing(staked_run: RunFolder) -> None:
    rewards = staked_run.table("rewards")
    assert "pv-0" not in set(rewards["node_id"])  # unstaked
    assert "pv-12" not in set(rewards["node_id"])  # slashed below its minimum, and lying
    assert "pv-5" not in set(rewards["node_id"])  # slashed, and its readings flagged
    stakes = staked_run.table("stakes")
    assert "pv-0" not in set(stakes["node_id"])
    assert len(rewards) > 0
    assert (rewards["amount"] > 0).all()


def test_supply_is_genesis_plus_emitted_minus_burned_each_epoch(staked_run: RunFolder) -> None:
    economy = staked_run.table("token_economy")
    assert economy["epoch"].tolist() == [0, 1]
    pool_0 = 1_000 * 10**6
    assert economy["pool_units"].tolist() == [pool_0, pool_0 // 2]  # halving every epoch
    assert (economy["emitted_units"] == economy["pool_units"]).all()
    change = economy["genesis_units"] + economy["emitted_units"] - economy["burned_units"]
    assert economy["supply_units"].tolist() == change.cumsum().tolist()
    assert (economy["circulating_units"] == economy["supply_units"] - economy["staked_units"]).all()
    stakes = staked_run.table("stakes")
    assert (
        economy["genesis_units"].sum()
        == stakes.loc[stakes["kind"] == "genesis", "amount_units"].sum()
    )
    # stakes conserved: what was staked, less what was slashed, is what is staked now
    staked = stakes.loc[stakes["kind"] == "stake", "amount_units"].sum()
    slashed = stakes.loc[stakes["kind"] == "slash", "amount_units"].sum()
    assert economy["staked_units"].iloc[-1] == staked - slashed
    fees = staked_run.table("treasury")["amount_micro_eur"].sum()
    assert economy["protocol_revenue_micro_eur"].sum() == fees
    kpis = staked_run.kpis()
    assert kpis["break_even_eur_per_token"] == pytest.approx(
        fees / 1e6 / (economy["emitted_units"].sum() / 1e6)
    )
    chain = open_chain(staked_run)
    depin = DepinContracts(chain, addresses=staked_run.manifest["chain"]["addresses"])
    assert depin.reward_supply() == economy["supply_units"].iloc[-1]


def test_verify_passes_and_names_a_tampered_stake_or_slash(
    staked_run: RunFolder, tmp_path: Path
) -> None:
    checks = verify_run(staked_run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = " ".join(c.name for c in checks)
    assert "RewardToken supply = genesis + rewards - burned" in names
    assert "slash of device" in names
    for column, row_kind in (("amount_units", "stake"), ("to_treasury_units", "slash")):
        copy = tmp_path / f"tampered-{row_kind}"
        shutil.copytree(staked_run.path, copy)
        stakes = pd.read_parquet(copy / "stakes.parquet")
        row = stakes.index[stakes["kind"] == row_kind][0]
        stakes.loc[row, column] += 1
        stakes.to_parquet(copy / "stakes.parquet")
        failed = [c.name for c in verify_run(copy) if not c.ok]
        assert failed, row_kind
        if row_kind == "slash":
            assert any(f"stakes row {row}" in name for name in failed), failed
        else:
            assert any("every device's stake" in name for name in failed), failed


def test_an_attack_free_run_stakes_everyone_and_slashes_no_one(tmp_path: Path) -> None:
    sc = load_scenario(DEFAULT, ["run.days=1", "devices.staking.enabled=true"])
    run_scenario(sc, tmp_path / "run")
    run = open_run(tmp_path / "run")
    stakes = run.table("stakes")
    nodes = run.table("nodes")
    generators = nodes[nodes["kind"].isin(["solar", "wind", "battery"])]
    assert set(stakes.loc[stakes["kind"] == "stake", "node_id"]) == set(generators["node_id"])
    assert not (stakes["kind"] == "slash").any()
    assert run.kpis()["slashed_devices"] == 0
    assert all(c.ok for c in verify_run(run.path))


def test_staking_config_is_validated() -> None:
    with pytest.raises(ScenarioError, match="genesis_tokens_per_kw"):
        load_scenario(
            DEFAULT,
            [
                "devices.staking.min_stake_tokens_per_kw=10.0",
                "devices.staking.genesis_tokens_per_kw=5.0",
            ],
        )
    with pytest.raises(ScenarioError, match="slash_to"):
        load_scenario(
            DEFAULT,
            [
                "devices.staking.enabled=true",
                'devices.staking.slash_to="treasury"',
                "economy.enabled=false",
            ],
        )
    with pytest.raises(ScenarioError, match="slash_on"):
        load_scenario(DEFAULT, ['devices.staking.slash_on=["peer"]'])
