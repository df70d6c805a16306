"""DePIN devices in a run: honest devices paid, every attack refused, the chain agrees."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import verify_run

FRAUD = ROOT / "scenarios" / "fraud.toml"


@pytest.fixture(scope="module")
def fraud_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("fraud") / "run"
    run_scenario(load_scenario(FRAUD), out)
    return open_run(out)


def test_every_attack_reading_is_refused_and_earns_nothing(fraud_run: RunFolder) -> None:
    readings = fraud_run.table("readings")
    kpis = fraud_run.kpis()
    attack = readings[readings["attack"].astype(str) != "none"]
    expected = {
        "inflate": {"flagged_implausible"},
        "forge": {"rejected_tampered"},
        "wrong_chain": {"rejected_wrong_chain"},
        "replay": {"rejected_replayed"},
    }
    seen = attack.groupby(attack["attack"].astype(str))["status"].agg(lambda s: set(s.astype(str)))
    assert seen.to_dict() == expected
    assert kpis["attack_readings"] == len(attack) > 0
    assert kpis["attack_readings_rewarded"] == 0
    rewards = fraud_run.table("rewards").set_index("node_id")["amount"]
    assert "pv-5" not in rewards.index  # the inflating device earns nothing
    assert "pv-40" not in rewards.index  # revoked
    revoked = readings[readings["node_id"].astype(str) == "pv-40"]
    assert set(revoked["status"].astype(str)) == {"rejected_unregistered"}
    assert kpis["readings_revoked"] == len(revoked)


def test_every_device_lying_about_its_own_energy_is_slashed_once(fraud_run: RunFolder) -> None:
    """pv-12 (4x, above its nameplate) and pv-5 (30 %, a lie only its home's meter and the
    grid see) are slashed once each, within the day; the devices whose uploads someone
    replayed, forged or signed for another chain are honest victims: rejected, not slashed."""
    stakes = fraud_run.table("stakes")
    slashes = stakes[stakes["kind"] == "slash"]
    assert sorted(slashes["node_id"]) == ["pv-12", "pv-5"]
    assert slashes.set_index("node_id").loc["pv-5", "reason"] == "state_estimation"
    nodes = fraud_run.table("nodes").set_index("node_id")["attack"].astype(str)
    victims = set(nodes.index[nodes.isin(["replay", "forge", "wrong_chain"])])
    assert victims == {"pv-17", "pv-19", "pv-24", "bat-28"}
    assert not victims & set(slashes["node_id"])
    assert fraud_run.kpis()["slashed_devices"] == 2
    checks = fraud_run.table("physics_checks")
    blamed = set(checks["flagged_node"].astype(str)) - {""}
    assert blamed == {"pv-5", "pv-12"}  # the grid-side check blames no honest device


def test_honest_devices_are_paid_and_the_counts_add_up(fraud_run: RunFolder) -> None:
    nodes = fraud_run.table("nodes")
    rewards = fraud_run.table("rewards")
    readings = fraud_run.table("readings")
    honest = nodes[
        nodes["kind"].isin(["solar", "wind", "battery"])
        & (nodes["attack"] != "inflate")
        & (nodes["node_id"] != "pv-40")
    ]
    # storage earns for the energy it adds over the epoch, net of what it took in
    ok_readings = readings[readings["status"].astype(str) == "accepted"]
    net = ok_readings.groupby("node_id", observed=True)["energy_wh"].sum()
    battery = honest["kind"] == "battery"
    adds = honest["node_id"].map(net).fillna(0) > 0
    assert set(honest.loc[~battery | adds, "node_id"]) <= set(rewards["node_id"])
    assert not set(honest.loc[battery & ~adds, "node_id"]) & set(rewards["node_id"])
    assert (rewards["amount"] > 0).all()
    kpis = fraud_run.kpis()
    counted = sum(
        kpis[f"readings_{s}"]
        for s in (
            "accepted",
            "rejected_tampered",
            "rejected_replayed",
            "rejected_wrong_chain",
            "rejected_unregistered",
            "flagged_implausible",
        )
    )
    assert counted == len(readings)
    assert rewards["amount"].sum() <= kpis["rewards_tokens"] * 10**6 + 1
    # one reading per device and interval was accepted, never two
    ok = readings[readings["status"].astype(str) == "accepted"]
    assert not ok.duplicated(["device_id", "time"]).any()


def test_fraud_run_passes_verify(fraud_run: RunFolder) -> None:
    checks = verify_run(fraud_run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = " ".join(c.name for c in checks)
    assert "RewardToken supply = genesis + rewards - burned" in names
    assert "readings root" in names


def test_no_honest_reading_is_flagged_in_the_day_run(day_run: RunFolder) -> None:
    readings = day_run.table("readings")
    assert set(readings["status"].astype(str)) == {"accepted"}
    assert day_run.kpis()["attack_readings"] == 0
    nodes = day_run.table("nodes")
    assert nodes["device_address"].str.startswith("0x").all()


def test_verify_catches_a_tampered_reading(fraud_run: RunFolder, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(fraud_run.path, copy)
    readings = pd.read_parquet(copy / "readings.parquet")
    first = readings.index[(readings["status"].astype(str) == "accepted").to_numpy()][10]
    readings.loc[first, "energy_wh"] += 500
    readings.to_parquet(copy / "readings.parquet")
    failed = [c.name for c in verify_run(copy) if not c.ok]
    assert any("readings root" in name for name in failed)


def test_every_attack_is_in_place_under_another_seed(tmp_path: Path) -> None:
    # fraud.toml pins its placement: the nodes it attacks and revokes exist under any seed
    sc = load_scenario(FRAUD, ["run.seed=4", "forecasting.battery_control=self_consumption"])
    run_scenario(sc, tmp_path / "run")
    run = open_run(tmp_path / "run")
    readings = run.table("readings")
    attack = readings[readings["attack"].astype(str) != "none"]
    by_node = attack.groupby(attack["node_id"].astype(str))["attack"].first().astype(str)
    assert by_node.to_dict() == {a.node_id: a.kind for a in sc.devices.attacks}
    revoked = readings[readings["node_id"].astype(str) == "pv-40"]
    assert set(revoked["status"].astype(str)) == {"rejected_unregistered"}
    assert run.kpis()["attack_readings_rewarded"] == 0


def test_an_attack_on_a_missing_node_names_the_file_the_key_and_the_pins(tmp_path: Path) -> None:
    sc = load_scenario(
        FRAUD,
        [
            "forecasting.battery_control=idle",
            'devices.revoked=["pv-40", "pv-4"]',
        ],
    )
    with pytest.raises(ScenarioError) as err:
        run_scenario(sc, tmp_path / "run", scenario_file=str(FRAUD))
    text = str(err.value)
    assert text.startswith(f"{FRAUD}: devices.revoked[1]: no node 'pv-4' at seed 42")
    assert "nodes.pv_homes, nodes.battery_homes, nodes.wind_buses" in text
    assert not (tmp_path / "run").exists()
