"""Forecasts: forecast vs actual per node, error by horizon, the forecasters' backtest."""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from figures.common import empty_figure
from figures.forecasts import (
    backtest_rows,
    error_by_horizon,
    error_rows,
    forecast_errors,
    forecast_figure,
)
from pages import _store
from pages._ui import columns, graph, notice, table
from twin.backtesting import run_backtest
from twin.scenario import scenario_from_dict

dash.register_page(__name__, path="/forecasts", name="Forecasts", order=2)

#: The quick backtest: forecasts issued every that many steps (96: daily), small fits.
QUICK_ORIGIN_EVERY_STEPS = 96
QUICK_MAX_SAMPLES = 20_000


def layout(**_query: Any) -> html.Div:
    """Node chooser, forecast vs actual, error by horizon and the backtest table."""
    return html.Div(
        [
            html.Div(id="forecast-notice"),
            html.P(id="forecast-placement"),
            html.Div(
                [
                    html.Label("node", htmlFor="forecast-node"),
                    dcc.Dropdown(id="forecast-node", clearable=False, className="dropdown"),
                ],
                className="controls",
            ),
            graph("forecast-node-figure", 420),
            html.Div(
                [
                    html.Div(graph("forecast-errors", 360), className="col-main"),
                    html.Div(
                        table("forecast-error-table", page_size=12, columns=columns([{}])),
                        className="col-side",
                    ),
                ],
                className="row",
            ),
            html.H3("Backtest"),
            html.P(
                "Rolling-origin backtest of the forecasters on this run's community over "
                "SimBench's profile year (train on 9 months, score the last 3): nMAE and skill "
                "against the seasonal naive forecast. A `backtest.parquet` in the run folder "
                "(`gridtwin backtest SCENARIO --out RUN_FOLDER`) is shown as it is; otherwise "
                "run a quick one here (forecasts issued daily, pooled model only, ~10 s)."
            ),
            html.Div(
                [
                    html.Button("Run a quick backtest", id="backtest-run", className="button"),
                    html.Span(id="backtest-status", className="status"),
                ],
                className="controls",
            ),
            table("forecast-backtest", page_size=30, columns=columns([{}])),
            dcc.Store(id="backtest-result"),
        ]
    )


@callback(
    Output("forecast-node", "options"),
    Output("forecast-node", "value"),
    Output("forecast-errors", "figure"),
    Output("forecast-error-table", "data"),
    Output("forecast-error-table", "columns"),
    Output("forecast-notice", "children"),
    Output("forecast-placement", "children"),
    Input("run", "value"),
)
def setup(run: str | None) -> tuple[Any, ...]:
    """The nodes with forecasts, the run's error by horizon and where its forecaster ran."""
    key = _store.run_key(run)
    forecasts = _store.table(key, "forecasts") if key else None
    nodes = _store.table(key, "nodes", ["node_id", "kind"]) if key else None
    if key is None or forecasts is None or nodes is None or forecasts.empty:
        message = notice("This run has no forecasts (forecasting off, or no run chosen).")
        return [], None, empty_figure("no forecasts"), [], [], message, None
    by_node = _store.forecasts_by_node(key)
    kinds = dict(zip(nodes["node_id"].astype(str), nodes["kind"].astype(str), strict=True))
    options = [
        {"label": f"{n} ({kinds.get(n, '?')})", "value": n}
        for n in nodes["node_id"]
        if n in by_node
    ]
    first = next((o["value"] for o in options if kinds.get(o["value"]) == "solar"), None)
    interval_s = int(_store.manifest(key).get("interval_s") or 900)
    errors = forecast_errors(forecasts, nodes)
    rows = error_rows(errors, interval_s)
    return (
        options,
        first or (options[0]["value"] if options else None),
        error_by_horizon(errors, interval_s),
        rows,
        columns(rows),
        None,
        placement_text(_store.manifest(key)),
    )


def placement_text(manifest: dict[str, Any]) -> str:
    """Which placement the run's forecasts came from (``forecasting.placement``; runs from
    before the key were central)."""
    config = manifest.get("config", {}).get("forecasting", {})
    placement = config.get("placement", "central")
    if placement == "edge":
        return (
            "Placement: edge. Each device fitted a small model of its own on its own readings "
            "and sent its forecasts upstream (forecasting.placement = edge)."
        )
    return (
        "Placement: central. One model pooled over every device's readings, fitted upstream "
        "(forecasting.placement = central)."
    )


@callback(
    Output("forecast-node-figure", "figure"),
    Input("forecast-node", "value"),
    State("run", "value"),
)
def show_node(node: str | None, run: str | None) -> go.Figure:
    """The chosen node's forecasts at every recorded horizon against its metered power."""
    key = _store.run_key(run)
    if key is None or not node:
        return empty_figure("choose a node")
    rows = _store.forecasts_by_node(key).get(node)
    if rows is None:
        return empty_figure(f"no forecasts of {node}")
    power = _store.node_powers(key)
    actual = power[node] if power is not None and node in power else None
    interval_s = int(_store.manifest(key).get("interval_s") or 900)
    return forecast_figure(rows, actual, node, interval_s)


@callback(
    Output("forecast-backtest", "data"),
    Output("forecast-backtest", "columns"),
    Output("backtest-status", "children"),
    Input("run", "value"),
    Input("backtest-result", "data"),
)
def show_backtest(run: str | None, result: dict[str, Any] | None) -> tuple[Any, ...]:
    """The run folder's backtest.parquet, else a quick backtest run here for this run."""
    key = _store.run_key(run)
    if key is None:
        return [], [], ""
    interval_s = int(_store.manifest(key).get("interval_s") or 900)
    saved = _store.table(key, "backtest")
    if saved is not None:
        rows = backtest_rows(saved, interval_s)
        return rows, columns(rows), "from backtest.parquet in the run folder"
    if result and result.get("run") == run:
        if result.get("error"):
            return [], [], f"backtest failed: {result['error']}"
        rows = result.get("rows") or []
        return rows, columns(rows), "quick backtest (daily origins, pooled model)"
    return [], [], "no backtest.parquet in this run folder"


@callback(
    Output("backtest-result", "data"),
    Input("backtest-run", "n_clicks"),
    State("run", "value"),
    background=True,
    running=[(Output("backtest-run", "disabled"), True, False)],
    prevent_initial_call=True,
)
def quick_backtest(_clicks: int | None, run: str | None) -> dict[str, Any]:
    """Backtest the forecasters of the run's scenario (cheap settings; a background job)."""
    key = _store.run_key(run)
    if key is None:
        return {"run": run, "error": "no run chosen"}
    manifest = _store.manifest(key)
    try:
        scenario = scenario_from_dict(manifest.get("config") or {}, source=str(run))
        frame = run_backtest(
            scenario,
            origin_every_steps=QUICK_ORIGIN_EVERY_STEPS,
            compare_local=False,
            max_samples=QUICK_MAX_SAMPLES,
        )
    except Exception as err:  # shown on the page instead of a failed request
        return {"run": run, "error": str(err)}
    return {"run": run, "rows": backtest_rows(frame, int(manifest.get("interval_s") or 900))}
