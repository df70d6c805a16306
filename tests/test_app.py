"""The dashboard without a browser: the app, its pages' layouts and callbacks, the store."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pandas as pd
import pytest
from dash import Dash
from plotly.utils import PlotlyJSONEncoder

import app as app_module
from app import create_app
from figures.settlement import REWARD_COLUMN
from settlement.chain.ledger import STATES
from settlement.depin.client import REWARD_DECIMALS
from settlement.depin.verdict import STATUSES
from tests.dashboard_fixtures import depin_economy_run, fraud_run, results_folder
from twin.results import RunFolder, open_run


@pytest.fixture(scope="module")
def results(day_run: RunFolder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder of real runs: ``day``, ``fraud`` and ``plain`` (an older run)."""
    return results_folder(day_run, fraud_run(tmp_path_factory), tmp_path_factory.mktemp("results"))


def tokens(text: str) -> int:
    """A token amount as a page shows it (``1,234.567890``) in base units, exactly."""
    return int(Decimal(text.replace(",", "")).scaleb(REWARD_DECIMALS))


@pytest.fixture(scope="module")
def dash_app(results: Path) -> Dash:
    """The app on ``results``, set up by a first request (its pages registered)."""
    app = create_app(results)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    from pages import _store

    _store.clear_caches()
    return app


def _json(component: Any) -> str:
    return json.dumps(component, cls=PlotlyJSONEncoder)


def test_every_page_is_served(dash_app: Dash) -> None:
    client = dash_app.server.test_client()
    pages = ("/", "/grid", "/forecasts", "/market", "/settlement", "/economy", "/depin", "/flex")
    for path in (*pages, "/scenarios"):
        assert client.get(path).status_code == 200, path
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "run" in layout.get_data(as_text=True)
    deps = json.loads(client.get("/_dash-dependencies").get_data(as_text=True))
    outputs = [d["output"] for d in deps]
    assert len(outputs) == len(set(outputs))  # no callback registered twice


def test_header_lists_runs_newest_first(dash_app: Dash, results: Path) -> None:
    options, value = app_module.refresh_runs("/", None)
    names = [o["value"] for o in options]
    assert sorted(names) == ["day", "fraud", "plain"]
    started = [open_run(results / n).manifest["started"] for n in names]
    assert started == sorted(started, reverse=True)  # newest first
    assert value == names[0]
    assert app_module.refresh_runs("/", "day")[1] is dash.no_update  # the chosen run kept
    assert app_module.refresh_runs("/", "gone")[1] == names[0]
    assert "day" in _json(app_module.serve_layout())


def _cards(component: list[Any]) -> dict[str, tuple[str, str]]:
    """The KPI cards of a page: label -> (value, unit)."""
    out = {}
    for card in component:
        label, (value, unit) = card.children[0].children, card.children[1].children
        out[str(label)] = (str(value), str(unit.children).strip())
    return out


def test_overview(dash_app: Dash, results: Path) -> None:
    from pages.overview import layout, mark_run, pick_run, show_run

    assert "fraud" in _json(layout())
    cards, fig, kpis = show_run("plain")
    shown = _cards(cards)
    assert "rewards paid" not in shown  # no rewards table
    table = open_run(results / "plain").table("kpis")
    assert [r["name"] for r in kpis] == list(table["name"])
    ss = open_run(results / "plain").kpis()["self_sufficiency"]
    assert shown["self-sufficiency"] == (f"{ss * 100:.1f}", "%")
    assert {t.name for t in fig.data} >= {"consumer", "solar", "grid import"}
    np.testing.assert_allclose(
        np.asarray(fig.data[-1].y), open_run(results / "plain").table("grid_exchange")["import_mw"]
    )
    fraud, _, _ = show_run("fraud")
    shown = _cards(fraud)
    gas = float(open_run(results / "fraud").kpis()["commit_gas_per_trade"])
    assert shown["commit gas per trade"] == (f"{gas:,.0f}", "gas")
    value, unit = shown["rewards paid"]
    assert unit == "tokens"
    assert tokens(value) == int(open_run(results / "fraud").table("rewards")["amount"].sum())
    assert pick_run({"row": 1}, [{"run": "day"}, {"run": "fraud"}]) == "fraud"
    assert pick_run({"row": 2}, [{"run": "day"}]) is dash.no_update
    assert "fraud" in mark_run("fraud")[0]["if"]["filter_query"]
    cards, fig, kpis = show_run("no-such-run")
    assert kpis == []
    assert "Choose a run" in _json(cards)


def test_grid_page(dash_app: Dash, results: Path) -> None:
    from pages.grid import draw, pick_bus, pick_time, play, setup, show_bus, step

    run = open_run(results / "day")
    last, marks, start, _bus, timeline, message = setup("day")
    assert last == 95
    assert marks[0] == "00:00"
    assert 0 <= start <= last
    assert message is None
    assert [t.name for t in timeline.data] == ["max vm", "min vm", "max loading"]
    fig_a, label_a, patch = draw(start, None, "day")
    fig_b, label_b, _ = draw((start + 1) % 96, None, "day")
    assert label_a != label_b
    assert "(schematic layout" not in fig_a.layout.title.text  # SimBench nets carry geodata
    buses = run.table("buses")
    vm = run.table("bus_voltage")
    times = sorted(vm["time"].unique())
    for fig, i in ((fig_a, start), (fig_b, (start + 1) % 96)):
        trace = next(t for t in fig.data if t.name == "buses")
        assert list(trace.customdata) == list(buses["bus"])
        np.testing.assert_allclose(np.asarray(trace.x), buses["x"])
        at = vm[vm["time"] == times[i]].set_index("bus")["vm_pu"]
        np.testing.assert_allclose(np.asarray(trace.marker.color), at[buses["bus"]])
    assert "shapes" in json.dumps(patch.to_plotly_json())
    nodes = run.table("nodes")
    solar_bus = int(nodes.loc[nodes["kind"] == "solar", "bus"].iloc[0])
    clicked = pick_bus({"points": [{"curveNumber": 9, "customdata": solar_bus}]})
    assert clicked == solar_bus
    assert pick_bus({"points": [{"curveNumber": 1}]}) is dash.no_update  # not a bus
    assert pick_bus(None) is dash.no_update
    title, rows, columns, fig = show_bus(solar_bus, start, "day")
    assert title.startswith(f"Bus {solar_bus}: {len(rows)} node(s)")
    here = nodes[nodes["bus"] == solar_bus]
    assert sorted(r["node"] for r in rows) == sorted(here["node_id"])
    assert {c["id"] for c in columns} >= {"node", "p now [kW]"}
    assert len(fig.data) == len(rows)
    assert play(1, True) == (False, "⏸ pause")
    assert play(2, False) == (True, "▶ play")
    assert step(3, 95, 95) == 0
    assert step(3, 10, 95) == 11
    assert pick_time({"points": [{"x": "2016-06-06 12:00"}]}, "day") == 48
    assert pick_time(None, "day") is dash.no_update
    empty = setup("no-such-run")
    assert "Choose a run" in _json(empty[-1])


def test_grid_page_of_a_run_without_grid_tables(dash_app: Dash) -> None:
    from pages.grid import NO_GEOMETRY, draw, setup

    last, _marks, start, _bus, timeline, message = setup("plain")
    assert last == 95
    assert len(timeline.data) == 3  # the timeline needs no geometry
    assert message.children == NO_GEOMETRY
    fig, label, patch = draw(start, None, "plain")
    assert "no buses / branches tables" in fig.layout.annotations[0].text
    assert not fig.data
    assert label == ""
    assert patch is dash.no_update


def test_forecasts_page(dash_app: Dash) -> None:
    from pages.forecasts import placement_text, setup, show_backtest, show_node

    _options, node, errors_fig, rows, _columns, message, placement = setup("day")
    assert node.startswith("pv-")
    assert message is None
    assert placement.startswith("Placement: central")
    assert placement_text({"config": {"forecasting": {"placement": "edge"}}}).startswith(
        "Placement: edge"
    )
    assert {r["kind"] for r in rows} == {"consumer", "solar", "wind"}
    assert len(errors_fig.data) == 3
    fig = show_node(node, "day")
    assert fig.data[0].name == "actual"
    data, _cols, status = show_backtest("day", None)
    assert data == []
    assert "no backtest.parquet" in status
    quick = {"run": "day", "rows": [{"series": "pv", "model": "gb", "nMAE 15 min": 0.1}]}
    data, _cols, status = show_backtest("day", quick)
    assert data == quick["rows"]
    assert "quick" in status


def test_forecasts_page_shows_a_saved_backtest(dash_app: Dash, results: Path) -> None:
    from pages import _store
    from pages.forecasts import show_backtest

    frame = pd.DataFrame(
        {
            "series": ["pv"],
            "model": ["gb"],
            "horizon_steps": [4],
            "mae": [0.1],
            "nmae": [0.2],
            "rmse": [0.3],
            "skill": [0.5],
        }
    )
    frame.to_parquet(results / "fraud" / "backtest.parquet")
    try:
        data, _, status = show_backtest("fraud", None)
    finally:
        (results / "fraud" / "backtest.parquet").unlink()
        _store.clear_caches()
    assert data == [{"series": "pv", "model": "gb", "nMAE 1 h": 0.2, "skill 1 h": 0.5}]
    assert "backtest.parquet" in status


def test_market_page(dash_app: Dash, results: Path) -> None:
    from pages.market import pick_time, setup, show_interval

    run = open_run(results / "day")
    cards, last, _marks, start, price, savings, _purchases, _message = setup("day")
    assert last == 95
    share = run.kpis()["p2p_share"]
    assert _cards(cards)["P2P share of purchases"] == (f"{share * 100:.1f}", "%")
    intervals = run.table("intervals")
    assert start == int(intervals["traded_wh"].to_numpy().argmax())
    np.testing.assert_allclose(
        np.asarray(price.data[0].y, dtype=float), intervals["clearing_price_eur_per_mwh"]
    )
    np.testing.assert_allclose(np.asarray(price.data[1].y), intervals["traded_wh"] / 1000)
    assert len(savings.data[0].x) == len(run.table("bills"))
    _patch, book, label = show_interval(start, "day")
    assert "Order book at" in book.layout.title.text
    assert {t.name.split(":")[0] for t in book.data} <= {"supply (asks)", "demand (bids)"}
    assert "interval" in label
    assert pick_time({"points": [{"x": "2016-06-06 00:15"}]}, "day") == 1


def test_settlement_page(dash_app: Dash, results: Path) -> None:
    from pages.settlement import NO_SETTLEMENT, show

    out = show("plain")
    assert out[0].children == NO_SETTLEMENT
    assert (out[2], out[6], out[9]) == (True, True, True)  # every section hidden
    assert out[4] == out[7] == out[11] == []
    for name in ("day", "fraud"):
        run = open_run(results / name)
        batches, readings, rewards = (run.table(t) for t in ("batches", "readings", "rewards"))
        out = show(name)
        assert out[0] is None
        assert (out[2], out[6], out[9]) == (False, False, False)
        assert [r["batch_id"] for r in out[4]] == list(batches["batch_id"])
        assert {r["state"] for r in out[4]} <= set(STATES)
        gas = out[3]
        assert sum(sum(t.y) for t in gas.data) == batches["gas_used"].sum()
        assert {t.name for t in gas.data} == set(batches["state"])
        counts = readings["status"].astype(str).value_counts()
        assert {r["status"]: r["readings"] for r in out[7]} == counts.to_dict()
        assert set(counts.index) <= set(STATUSES)
        shown = out[11]
        assert "amount" not in shown[0]  # no base units on the page
        assert sum(tokens(r[REWARD_COLUMN]) for r in shown) == rewards["amount"].sum()
        assert len(shown) == rewards["device_address"].nunique()
        figure_total = sum(sum(t.y) for t in out[10].data)
        assert figure_total == pytest.approx(rewards["amount"].sum() / 10**REWARD_DECIMALS)
    day = show("day")
    assert [r["status"] for r in day[7]] == ["accepted"]
    fraud = {r["status"] for r in show("fraud")[7]}
    assert {"accepted", "rejected_replayed", "rejected_tampered"} <= fraud


def test_no_page_shows_token_base_units(dash_app: Dash, results: Path) -> None:
    from pages.overview import show_run
    from pages.settlement import show

    rewards = open_run(results / "fraud").table("rewards")
    by_device = rewards.groupby("device_address")["amount"].sum()
    page = _json(show_run("fraud")) + _json(show("fraud"))
    assert "token units" not in page
    assert "base units" not in page
    amounts = [int(rewards["amount"].sum()), *by_device.astype(int)]
    assert max(amounts) > 10**REWARD_DECIMALS  # tokens and base units read differently
    for amount in (a for a in amounts if a >= 10**REWARD_DECIMALS):
        assert f'"{amount}"' not in page
        assert f"{amount:,}" not in page


def test_scenarios_page(dash_app: Dash) -> None:
    from pages.scenarios import (
        compare,
        compare_choices,
        layout,
        load_defaults,
        scenario_files,
        scenario_overrides,
    )

    assert scenario_files()[0] == "default.toml"
    assert "scn-run" in _json(layout())
    days, pv, battery, control, mechanism, aware, _status = load_defaults("default.toml")
    assert (days, pv, battery) == (7, 0.4, 0.2)
    assert control == "forecast"
    assert mechanism == "uniform"
    assert aware == ["on"]
    assert scenario_overrides(1, 0.5, 0.0, "self_consumption", "pay_as_bid", False) == [
        "run.days=1",
        "nodes.pv_share=0.5",
        "nodes.battery_share=0.0",
        'forecasting.battery_control="self_consumption"',
        'market.mechanism="pay_as_bid"',
        "market.network_aware=false",
    ]
    options_a, _options_b, a, b = compare_choices(None, "day")
    assert a == "day"
    assert b == next(n for n in options_a if n != "day")  # the newest other run
    assert sorted(options_a) == ["day", "fraud", "plain"]
    assert compare_choices("day", "fraud")[2:] == ("fraud", "day")
    assert compare_choices("plain", "day")[2:] == ("day", "plain")  # B: the run just made
    fig, rows, _columns = compare("day", "plain")
    assert [t.name for t in fig.data] == ["A: day", "A: day", "B: plain", "B: plain"]
    assert all(r["B - A"] in (0, None) for r in rows)  # a copy of the same run
    assert compare("day", None)[1] == []


def test_store_caches_per_run_folder(dash_app: Dash, results: Path) -> None:
    from pages import _store

    key = _store.run_key("day")
    assert key is not None
    assert _store.table(key, "kpis") is _store.table(key, "kpis")
    assert list(_store.table(key, "intervals", ["time", "nope"]).columns) == ["time"]
    assert _store.table(key, "no_such_table") is None
    assert _store.voltages(key) is _store.voltages(key)
    geometry = _store.geometry(key)
    assert geometry is _store.geometry(key)
    assert geometry is not None
    voltages = _store.voltages(key)
    assert voltages is not None
    assert list(geometry.buses.index) == list(voltages.columns)
    plain = _store.run_key("plain")
    assert plain is not None
    assert _store.geometry(plain) is None  # an older run: no buses / branches tables
    for bad in ("../day", "", None, ".dashboard-cache", "missing"):
        assert _store.run_key(bad) is None


def test_cli_keeps_its_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: dict[str, Any] = {}

    def fake_run(self: Dash, **kwargs: Any) -> None:
        calls.update(kwargs)
        self.server.test_client().get("/")  # takes up the pages' callbacks, as serving does

    monkeypatch.setattr(Dash, "run", fake_run)
    monkeypatch.setenv("GRIDTWIN_RESULTS", str(tmp_path))  # restored afterwards
    app_module.main(["--results", str(tmp_path), "--host", "127.0.0.1", "--port", "8123"])
    assert calls == {"host": "127.0.0.1", "port": 8123, "debug": False}


def test_economy_page(dash_app: Dash, results: Path) -> None:
    from pages.economy import NO_PROPOSALS, NO_TREASURY, layout, show

    assert "economy-flows" in _json(layout())
    run = open_run(results / "day")
    kpis, bills = run.kpis(), run.table("bills")
    shown_all = show("day")
    message, cards, flows, winners, t_notice, treasury, p_notice, rows, cols = shown_all[:9]
    votes, ballots = shown_all[9:]
    assert message is None
    shown = _cards(cards)
    assert shown["community saving vs utility only"] == (f"{kpis['savings_eur']:,.2f}", "EUR")
    assert shown["homes (members) losing"] == ("0", "")  # mid_market, the default
    assert shown["homes (members) gaining"] == (f"{kpis['homes_gaining']:,.0f}", "")
    assert shown["all gas at L1"] == (f"{kpis['gas_cost_l1_eur']:,.2f}", "EUR")
    assert shown["all gas at L2"] == (f"{kpis['gas_cost_l2_eur']:,.2f}", "EUR")
    sankey = flows.data[0]
    labels = list(sankey.node.label)
    into = {labels[t]: v for t, v in zip(sankey.link.target, sankey.link.value, strict=True)}
    utility = (bills["cost_micro_eur"] - bills["p2p_paid_micro_eur"]).sum() / 1e6
    assert into["utility (retail)"] == pytest.approx(utility)
    assert into["P2P market"] == pytest.approx(run.table("trades")["payment_micro_eur"].sum() / 1e6)
    worst = str(bills.loc[bills["savings_micro_eur"].idxmin(), "owner"])
    assert f"worst off {worst}" in winners.layout.title.text
    assert NO_TREASURY not in _json(t_notice)  # the default charges a protocol fee
    ledger = run.table("treasury")
    assert list(treasury.data[0].y)[-1] == pytest.approx(ledger["amount_micro_eur"].sum() / 1e6)
    assert shown["protocol fees to the treasury"][0] == f"{kpis['protocol_fees_eur']:,.2f}"
    assert NO_PROPOSALS in _json(p_notice)
    assert rows == []
    assert cols == []
    assert votes.layout.annotations[0].text == "this run has no proposals"
    assert ballots.layout.annotations[0].text == "this run has no ballots"
    message, cards, flows, *_ = show("no-such-run")
    assert "Choose a run" in _json(message)
    assert cards == []
    assert flows.layout.annotations[0].text == "no bills in this run"


@pytest.mark.slow
def test_economy_page_with_proposals(
    dash_app: Dash,
    economy_run: RunFolder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shortened economy scenario: treasury by kind, votes, ballots and the Sankey's
    contributions, purchase and payouts, all from the run's tables."""
    from pages import _store
    from pages.economy import NO_PROPOSALS, NO_TREASURY, show

    shutil.copytree(economy_run.path, tmp_path / "economy")
    monkeypatch.setenv(_store.RESULTS_ENV, str(tmp_path))
    message, cards, flows, _, t_notice, treasury, p_notice, rows, cols, votes, ballots = show(
        "economy"
    )
    assert message is None
    assert NO_TREASURY not in _json(t_notice)
    assert NO_PROPOSALS not in _json(p_notice)
    ledger = economy_run.table("treasury")
    assert _cards(cards)["treasury balance"][0] == f"{ledger['amount_micro_eur'].sum() / 1e6:,.2f}"
    assert treasury.data[0].y[-1] == pytest.approx(ledger["amount_micro_eur"].sum() / 1e6)
    assert {t.name for t in treasury.data[1:]} == set(ledger["kind"])
    proposals = economy_run.table("proposals")
    assert [r["state"] for r in rows] == proposals["state"].tolist()
    assert {"state", "executed", "votes_for", "votes_against"} <= {c["id"] for c in cols}
    bars = {t.name: list(t.y) for t in votes.data}
    assert bars["for"] == proposals["votes_for"].tolist()
    assert bars["against"] == proposals["votes_against"].tolist()
    assert sum(len(t.y) for t in ballots.data) == len(economy_run.table("ballots"))
    labels = list(flows.data[0].node.label)
    assert {"treasury", "vendor: battery-substation", "asset-battery-substation (receives)"} <= set(
        labels
    )


def test_depin_page_without_the_tables(dash_app: Dash, results: Path) -> None:
    """A run made before the token economy, and the fraud day (stakes and slashes, no data or
    device sales): every empty section says why, none fails."""
    from pages.depin import (
        NO_DATA_SALES,
        NO_DEVICE_SALES,
        NO_STAKES,
        NO_TOKEN_ECONOMY,
        layout,
        show,
    )

    assert "depin-emission" in _json(layout())
    out = show("plain")
    assert out[0].children == NO_TOKEN_ECONOMY
    assert out[1] == []  # no cards
    assert "no token_economy table" in out[2].layout.annotations[0].text
    assert out[4].children == NO_STAKES
    assert out[7] == out[8] == out[14] == out[15] == []
    assert out[9].children == NO_DATA_SALES
    assert out[12].children == NO_DEVICE_SALES
    for figure in (out[5], out[6], out[10], out[11], out[13]):
        assert figure.layout.annotations[0].text.startswith("this run")
    assert "Choose a run" in _json(show("no-such-run")[0])
    fraud = open_run(results / "fraud")
    stakes = fraud.table("stakes")
    slashes = stakes[stakes["kind"] == "slash"]
    out = show("fraud")
    assert out[4] is None  # stakes and slashes shown
    assert [r["node_id"] for r in out[7]] == slashes["node_id"].tolist()
    shown = _cards(out[1])
    assert shown["slashes"] == (f"{len(slashes):,}", "")
    assert tokens(shown["slashed"][0]) == slashes["amount_units"].sum()
    assert out[9].children == NO_DATA_SALES
    assert out[12].children == NO_DEVICE_SALES
    page = _json(out)
    for amount in slashes["amount_units"].astype(int):  # tokens, never base units
        assert f'"{amount}"' not in page


@pytest.mark.slow
def test_depin_page_of_the_depin_economy(
    dash_app: Dash,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shortened depin_economy run: emission against revenue, stakes, the data sale and
    the device sale, each from the run's tables."""
    from pages import _store
    from pages.depin import show

    run = depin_economy_run(tmp_path_factory)
    shutil.copytree(run.path, tmp_path / "depin")
    monkeypatch.setenv(_store.RESULTS_ENV, str(tmp_path))
    assert dash_app.server.test_client().get("/depin").status_code == 200
    out = show("depin")
    assert out[0] is None
    assert out[9] is None  # data sales shown
    assert out[12] is None  # device sales shown
    economy = run.table("token_economy")
    shown = _cards(out[1])
    assert tokens(shown["rewards emitted"][0]) == economy["emitted_units"].sum()
    revenue = economy["protocol_revenue_micro_eur"].sum() / 1e6
    assert shown["protocol revenue"] == (f"{revenue:,.2f}", "EUR")
    emitted = next(t for t in out[2].data if t.name == "rewards emitted [tokens]")
    assert sum(emitted.y) == pytest.approx(economy["emitted_units"].sum() / 10**REWARD_DECIMALS)
    sales = run.table("data_sales")
    paid = sales.groupby("sale")["payment_micro_eur"].first().sum() / 1e6
    assert shown["data buyers paid"] == (f"{paid:,.2f}", "EUR")
    bars = [t for t in out[10].data if t.type == "bar"]
    assert sum(sum(t.y) for t in bars) == pytest.approx(paid)
    releases = run.table("data_releases")
    assert sum(out[11].data[0].y) == len(releases)
    transfers = run.table("device_transfers")
    assert [r["node_id"] for r in out[14]] == transfers["node_id"].tolist()
    royalty = transfers["royalty_micro_eur"].sum() / 1e6
    assert shown["device sale royalties"] == (f"{royalty:,.2f}", "EUR")


def test_flex_page_of_a_run_without_flex(dash_app: Dash) -> None:
    """The day run has no [flex]: every section says why it is empty, none fails."""
    from pages.flex import NO_DIMMING, NO_FLEX, layout, show

    assert "flex-ev-sessions" in _json(layout())
    out = show("day")
    assert out[0].children == NO_FLEX
    assert out[1] == []  # no cards
    assert out[7].children == NO_DIMMING
    for figure in (*out[2:7], *out[8:11]):
        assert figure.layout.annotations[0].text.startswith("this run"), figure.layout
    assert "Choose a run" in _json(show("no-such-run")[0])
