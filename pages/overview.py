"""Overview: the runs in the results folder and the KPIs of the one chosen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html
from dash.dash_table.DataTable import DataTable

from twin.figures import empty_figure, energy_by_source, kpi_rows, run_rows
from twin.results import list_runs, open_run

dash.register_page(__name__, path="/", name="Overview")


def results_dir() -> Path:
    """The folder the dashboard reads runs from."""
    return Path(os.environ.get("GRIDTWIN_RESULTS", "results"))


def layout() -> html.Div:
    """Run list, KPI table and power by source of the chosen run."""
    rows: Any = run_rows(list_runs(results_dir()))
    return html.Div(
        [
            html.H3("Runs"),
            html.P(
                f"{len(rows)} run(s) in {results_dir()}"
                if rows
                else f"No runs in {results_dir()} yet: `make run` writes one."
            ),
            DataTable(
                id="run-list",
                data=rows,
                columns=[{"name": k, "id": k} for k in (rows[0] if rows else {"run": 0})],
                row_selectable="single",
                selected_rows=[0] if rows else [],
                sort_action="native",
                style_table={"overflowX": "auto"},
                style_cell={"fontSize": 13, "padding": "4px"},
            ),
            html.Div(
                [
                    html.Div(
                        DataTable(id="run-kpis", style_cell={"fontSize": 13}),
                        style={"flex": "0 0 360px"},
                    ),
                    dcc.Graph(id="run-energy", style={"flex": "1"}),
                ],
                style={"display": "flex", "gap": "16px", "marginTop": "16px"},
            ),
        ]
    )


@callback(
    Output("run-kpis", "data"),
    Output("run-energy", "figure"),
    Input("run-list", "selected_rows"),
    Input("run-list", "data"),
)
def show_run(
    selected: list[int] | None, rows: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], go.Figure]:
    """KPIs and power by source of the selected run."""
    if not selected or not rows:
        return [], empty_figure("choose a run")
    run = open_run(results_dir() / str(rows[selected[0]]["run"]))
    return kpi_rows(run), energy_by_source(run)
