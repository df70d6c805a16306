"""The dashboard without a browser: the app, its pages' layouts and callbacks, the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import Dash
from plotly.utils import PlotlyJSONEncoder

import app as app_module
from app import create_app
from tests.dashboard_fixtures import results_folder
from twin.results import RunFolder


@pytest.fixture(scope="module")
def results(day_run: RunFolder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder of the day run: ``day``, ``plain`` (no settlement), ``settled``."""
    return results_folder(day_run, tmp_path_factory.mktemp("results"))


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
    for path in ("/", "/grid", "/forecasts", "/market", "/settlement", "/scenarios"):
        assert client.get(path).status_code == 200, path
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "run" in layout.get_data(as_text=True)
    deps = json.loads(client.get("/_dash-dependencies").get_data(as_text=True))
    outputs = [d["output"] for d in deps]
    assert len(outputs) == len(set(outputs))  # no callback registered twice


def test_header_lists_runs_newest_first(dash_app: Dash, results: Path) -> None:
    options, value = app_module.refresh_runs("/", None)
    assert {o["value"] for o in options} == {"day", "plain", "settled"}
    assert value == options[0]["value"]
    assert app_module.refresh_runs("/", "day")[1] is not None  # kept: no_update
    assert "day" in _json(app_module.serve_layout())


def test_overview(dash_app: Dash) -> None:
    from pages.overview import layout, mark_run, pick_run, show_run

    assert "settled" in _json(layout())
    cards, fig, kpis = show_run("plain")
    labels = _json(cards)
    assert "self-sufficiency" in labels
    assert "rewards paid" not in labels
    assert any(r["name"] == "community_cost_eur" for r in kpis)
    assert {t.name for t in fig.data} >= {"consumer", "solar", "grid import"}
    settled, _, _ = show_run("settled")
    assert "gas per trade" in _json(settled)
    assert "rewards paid" in _json(settled)
    assert pick_run({"row": 1}, [{"run": "day"}, {"run": "settled"}]) == "settled"
    assert "settled" in mark_run("settled")[0]["if"]["filter_query"]
    cards, fig, kpis = show_run("no-such-run")
    assert kpis == []
    assert "Choose a run" in _json(cards)


def test_grid_page(dash_app: Dash, day_run: RunFolder) -> None:
    from pages.grid import draw, pick_bus, pick_time, play, setup, show_bus, step

    last, marks, start, _bus, timeline, message = setup("day")
    assert last == 95
    assert marks[0] == "00:00"
    assert 0 <= start <= last
    assert message is None
    assert len(timeline.data) == 3
    fig_a, label_a, patch = draw(start, None, "day")
    fig_b, label_b, _ = draw((start + 1) % 96, None, "day")
    assert label_a != label_b
    colours = [next(t for t in f.data if t.name == "buses").marker.color for f in (fig_a, fig_b)]
    assert list(colours[0]) != list(colours[1])  # the map moves with the slider
    assert "shapes" in json.dumps(patch.to_plotly_json())
    nodes = day_run.table("nodes")
    solar_bus = int(nodes.loc[nodes["kind"] == "solar", "bus"].iloc[0])
    clicked = pick_bus({"points": [{"curveNumber": 9, "customdata": solar_bus}]})
    assert clicked == solar_bus
    assert pick_bus({"points": [{"curveNumber": 1}]}) is not None  # no_update
    title, rows, columns, fig = show_bus(solar_bus, start, "day")
    assert f"Bus {solar_bus}" in title
    assert any(r["kind"] == "solar" for r in rows)
    assert {c["id"] for c in columns} >= {"node", "p now [kW]"}
    assert len(fig.data) == len(rows)
    assert play(1, True) == (False, "⏸ pause")
    assert play(2, False) == (True, "▶ play")
    assert step(3, 95, 95) == 0
    assert pick_time({"points": [{"x": "2016-06-06 12:00"}]}, "day") == 48
    empty = setup("no-such-run")
    assert empty[-1] is not None


def test_forecasts_page(dash_app: Dash) -> None:
    from pages.forecasts import setup, show_backtest, show_node

    _options, node, errors_fig, rows, _columns, message = setup("day")
    assert node is not None
    assert node.startswith("pv-")
    assert message is None
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
    frame.to_parquet(results / "settled" / "backtest.parquet")
    try:
        data, _, status = show_backtest("settled", None)
    finally:
        (results / "settled" / "backtest.parquet").unlink()
        _store.clear_caches()
    assert data == [{"series": "pv", "model": "gb", "nMAE 1 h": 0.2, "skill 1 h": 0.5}]
    assert "backtest.parquet" in status


def test_market_page(dash_app: Dash) -> None:
    from pages.market import pick_time, setup, show_interval

    cards, last, _marks, start, price, savings, _purchases, _message = setup("day")
    assert last == 95
    assert "P2P share" in _json(cards)
    assert isinstance(price, go.Figure)
    assert len(savings.data[0].x) > 0
    _patch, book, label = show_interval(start, "day")
    assert "Order book at" in book.layout.title.text
    assert {t.name.split(":")[0] for t in book.data} <= {"supply (asks)", "demand (bids)"}
    assert "interval" in label
    assert pick_time({"points": [{"x": "2016-06-06 00:15"}]}, "day") == 1


def test_settlement_page(dash_app: Dash) -> None:
    from pages.settlement import NO_SETTLEMENT, show

    out = show("plain")
    assert NO_SETTLEMENT in _json(out[0])
    assert out[2] is True  # batches section hidden
    assert out[6] is True
    assert out[9] is True
    show("day")  # whatever the engine writes now renders
    out = show("settled")
    assert out[0] is None
    assert out[2] is False
    assert len(out[4]) == 3  # batches
    assert out[7][0]["status"] == "rejected"
    assert out[11][0]["amount"].isdigit()


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
    assert b in ("plain", "settled")
    assert set(options_a) == {"day", "plain", "settled"}
    assert compare_choices("day", "settled")[3] == "day"
    fig, rows, _columns = compare("day", "settled")
    assert len(fig.data) == 4
    assert all(r["B - A"] in (0, None) for r in rows)  # a copy of the same run


def test_store_caches_per_run_folder(dash_app: Dash, results: Path) -> None:
    from pages import _store

    key = _store.run_key("day")
    assert key is not None
    assert _store.table(key, "kpis") is _store.table(key, "kpis")
    assert list(_store.table(key, "intervals", ["time", "nope"]).columns) == ["time"]
    assert _store.table(key, "no_such_table") is None
    assert _store.voltages(key) is _store.voltages(key)
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
