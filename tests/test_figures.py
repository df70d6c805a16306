"""The dashboard's figure builders: pure functions of results-store frames, no browser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from figures.common import (
    as_utc,
    empty_figure,
    energy_by_source,
    frame_rows,
    headline_kpis,
    kpi_rows,
    run_rows,
    time_marks,
)
from figures.compare import compare_figure, compare_rows
from figures.forecasts import (
    backtest_rows,
    error_by_horizon,
    error_rows,
    forecast_errors,
    forecast_figure,
    horizon_label,
)
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
from figures.market import (
    busiest_interval,
    market_cards,
    order_book_figure,
    price_volume_figure,
    purchases_figure,
    savings_figure,
)
from figures.settlement import (
    batch_rows,
    gas_figure,
    reading_status_rows,
    reward_rows,
    rewards_figure,
    token_sum,
)
from tests.dashboard_fixtures import BIG_REWARD, settlement_tables
from twin.results import RunFolder

T0 = pd.Timestamp("2016-06-06T00:00:00Z")


def test_energy_by_source_sums_each_kind(day_run: RunFolder) -> None:
    power, nodes = day_run.table("node_power"), day_run.table("nodes")
    exchange = day_run.table("grid_exchange")
    before = power.copy()
    fig = energy_by_source(power, nodes, exchange)
    pd.testing.assert_frame_equal(power, before)  # inputs are not changed
    traces = {t.name: t for t in fig.data}
    assert {"consumer", "solar", "wind", "grid import"} <= set(traces)
    consumers = set(nodes.loc[nodes["kind"] == "consumer", "node_id"])
    expected = power[power["node_id"].astype(str).isin(consumers)].groupby("time")["p_mw"].sum()
    np.testing.assert_allclose(np.asarray(traces["consumer"].y), expected.to_numpy())
    np.testing.assert_allclose(np.asarray(traces["grid import"].y), exchange["import_mw"])


def test_run_rows_and_kpi_tables(day_run: RunFolder) -> None:
    rows = run_rows([day_run])
    assert rows[0]["run"] == day_run.path.name
    assert 0 <= float(rows[0]["self-sufficiency"]) <= 1
    given = run_rows([day_run], [{"self_sufficiency": 0.5, "p2p_share": float("nan")}])
    assert given[0]["self-sufficiency"] == 0.5
    assert given[0]["P2P share"] is None  # NaN is not JSON
    names = {r["name"] for r in kpi_rows(day_run.table("kpis"))}
    assert {"self_sufficiency", "peak_import_mw", "violations"} <= names


def test_headline_kpis_add_gas_and_rewards_when_present() -> None:
    kpis = {"self_sufficiency": 0.25, "peak_import_mw": 0.05, "violations": 0.0}
    plain = headline_kpis(kpis)
    assert [c["label"] for c in plain] == ["self-sufficiency", "peak import", "limit violations"]
    assert plain[0]["value"] == "25.0"
    assert plain[0]["unit"] == "%"
    assert plain[1]["value"] == "50.0"
    assert plain[1]["unit"] == "kW"
    tables = settlement_tables()
    cards = {c["label"]: c for c in headline_kpis(kpis, tables["batches"], tables["rewards"])}
    assert cards["gas per trade"]["value"] == "10,000"  # 400,000 gas / 40 trades
    assert cards["rewards paid"]["unit"] == "token units"


def test_time_marks_and_times() -> None:
    times = pd.date_range(T0, periods=96 * 30, freq="15min")
    marks = time_marks(times, max_marks=10)
    assert 5 <= len(marks) <= 10
    assert marks[0] == "06-06"
    assert all(times[i].hour == 0 and times[i].minute == 0 for i in marks)
    day = time_marks(times[:96])
    assert day[0] == "00:00"
    assert len(day) <= 12
    assert time_marks(pd.DatetimeIndex([], tz="UTC")) == {}
    assert as_utc("2016-06-06 12:00") == T0 + pd.Timedelta(hours=12)
    assert as_utc("2016-06-06T14:00:00+02:00") == T0 + pd.Timedelta(hours=12)


def test_frame_rows_are_json() -> None:
    frame = pd.DataFrame(
        {"time": [T0], "x": [np.nan], "k": pd.Categorical(["a"]), "n": [np.int64(3)]}
    )
    rows = frame_rows(frame)
    assert rows == [{"time": "2016-06-06 00:00", "x": None, "k": "a", "n": 3}]
    json.dumps(rows)


def test_empty_figure_says_why() -> None:
    fig = empty_figure("nothing here")
    assert fig.layout.annotations[0].text == "nothing here"


@pytest.fixture(scope="module")
def geometry(day_run: RunFolder) -> NetworkGeometry:
    return network_geometry(day_run.manifest["config"]["grid"])


def test_network_geometry_matches_the_power_flow_tables(
    day_run: RunFolder, geometry: NetworkGeometry
) -> None:
    buses = set(day_run.table("bus_voltage")["bus"].unique())
    assert set(geometry.buses.index) == buses
    loading = day_run.table("branch_loading")
    reported = set(zip(loading["kind"].astype(str), loading["branch"], strict=True))
    assert set(zip(geometry.branches["kind"], geometry.branches["branch"], strict=True)) == reported
    assert geometry.geographic  # SimBench nets carry bus geodata
    assert np.isfinite(geometry.buses[["x", "y"]].to_numpy()).all()
    assert len(geometry.slack_buses) == 1


def test_network_geometry_lays_out_a_net_without_geodata() -> None:
    geometry = network_geometry({"example": "kerber_landnetz_kabel_1"})
    assert not geometry.geographic
    xy = geometry.buses[["x", "y"]].to_numpy()
    assert np.isfinite(xy).all()
    assert len(np.unique(xy.round(6), axis=0)) == len(xy)  # no two buses on one spot


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


def _forecasts(error_kw: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    times = pd.date_range(T0, periods=8, freq="15min")
    actual = np.linspace(1, 8, 8) / 1000
    frames = []
    for node in ("load-0", "pv-0"):
        for h in (1, 4):
            frames.append(
                pd.DataFrame(
                    {
                        "time": times,
                        "issued": times,
                        "node_id": node,
                        "horizon_steps": h,
                        "predicted_mw": actual + error_kw * h / 1000,
                        "actual_mw": actual,
                    }
                )
            )
    nodes = pd.DataFrame({"node_id": ["load-0", "pv-0"], "kind": ["consumer", "solar"]})
    return pd.concat(frames, ignore_index=True), nodes


def test_forecast_errors_known_values() -> None:
    forecasts, nodes = _forecasts(error_kw=0.5)
    errors = forecast_errors(forecasts, nodes)
    assert list(errors["kind"]) == ["consumer", "consumer", "solar", "solar"]
    h4 = errors[errors["horizon_steps"] == 4]
    np.testing.assert_allclose(h4["mae_kw"], 2.0)  # 0.5 kW x 4 steps
    np.testing.assert_allclose(h4["rmse_kw"], 2.0)
    np.testing.assert_allclose(h4["bias_kw"], 2.0)
    np.testing.assert_allclose(h4["nmae"], 2.0 / 4.5)  # mean |actual| = 4.5 kW
    assert error_rows(errors, 900)[1]["horizon"] == "1 h"
    fig = error_by_horizon(errors, 900)
    assert {t.name for t in fig.data} == {"consumer", "solar"}
    assert list(fig.data[0].x) == ["15 min", "1 h"]


def test_forecast_figure_and_horizons() -> None:
    forecasts, _ = _forecasts(error_kw=0.0)
    rows = forecasts[forecasts["node_id"] == "pv-0"]
    fig = forecast_figure(rows, None, "pv-0", 900)
    assert [t.name for t in fig.data] == ["actual", "forecast 15 min ahead", "forecast 1 h ahead"]
    actual = pd.Series([0.001, 0.002], index=rows["time"].iloc[:2])
    fig = forecast_figure(rows, actual, "pv-0", 900)
    np.testing.assert_allclose(np.asarray(fig.data[0].y), [1.0, 2.0])  # kW
    assert horizon_label(96, 900) == "24 h"
    assert horizon_label(3, 900) == "45 min"


def test_backtest_rows_one_row_per_series_and_model() -> None:
    frame = pd.DataFrame(
        {
            "series": ["pv", "pv", "pv", "pv"],
            "model": ["gb", "gb", "naive", "naive"],
            "horizon_steps": [1, 4, 1, 4],
            "nmae": [0.1, 0.2, 0.3, 0.4],
            "skill": [0.5, 0.4, 0.0, 0.0],
        }
    )
    rows = backtest_rows(frame, 900)
    assert rows[0] == {
        "series": "pv",
        "model": "gb",
        "nMAE 15 min": 0.1,
        "skill 15 min": 0.5,
        "nMAE 1 h": 0.2,
        "skill 1 h": 0.4,
    }
    assert len(rows) == 2


def test_order_book_curves_step_through_the_merit_order() -> None:
    orders = pd.DataFrame(
        {
            "participant": ["a", "b", "c", "d"],
            "side": ["sell", "sell", "buy", "buy"],
            "energy_wh": [1000, 500, 800, 400],
            "limit_price_eur_per_mwh": [100.0, 80.0, 300.0, 320.0],
        }
    )
    fig = order_book_figure(orders, 200.0, 1200.0, "t")
    supply, demand = fig.data
    assert list(supply.y) == [80.0, 80.0, 100.0, 100.0]  # cheapest ask first
    assert list(supply.x) == [0.0, 0.5, 0.5, 1.5]  # kWh
    assert list(demand.y) == [320.0, 320.0, 300.0, 300.0]  # highest bid first
    assert list(demand.x) == [0.0, 0.4, 0.4, 1.2]
    assert fig.layout.shapes[0].y0 == 200.0
    empty = order_book_figure(orders.iloc[:0], None, 0.0, "t")
    assert not empty.data


def test_market_figures(day_run: RunFolder) -> None:
    intervals = day_run.table("intervals")
    i = busiest_interval(intervals)
    assert intervals["traded_wh"].iloc[i] == intervals["traded_wh"].max()
    fig = price_volume_figure(intervals, intervals["time"].iloc[i])
    assert pd.Timestamp(fig.layout.shapes[0].x0) == intervals["time"].iloc[i]
    bills = day_run.table("bills")
    savings = savings_figure(bills)
    expected = np.sort((bills["baseline_cost_micro_eur"] - bills["cost_micro_eur"]) / 1e6)[::-1]
    np.testing.assert_allclose(np.asarray(savings.data[0].y), expected)
    purchases = purchases_figure(bills)
    assert sum(purchases.data[0].y) == pytest.approx(bills["p2p_bought_wh"].sum() / 1000)
    cards = market_cards({"p2p_share": 0.25, "savings_eur": 12.4})
    assert [c["value"] for c in cards] == ["25.0", "12"]


def test_compare_two_runs(day_run: RunFolder) -> None:
    kpis = day_run.table("kpis")
    other = kpis.assign(value=kpis["value"] * 2)
    rows = {r["name"]: r for r in compare_rows(kpis, other)}
    ss = float(kpis.set_index("name").at["self_sufficiency", "value"])
    assert rows["self_sufficiency"]["B - A"] == pytest.approx(ss, abs=1e-6)
    exchange = day_run.table("grid_exchange")
    fig = compare_figure(exchange, exchange, kpis, other, ("a", "b"))
    curve = np.asarray(fig.data[0].y)
    assert (np.diff(curve) <= 0).all()  # a duration curve falls
    assert curve[0] == pytest.approx(exchange["import_mw"].max() * 1000)


def test_settlement_builders() -> None:
    tables = settlement_tables()
    rows = batch_rows(tables["batches"])
    assert list(rows[0])[:4] == ["batch_id", "first_time", "last_time", "trade_count"]
    json.dumps(rows)
    assert isinstance(gas_figure(tables["batches"]), go.Figure)
    gas = gas_figure(tables["batches"])
    assert {t.name for t in gas.data} == {"confirmed", "pending"}
    assert list(gas.data[0].x) == ["#0 06-06 00:00", "#1 06-06 01:00"]  # one bar a batch
    assert reading_status_rows(tables["readings"]) == [
        {"status": "rejected", "readings": 1},
        {"status": "verified", "readings": 2},
    ]
    rewards = reward_rows(tables["rewards"])
    assert rewards[0] == {
        "device_address": "0xaa",
        "owner": "member-0000",
        "epochs": 2,
        "amount": str(BIG_REWARD + 7),  # exact beyond 2**64
    }
    assert token_sum(pd.Series([2**70, "3", None, "x"])) == 2**70 + 3
    assert len(rewards_figure(tables["rewards"]).data) == 2  # one trace an epoch
