"""The grid page's map: the static ``buses`` / ``branches`` tables and the figures on them.

The tables come from :func:`twin.static_tables.write_grid_tables` (pure functions of the net in
:mod:`grid.geometry`); the map joins them with ``bus_voltage`` and ``branch_loading``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from figures.geometry import (
    NetworkGeometry,
    interesting_interval,
    loading_matrix,
    network_geometry,
    node_counts,
    voltage_matrix,
)
from figures.grid import (
    LOADING_CLASSES,
    bus_node_rows,
    bus_power_figure,
    grid_timeline,
    network_map,
)
from tests.dashboard_fixtures import copy_run
from twin.results import RunFolder
from twin.schemas import SCHEMAS


@pytest.fixture(scope="module")
def day_grid(day_run: RunFolder, tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """The day run with its static grid tables (``buses``, ``branches``)."""
    return copy_run(day_run, tmp_path_factory.mktemp("day-grid") / "day")


@pytest.fixture(scope="module")
def geometry(day_grid: RunFolder) -> NetworkGeometry:
    return network_geometry(day_grid.table("buses"), day_grid.table("branches"))


def test_network_geometry_matches_the_power_flow_tables(
    day_grid: RunFolder, geometry: NetworkGeometry
) -> None:
    voltage = day_grid.table("bus_voltage")
    first = voltage[voltage["time"] == voltage["time"].min()]
    assert list(geometry.buses.index) == list(first["bus"])  # the same buses, in order
    loading = day_grid.table("branch_loading")
    first = loading[loading["time"] == loading["time"].min()]
    reported = list(zip(first["kind"].astype(str), first["branch"], strict=True))
    drawn = list(zip(geometry.branches["kind"], geometry.branches["branch"], strict=True))
    assert drawn == reported  # the same branches, in order: (kind, branch) joins exactly
    assert geometry.geographic  # SimBench nets carry bus geodata
    assert np.isfinite(geometry.buses[["x", "y"]].to_numpy()).all()
    assert set(geometry.branches["from_bus"]) | set(geometry.branches["to_bus"]) <= set(
        geometry.buses.index
    )
    assert len(geometry.slack_buses) == 1
    trafo = geometry.branches[geometry.branches["kind"] == "trafo"]
    hv = geometry.buses.loc[trafo["from_bus"], "vn_kv"].to_numpy()
    lv = geometry.buses.loc[trafo["to_bus"], "vn_kv"].to_numpy()
    assert (hv > lv).all()  # a transformer goes from its HV bus to its LV bus
    assert geometry.slack_buses[0] in set(trafo["from_bus"])


def test_network_geometry_lays_out_a_net_without_geodata() -> None:
    from grid.network import build_net
    from grid.solver import GridLayout
    from twin.static_tables import grid_tables

    net = build_net(example="kerber_landnetz_kabel_1", rng=np.random.default_rng(0))
    tables = {k: pd.DataFrame(v) for k, v in grid_tables(net, GridLayout.of(net)).items()}
    geometry = network_geometry(tables["buses"], tables["branches"])
    assert not geometry.geographic
    xy = geometry.buses[["x", "y"]].to_numpy()
    assert np.isfinite(xy).all()
    assert len(np.unique(xy.round(6), axis=0)) == len(xy)  # no two buses on one spot
    again = grid_tables(net, GridLayout.of(net))["buses"]
    np.testing.assert_array_equal(again["x"], tables["buses"]["x"])  # deterministic


def test_network_geometry_draws_switches_as_links() -> None:
    buses = pd.DataFrame(
        {
            "bus": [0, 1, 2],
            "name": ["a", "b", "c"],
            "vn_kv": [20.0, 0.4, 0.4],
            "slack": [True, False, False],
            "x": [0.0, 1.0, 2.0],
            "y": [0.0, 0.0, 0.0],
            "geodata": [False] * 3,
        }
    )
    branches = pd.DataFrame(
        {
            "branch": [0, 7],
            "kind": ["trafo", "switch"],
            "from_bus": [0, 1],
            "to_bus": [1, 2],
        }
    )
    geometry = network_geometry(buses, branches)
    assert list(geometry.branches["kind"]) == ["trafo"]
    assert geometry.links.to_dict("list") == {"from_bus": [1], "to_bus": [2]}
    assert geometry.slack_buses == (0,)
    fig = network_map(geometry, pd.Series({0: 1.0, 1: 1.01, 2: 1.02}), pd.Series(dtype=float))
    switch = next(t for t in fig.data if t.name == "switch")
    assert list(switch.x[:2]) == [1.0, 2.0]
    bus_trace = next(t for t in fig.data if t.name == "buses")
    assert list(bus_trace.marker.symbol) == ["square", "circle", "circle"]  # the slack


def test_network_map_colours_buses_and_branches(
    day_run: RunFolder, geometry: NetworkGeometry
) -> None:
    vm = voltage_matrix(day_run.table("bus_voltage"))
    loading = loading_matrix(day_run.table("branch_loading"))
    assert vm.shape == (96, len(geometry.buses))
    i = interesting_interval(vm)
    assert np.nanmax((vm.iloc[i] - 1).abs()) == pytest.approx(np.nanmax((vm - 1).abs().to_numpy()))
    at = loading.iloc[i]
    fig = network_map(geometry, vm.iloc[i], at, node_counts={0: 2}, selected_bus=0)
    buses = next(t for t in fig.data if t.name == "buses")
    np.testing.assert_allclose(np.asarray(buses.marker.color), vm.iloc[i][geometry.buses.index])
    assert list(buses.customdata) == list(geometry.buses.index)
    drawn = 0
    lower = -np.inf
    for upper, label, _ in LOADING_CLASSES:
        trace = next(t for t in fig.data if t.name == label)
        n = int(((at >= lower) & (at < upper)).sum())
        assert len(trace.x) == 3 * n  # from, to, gap per branch
        drawn += n
        lower = upper
    assert drawn == len(geometry.branches)
    assert any(t.name == "selected" for t in fig.data)


def test_network_map_shows_missing_results_grey(geometry: NetworkGeometry) -> None:
    fig = network_map(geometry, pd.Series(dtype=float), pd.Series(dtype=float))
    missing = next(t for t in fig.data if t.name == "no result")
    assert len(missing.x) == 3 * len(geometry.branches)


def test_grid_timeline_marks_the_interval_first(day_run: RunFolder) -> None:
    vm = voltage_matrix(day_run.table("bus_voltage"))
    loading = loading_matrix(day_run.table("branch_loading"))
    fig = grid_timeline(vm, loading, vm.index[10])
    assert pd.Timestamp(fig.layout.shapes[0].x0) == vm.index[10]  # pages patch shapes[0]
    np.testing.assert_allclose(np.asarray(fig.data[0].y), vm.max(axis=1))


def test_bus_nodes_and_their_power(day_run: RunFolder) -> None:
    nodes = day_run.table("nodes")
    power = day_run.table("node_power").assign(node_id=lambda f: f["node_id"].astype(str))
    wide = power.pivot(index="time", columns="node_id", values="p_mw")
    bus = int(nodes.loc[nodes["kind"] == "solar", "bus"].iloc[0])
    time = wide.index[48]
    rows = bus_node_rows(nodes, wide, bus, time)
    here = nodes[nodes["bus"] == bus]
    assert {r["node"] for r in rows} == set(here["node_id"])
    for row in rows:
        assert row["p now [kW]"] == pytest.approx(wide.at[time, row["node"]] * 1000, abs=1e-3)
    fig = bus_power_figure(nodes, wide, bus, time)
    assert {t.name for t in fig.data} == set(here["node_id"])
    assert node_counts(nodes)[bus] == len(here)


def test_grid_tables_follow_their_declared_schemas(day_grid: RunFolder) -> None:
    for name in ("buses", "branches"):
        schema = pq.read_schema(day_grid.path / f"{name}.parquet")
        assert schema.remove_metadata() == SCHEMAS[name][0], name
    buses = day_grid.table("buses")
    nodes = day_grid.table("nodes")
    assert set(nodes["bus"]) <= set(buses["bus"])
    assert buses["geodata"].all()
    assert buses.loc[buses["slack"], "vn_kv"].tolist() == [buses["vn_kv"].max()]
    assert (buses["name"] != "").all()
    branches = day_grid.table("branches")
    assert set(branches["kind"]) <= {"line", "trafo", "switch"}
    assert (branches["from_bus"] != branches["to_bus"]).all()
