"""Placement: the seed's draw is unchanged without pins; pinned homes and buses hold under any
seed, so the nodes a scenario names exist whatever its seed."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grid.network import build_net
from grid.placement import NodeSet, PinError
from tests.conftest import ROOT
from twin.build import build, scenario_nodes, streams
from twin.scenario import Scenario, ScenarioError, load_scenario

FRAUD = ROOT / "scenarios" / "fraud.toml"
STRESSED = ROOT / "scenarios" / "stressed.toml"
DEFAULT = ROOT / "scenarios" / "default.toml"

#: What the seed 42 draws on the default and the stressed community (fraud.toml pins the
#: first, stressed.toml its turbine): homes by pandapower load index, the turbine by bus.
DRAWN_42 = {
    "default": {
        "solar": [0, 1, 2, 3, 5, 12, 17, 18, 19, 24, 28, 31, 32, 34, 39, 40],
        "battery": [1, 3, 12, 18, 24, 28, 39, 40],
        "wind": [20],
    },
    "stressed": {
        "solar": [5, 6, 7, 8, 9, 12, 16, 20, 23, 24, 26, 27, 31, 32, 35, 36, 37, 38, 39, 40],
        "battery": [5, 6, 8, 23],
        "wind": [5],
    },
}


def placed(sc: Scenario) -> NodeSet:
    """The nodes of ``sc`` as its build places them (the network and placement streams)."""
    rng = streams(sc.run.seed)
    net = build_net(simbench_code=sc.grid.simbench_code, rng=rng["network"])
    return scenario_nodes(net, sc.nodes, rng["placement"])


def where(nodes: NodeSet) -> dict[str, list[int]]:
    """Homes (load index) with PV and batteries, the turbines' buses."""
    t = nodes.table
    homes = t["element_index"].to_numpy()[t["host"].to_numpy()]
    return {
        "solar": sorted(homes[t["kind"] == "solar"].tolist()),
        "battery": sorted(homes[t["kind"] == "battery"].tolist()),
        "wind": t.loc[t["kind"] == "wind", "bus"].tolist(),
    }


def test_without_pins_the_seed_draws_what_it_always_drew() -> None:
    # the placement stream is consumed exactly as before pins existed
    unpinned = ["nodes.pv_homes=[]", "nodes.battery_homes=[]", "nodes.wind_buses=[]"]
    assert where(placed(load_scenario(DEFAULT))) == DRAWN_42["default"]
    assert where(placed(load_scenario(STRESSED, unpinned))) == DRAWN_42["stressed"]


def drawn_before_pins(
    rng: np.random.Generator, n: int, buses: np.ndarray, pv: float, bat: float, wind: int
) -> dict[str, list[int]]:
    """The random placement as it was drawn before pins existed (positions = load index)."""
    k = min(round(pv * n), n)
    pv_hosts = np.sort(rng.choice(np.arange(n), size=k, replace=False)) if k else np.arange(0)
    k_bat = min(round(bat * n), n)
    if k_bat <= len(pv_hosts):
        bat_hosts = np.sort(rng.choice(pv_hosts, size=k_bat, replace=False))
    else:
        rest = np.setdiff1d(np.arange(n), pv_hosts)
        extra = rng.choice(rest, size=k_bat - len(pv_hosts), replace=False)
        bat_hosts = np.sort(np.concatenate([pv_hosts, extra]))
    wind_bus = rng.choice(buses, size=wind) if wind else buses[:0]
    return {"solar": pv_hosts.tolist(), "battery": bat_hosts.tolist(), "wind": wind_bus.tolist()}


@pytest.mark.parametrize(("pv", "bat", "wind"), [(0.4, 0.2, 1), (0.1, 0.5, 2), (0.0, 0.0, 0)])
def test_unpinned_draws_match_the_draws_before_pins(pv: float, bat: float, wind: int) -> None:
    sc = load_scenario(DEFAULT, [f"nodes.pv_share={pv}", f"nodes.battery_share={bat}"])
    sc = sc.model_copy(update={"nodes": sc.nodes.model_copy(update={"wind_turbines": wind})})
    net = build_net(simbench_code=sc.grid.simbench_code, rng=streams(42)["network"])
    buses = np.unique(net.load.bus.to_numpy(dtype=np.int64))
    for seed in range(12):
        rng = streams(seed)["placement"]
        nodes = scenario_nodes(copy.deepcopy(net), sc.nodes, rng)
        expected = drawn_before_pins(streams(seed)["placement"], 41, buses, pv, bat, wind)
        assert where(nodes) == expected, seed


@pytest.mark.parametrize(("path", "like"), [(FRAUD, "default"), (STRESSED, "stressed")])
def test_pinned_scenarios_place_at_seed_42_what_the_seed_drew(path: Path, like: str) -> None:
    pinned = placed(load_scenario(path))
    assert where(pinned) == DRAWN_42[like]
    unpinned = ["nodes.pv_homes=[]", "nodes.battery_homes=[]", "nodes.wind_buses=[]"]
    drawn = placed(load_scenario(path, unpinned))
    pd.testing.assert_frame_equal(pinned.table, drawn.table)


@pytest.mark.parametrize("seed", [0, 4, 7, 2016])
def test_pinned_nodes_are_the_same_under_any_seed(seed: int) -> None:
    at_42 = placed(load_scenario(FRAUD)).table
    pd.testing.assert_frame_equal(placed(load_scenario(FRAUD, [f"run.seed={seed}"])).table, at_42)
    sc = load_scenario(FRAUD, [f"run.seed={seed}"])
    ids = set(at_42["node_id"])
    assert {a.node_id for a in sc.devices.attacks} | set(sc.devices.revoked) <= ids
    # stressed.toml: PV at the feeder end and its pinned turbine hold; batteries are drawn
    stressed = where(placed(load_scenario(STRESSED, [f"run.seed={seed}"])))
    assert stressed["solar"] == DRAWN_42["stressed"]["solar"]
    assert stressed["wind"] == DRAWN_42["stressed"]["wind"]
    assert set(stressed["battery"]) <= set(stressed["solar"])


def test_a_pin_is_a_floor_under_the_share() -> None:
    # the dashboard and sweeps set the shares: the pinned nodes stay, whatever the share
    for share in ("0", "0.2", "0.6"):
        sc = load_scenario(FRAUD, [f"nodes.pv_share={share}", f"nodes.battery_share={share}"])
        w = where(placed(sc))
        assert set(DRAWN_42["default"]["solar"]) <= set(w["solar"])
        assert set(DRAWN_42["default"]["battery"]) <= set(w["battery"])
        assert len(w["solar"]) == max(16, round(float(share) * 41))


def test_shares_add_seeded_homes_to_the_pinned_ones() -> None:
    pins = ['nodes.pv_homes=["load-7", "LV4.101 Load 31"]', 'nodes.battery_homes=["load-9"]']
    for seed in (1, 2):
        w = where(placed(load_scenario(DEFAULT, [*pins, f"run.seed={seed}"])))
        assert {7, 19} <= set(w["solar"])  # "LV4.101 Load 31" is load 19
        assert len(w["solar"]) == 16  # round(0.4 x 41)
        assert 9 in w["battery"]
        assert len(w["battery"]) == 8
        assert len(set(w["battery"]) - {9} - set(w["solar"])) == 0  # PV homes first
    exact = [*pins, "nodes.pv_share=0", "nodes.battery_share=0", "nodes.wind_buses=[3, 3]"]
    nodes = placed(load_scenario(DEFAULT, exact))
    assert where(nodes) == {"solar": [7, 19], "battery": [9], "wind": [3, 3]}
    t = nodes.table
    bus = dict(zip(t["node_id"], t["bus"], strict=True))
    assert bus["pv-19"] == bus["load-19"]
    assert t.loc[t["kind"] == "wind", "node_id"].tolist() == ["wind-0", "wind-1"]


def test_feeder_end_tops_up_with_the_farthest_homes() -> None:
    solar = where(placed(load_scenario(STRESSED, ['nodes.pv_homes=["load-0"]'])))["solar"]
    # load 0 is pinned; 19 of the 20 homes farthest from the transformer fill the share of 0.5
    assert 0 in solar
    assert len(solar) == 20
    assert set(solar) - {0} < set(DRAWN_42["stressed"]["solar"])


def test_a_pin_the_net_does_not_have_is_refused_with_its_key() -> None:
    with pytest.raises(PinError, match=r"pv_homes: no home 'load-99'.*load-0 \.\. load-40"):
        placed(load_scenario(DEFAULT, ['nodes.pv_homes=["load-99"]']))
    with pytest.raises(PinError, match="battery_homes: no home 'Load 7'"):
        placed(load_scenario(DEFAULT, ['nodes.battery_homes=["Load 7"]']))
    with pytest.raises(PinError, match="wind_buses: no bus 999"):
        placed(load_scenario(DEFAULT, ["nodes.wind_buses=[999]"]))
    with pytest.raises(PinError, match="battery_homes: a home is named twice"):
        placed(load_scenario(DEFAULT, ['nodes.battery_homes=["load-19", "LV4.101 Load 31"]']))
    sc = load_scenario(DEFAULT, ['nodes.pv_homes=["nobody"]', "forecasting.battery_control=idle"])
    with pytest.raises(ScenarioError, match=r"nodes\.pv_homes: no home 'nobody'"):
        build(sc)


def test_a_home_pinned_twice_is_refused_at_load() -> None:
    with pytest.raises(ScenarioError, match=r"nodes\.pv_homes: .*named more than once: load-3"):
        load_scenario(DEFAULT, ['nodes.pv_homes=["load-3", "load-3"]'])


def test_an_unknown_outage_node_names_the_key_and_the_pin_keys() -> None:
    sc = load_scenario(
        DEFAULT,
        [
            "forecasting.battery_control=idle",
            "run.seed=4",
            'nodes.outages=[{node_id = "pv-19", start_h = 1.0, duration_h = 1.0}]',
        ],
    )
    with pytest.raises(ScenarioError) as err:
        build(sc)
    text = str(err.value)
    assert "nodes.outages[0].node_id: no node 'pv-19' at seed 4" in text
    assert "nodes.pv_homes, nodes.battery_homes, nodes.wind_buses" in text
    assert "pv-" in text.split("at this seed there are")[1]  # the PV nodes it does have
