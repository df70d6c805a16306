"""Networks from a SimBench code, a pandapower example and a pandapower JSON file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from grid.network import build_net
from twin.engine import run_scenario
from twin.results import open_run
from twin.scenario import load_scenario


def test_simbench_net_keeps_loads_and_drops_generators() -> None:
    net = build_net(simbench_code="1-LV-semiurb4--0-sw", rng=np.random.default_rng(0))
    assert len(net.load) == 41
    assert len(net.sgen) == 0
    assert net.load.profile.str.len().gt(0).all()


def test_example_and_file_nets_get_household_profiles(tmp_path: Path) -> None:
    net = build_net(example="cigre_lv", rng=np.random.default_rng(0))
    assert len(net.load) > 0
    assert net.load.profile.str.startswith("H0").all()
    path = tmp_path / "net.json"
    pp.to_json(pn.create_cigre_network_lv(), str(path))
    again = build_net(file=path, rng=np.random.default_rng(0))
    assert list(again.load.profile) == list(net.load.profile)


def test_run_on_a_pandapower_json_file(tmp_path: Path) -> None:
    pp.to_json(pn.create_cigre_network_lv(), str(tmp_path / "cigre.json"))
    path = tmp_path / "community.toml"
    path.write_text('[run]\ndays = 1\n[grid]\nfile = "cigre.json"\n', encoding="utf-8")
    sc = load_scenario(path)
    assert sc.grid.file == tmp_path / "cigre.json"
    run = open_run(run_scenario(sc, tmp_path / "out").path)
    power = run.table("node_power").groupby("time")["p_mw"].sum()
    exchange = run.table("grid_exchange").set_index("time")
    assert run.table("intervals")["converged"].all()
    balance = power + exchange["losses_mw"] - exchange["import_mw"]
    assert np.abs(balance.to_numpy()).max() < 1e-6


def test_cache_round_trip_and_corrupt_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grid import cache

    monkeypatch.setenv("GRIDTWIN_CACHE", str(tmp_path))
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"a": 1}

    assert cache.cached_pickle("x", build) == {"a": 1}
    assert cache.cached_pickle("x", build) == {"a": 1}
    assert len(calls) == 1
    (entry,) = tmp_path.rglob("x.pickle")
    entry.write_bytes(b"not a pickle")
    assert cache.cached_pickle("x", build) == {"a": 1}
    assert len(calls) == 2
