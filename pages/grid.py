"""Grid: the network map at one interval, a time slider with a play button, a bus's nodes."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from figures.common import empty_figure, moved_marker, time_marks
from figures.geometry import interesting_interval, node_counts
from figures.grid import bus_node_rows, bus_power_figure, grid_timeline, network_map
from pages import _store
from pages._ui import columns, graph, notice, table

dash.register_page(__name__, path="/grid", name="Grid", order=1)

#: Milliseconds between two frames while playing.
PLAY_INTERVAL_MS = 700

#: The notice of a run folder without the static grid tables (written before they existed).
NO_GEOMETRY = (
    "This run has no buses / branches tables (it was written before the results store kept "
    "the grid's geometry), so there is no map; its voltage and loading timeline is below. "
    "Run the scenario again to see the map."
)


def layout(**_query: Any) -> html.Div:
    """Map, slider, play button, bus panel and the run's voltage / loading timeline."""
    return html.Div(
        [
            html.Div(id="grid-notice"),
            html.Div(
                [
                    html.Button("▶ play", id="grid-play", n_clicks=0, className="button"),
                    html.Div(
                        dcc.Slider(
                            id="grid-time",
                            min=0,
                            max=1,
                            step=1,
                            value=0,
                            marks=None,
                            updatemode="drag",
                        ),
                        className="slider",
                    ),
                    html.Span(id="grid-time-label", className="time-label"),
                    dcc.Interval(id="grid-tick", interval=PLAY_INTERVAL_MS, disabled=True),
                ],
                className="controls",
            ),
            html.Div(
                [
                    html.Div(graph("grid-map", 560), className="col-main"),
                    html.Div(
                        [
                            html.H4(id="grid-bus-title", children="Click a bus on the map"),
                            table("grid-bus-nodes", page_size=10, columns=columns([{}])),
                            graph("grid-bus-power", 300),
                        ],
                        className="col-side",
                    ),
                ],
                className="row",
            ),
            graph("grid-timeline", 360),
            dcc.Store(id="grid-bus"),
        ]
    )


@callback(
    Output("grid-time", "max"),
    Output("grid-time", "marks"),
    Output("grid-time", "value"),
    Output("grid-bus", "data"),
    Output("grid-timeline", "figure"),
    Output("grid-notice", "children"),
    Input("run", "value"),
)
def setup(run: str | None) -> tuple[Any, ...]:
    """Slider range and start (the most extreme voltage) and the timeline of the chosen run."""
    key = _store.run_key(run)
    vm = _store.voltages(key) if key else None
    loading = _store.loadings(key) if key else None
    if key is None or vm is None or loading is None or vm.empty:
        message = "Choose a run with power-flow results (bus_voltage, branch_loading)."
        return 1, None, 0, None, empty_figure("no power-flow results"), notice(message)
    grid = (_store.manifest(key).get("config") or {}).get("grid") or {}
    start = interesting_interval(vm)
    figure = grid_timeline(
        vm,
        loading,
        vm.index[start],
        vm_band=(float(grid.get("vm_min_pu", 0.95)), float(grid.get("vm_max_pu", 1.05))),
        max_loading_percent=float(grid.get("max_loading_percent", 100.0)),
    )
    no_map = None if _store.geometry(key) is not None else notice(NO_GEOMETRY, "warning")
    return len(vm) - 1, time_marks(pd.DatetimeIndex(vm.index)), start, None, figure, no_map


@callback(
    Output("grid-map", "figure"),
    Output("grid-time-label", "children"),
    Output("grid-timeline", "figure", allow_duplicate=True),
    Input("grid-time", "value"),
    Input("grid-bus", "data"),
    State("run", "value"),
    prevent_initial_call="initial_duplicate",
)
def draw(position: int | None, bus: int | None, run: str | None) -> tuple[go.Figure, str, Any]:
    """The map at the chosen interval (marked on the timeline too)."""
    key = _store.run_key(run)
    vm = _store.voltages(key) if key else None
    loading = _store.loadings(key) if key else None
    if key is None or vm is None or loading is None or vm.empty:
        return empty_figure("no power-flow results in this run"), "", dash.no_update
    geometry = _store.geometry(key)
    if geometry is None:
        return empty_figure("no map: this run has no buses / branches tables"), "", dash.no_update
    i = min(max(int(position or 0), 0), len(vm) - 1)
    time = vm.index[i]
    grid = (_store.manifest(key).get("config") or {}).get("grid") or {}
    nodes = _store.table(key, "nodes", ["bus"])
    counts = node_counts(nodes) if nodes is not None else {}
    label = f"{time:%Y-%m-%d %H:%M} UTC (interval {i + 1} of {len(vm)})"
    figure = network_map(
        geometry,
        vm.iloc[i],
        loading.loc[time] if time in loading.index else pd.Series(dtype=float),
        node_counts=counts,
        vm_band=(float(grid.get("vm_min_pu", 0.95)), float(grid.get("vm_max_pu", 1.05))),
        selected_bus=bus,
        title=f"Bus voltage and branch loading at {time:%Y-%m-%d %H:%M} UTC"
        + ("" if geometry.geographic else " (schematic layout: the net has no geodata)"),
        uirevision=str(run),
    )
    return figure, label, moved_marker(time)


@callback(
    Output("grid-bus", "data", allow_duplicate=True),
    Input("grid-map", "clickData"),
    prevent_initial_call=True,
)
def pick_bus(click: dict[str, Any] | None) -> Any:
    """Remember the clicked bus (clicks on anything else are ignored)."""
    points = (click or {}).get("points") or []
    if not points or not isinstance(points[0].get("customdata"), int | float):
        return dash.no_update
    return int(points[0]["customdata"])


@callback(
    Output("grid-bus-title", "children"),
    Output("grid-bus-nodes", "data"),
    Output("grid-bus-nodes", "columns"),
    Output("grid-bus-power", "figure"),
    Input("grid-bus", "data"),
    Input("grid-time", "value"),
    State("run", "value"),
)
def show_bus(bus: int | None, position: int | None, run: str | None) -> tuple[Any, ...]:
    """The clicked bus's nodes, their power now and over the run."""
    key = _store.run_key(run)
    if bus is None or key is None:
        return "Click a bus on the map", [], [], empty_figure("click a bus on the map")
    nodes = _store.table(key, "nodes")
    power = _store.node_powers(key)
    times = _store.times(key)
    if nodes is None or power is None or not len(times):
        return f"Bus {bus}", [], [], empty_figure("this run has no node tables")
    time = times[min(max(int(position or 0), 0), len(times) - 1)]
    rows = bus_node_rows(nodes, power, bus, time)
    title = f"Bus {bus}: {len(rows)} node(s) at {time:%Y-%m-%d %H:%M} UTC"
    if not rows:
        return title, [], [], empty_figure(f"no nodes at bus {bus}")
    return title, rows, columns(rows), bus_power_figure(nodes, power, bus, time)


@callback(
    Output("grid-tick", "disabled"),
    Output("grid-play", "children"),
    Input("grid-play", "n_clicks"),
    State("grid-tick", "disabled"),
    prevent_initial_call=True,
)
def play(_clicks: int, disabled: bool) -> tuple[bool, str]:
    """Start or stop playing through the intervals."""
    return (False, "⏸ pause") if disabled else (True, "▶ play")


@callback(
    Output("grid-time", "value", allow_duplicate=True),
    Input("grid-tick", "n_intervals"),
    State("grid-time", "value"),
    State("grid-time", "max"),
    prevent_initial_call=True,
)
def step(_ticks: int, position: int | None, last: int | None) -> int:
    """While playing: the next interval (wrapping around)."""
    return (int(position or 0) + 1) % (int(last or 0) + 1)


@callback(
    Output("grid-time", "value", allow_duplicate=True),
    Input("grid-timeline", "clickData"),
    State("run", "value"),
    prevent_initial_call=True,
)
def pick_time(click: dict[str, Any] | None, run: str | None) -> Any:
    """Jump to the interval clicked on the timeline."""
    position = _store.clicked_interval(_store.run_key(run), click)
    return dash.no_update if position is None else position
