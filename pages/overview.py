"""Overview: the runs in the results folder, the chosen run's KPIs and its power by source."""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, html

from figures.common import empty_figure, energy_by_source, headline_kpis, kpi_rows, run_rows
from pages import _store
from pages._ui import cards, columns, graph, notice, table

dash.register_page(__name__, path="/", name="Overview", order=0)


def layout(**_query: Any) -> html.Div:
    """KPI cards and power by source of the chosen run; the run list; all its KPIs."""
    runs = _store.runs()
    rows: Any = run_rows(runs, _store.run_kpis(runs))
    folder = _store.results_dir()
    return html.Div(
        [
            html.Div(id="overview-cards", className="cards"),
            graph("overview-energy", 420),
            html.H3("Runs"),
            html.P(
                f"{len(rows)} run(s) in {folder}; click a row to choose it."
                if rows
                else f"No runs in {folder} yet: `make run` writes one, or start one on "
                "the Scenarios page."
            ),
            table("run-list", page_size=10, data=rows, columns=columns(rows)),
            html.H3("All KPIs"),
            table("run-kpis", page_size=40, columns=columns([{"name": 0, "value": 0, "unit": 0}])),
        ]
    )


@callback(
    Output("overview-cards", "children"),
    Output("overview-energy", "figure"),
    Output("run-kpis", "data"),
    Input("run", "value"),
)
def show_run(run: str | None) -> tuple[list[Any], go.Figure, list[dict[str, Any]]]:
    """KPI cards, power by source and the KPI table of the chosen run."""
    key = _store.run_key(run)
    if key is None:
        return (
            [notice("Choose a run (none in the results folder yet).")],
            empty_figure("no run chosen"),
            [],
        )
    kpis = _store.table(key, "kpis")
    batches = _store.table(key, "batches", ["gas_used", "trade_count"])
    rewards = _store.table(key, "rewards", ["amount"])
    power = _store.table(key, "node_power")
    nodes = _store.table(key, "nodes", ["node_id", "kind"])
    exchange = _store.table(key, "grid_exchange", ["time", "import_mw"])
    figure = (
        energy_by_source(power, nodes, exchange)
        if power is not None and nodes is not None and exchange is not None
        else empty_figure("this run has no node_power / grid_exchange table")
    )
    return (
        cards(headline_kpis(_store.kpis(key), batches, rewards)),
        figure,
        kpi_rows(kpis) if kpis is not None else [],
    )


@callback(
    Output("run", "value", allow_duplicate=True),
    Input("run-list", "active_cell"),
    State("run-list", "derived_viewport_data"),
    prevent_initial_call=True,
)
def pick_run(cell: dict[str, Any] | None, rows: list[dict[str, Any]] | None) -> Any:
    """Choose the run of the clicked row."""
    if not cell or not rows or cell.get("row", -1) >= len(rows):
        return dash.no_update
    return rows[cell["row"]]["run"]


@callback(
    Output("run-list", "style_data_conditional"),
    Input("run", "value"),
)
def mark_run(run: str | None) -> list[dict[str, Any]]:
    """Highlight the chosen run in the run list."""
    return [
        {
            "if": {"filter_query": f'{{run}} = "{run}"'},
            "backgroundColor": "#e8f0fe",
            "fontWeight": "600",
        }
    ]
