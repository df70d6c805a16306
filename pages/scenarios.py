"""Scenarios: run a scenario with changed key parameters in the background; compare two runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from figures.common import empty_figure
from figures.compare import compare_figure, compare_rows
from pages import _store
from pages._ui import columns, graph, notice, table
from twin.engine import default_out, run_scenario
from twin.scenario import ScenarioError, load_scenario

dash.register_page(__name__, path="/scenarios", name="Scenarios", order=5)

#: The project's scenario files.
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"

SHARE_MARKS = {v / 10: f"{v * 10}%" for v in range(0, 11, 2)}


def scenario_files() -> list[str]:
    """The scenario files in ``scenarios/`` (names), ``default.toml`` first."""
    names = sorted(p.name for p in SCENARIOS_DIR.glob("*.toml"))
    return sorted(names, key=lambda n: n != "default.toml")


def scenario_overrides(
    days: int,
    pv_share: float,
    battery_share: float,
    battery_control: str,
    mechanism: str,
    network_aware: bool,
) -> list[str]:
    """The form's values as ``KEY=VALUE`` overrides of the scenario file."""
    return [
        f"run.days={int(days)}",
        f"nodes.pv_share={float(pv_share)}",
        f"nodes.battery_share={float(battery_share)}",
        f'forecasting.battery_control="{battery_control}"',
        f'market.mechanism="{mechanism}"',
        f"market.network_aware={'true' if network_aware else 'false'}",
    ]


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="field")


def layout(**_query: Any) -> html.Div:
    """The run form with its progress bar, and the comparison of two runs."""
    files = scenario_files()
    form = html.Div(
        [
            html.H3("Run a scenario"),
            _field(
                "scenario file",
                dcc.Dropdown(
                    id="scn-file",
                    options=files,
                    value=files[0] if files else None,
                    clearable=False,
                ),
            ),
            _field("days", dcc.Input(id="scn-days", type="number", min=1, max=366, step=1)),
            _field(
                "PV share of homes",
                dcc.Slider(id="scn-pv", min=0, max=1, step=0.05, marks=SHARE_MARKS),
            ),
            _field(
                "battery share of homes",
                dcc.Slider(id="scn-battery", min=0, max=1, step=0.05, marks=SHARE_MARKS),
            ),
            _field(
                "battery control",
                dcc.RadioItems(
                    id="scn-control",
                    options=["forecast", "self_consumption", "idle"],
                    inline=True,
                ),
            ),
            _field(
                "market mechanism",
                dcc.RadioItems(id="scn-mechanism", options=["uniform", "pay_as_bid"], inline=True),
            ),
            _field(
                "grid check",
                dcc.Checklist(
                    id="scn-aware",
                    options=[{"label": " network-aware clearing", "value": "on"}],
                ),
            ),
            html.Div(
                [
                    html.Button("Run", id="scn-run", className="button button-primary"),
                    html.Button("Cancel", id="scn-cancel", className="button", disabled=True),
                ],
                className="controls",
            ),
            html.Progress(id="scn-progress", value="0", max="1", className="progress"),
            html.Div(id="scn-status", className="status"),
            dcc.Store(id="scn-last-run"),
        ],
        className="col-side form",
    )
    compare = html.Div(
        [
            html.H3("Compare two runs"),
            html.Div(
                [
                    _field("A", dcc.Dropdown(id="cmp-a", clearable=False)),
                    _field("B", dcc.Dropdown(id="cmp-b", clearable=False)),
                ],
                className="row",
            ),
            graph("cmp-figure", 380),
            table("cmp-kpis", page_size=40, columns=columns([{}])),
        ],
        className="col-main",
    )
    return html.Div([form, compare], className="row")


def _scenario_path(name: str) -> Path:
    """The file of scenario ``name``: only a file the page offers (under ``scenarios/``).

    Raises
    ------
    ScenarioError
        For any other name (a path, ``..``, a NUL byte, a file that is not offered).
    """
    if name not in scenario_files():
        raise ScenarioError(f"{name!r}: not a scenario file in scenarios/")
    return SCENARIOS_DIR / name


@callback(
    Output("scn-days", "value"),
    Output("scn-pv", "value"),
    Output("scn-battery", "value"),
    Output("scn-control", "value"),
    Output("scn-mechanism", "value"),
    Output("scn-aware", "value"),
    Output("scn-status", "children"),
    Input("scn-file", "value"),
)
def load_defaults(name: str | None) -> tuple[Any, ...]:
    """The chosen scenario file's values of the form's parameters."""
    if not name:
        return (dash.no_update,) * 6 + (notice("No scenario files in scenarios/."),)
    try:
        sc = load_scenario(_scenario_path(name))
    except ScenarioError as err:
        return (dash.no_update,) * 6 + (notice(str(err), "warning"),)
    return (
        sc.run.days,
        sc.nodes.pv_share,
        sc.nodes.battery_share,
        sc.forecasting.battery_control,
        sc.market.mechanism,
        ["on"] if sc.market.network_aware else [],
        "",
    )


@callback(
    Output("scn-last-run", "data"),
    Output("scn-status", "children", allow_duplicate=True),
    Input("scn-run", "n_clicks"),
    State("scn-file", "value"),
    State("scn-days", "value"),
    State("scn-pv", "value"),
    State("scn-battery", "value"),
    State("scn-control", "value"),
    State("scn-mechanism", "value"),
    State("scn-aware", "value"),
    background=True,
    progress=[Output("scn-progress", "value"), Output("scn-progress", "max")],
    running=[
        (Output("scn-run", "disabled"), True, False),
        (Output("scn-cancel", "disabled"), False, True),
    ],
    cancel=[Input("scn-cancel", "n_clicks")],
    prevent_initial_call=True,
)
def start_run(
    set_progress: Callable[[tuple[int, int]], None],
    _clicks: int | None,
    name: str | None,
    days: int | None,
    pv_share: float | None,
    battery_share: float | None,
    control: str | None,
    mechanism: str | None,
    aware: list[str] | None,
) -> tuple[Any, Any]:
    """Run the scenario with the form's values into the results folder (a background job)."""
    if not name or days is None or pv_share is None or battery_share is None:
        return dash.no_update, notice("Fill in every field (days: 1 to 366).", "warning")
    overrides = scenario_overrides(
        days,
        pv_share,
        battery_share,
        control or "forecast",
        mechanism or "uniform",
        bool(aware),
    )
    try:
        scenario = load_scenario(_scenario_path(name), overrides)
    except ScenarioError as err:
        return dash.no_update, notice(str(err), "warning")
    set_progress((0, scenario.run.n_intervals))
    try:
        result = run_scenario(
            scenario,
            default_out(scenario, _store.results_dir()),
            progress=lambda done, total: set_progress((done, total)),
            scenario_file=f"scenarios/{name}",
        )
    except Exception as err:  # shown on the page instead of a failed request
        return dash.no_update, notice(f"The run failed: {err}", "warning")
    run = result.path.name
    return run, html.Span(
        [
            f"Finished {run} in {result.wall_time_s:.1f} s; ",
            dcc.Link("see it on the overview", href="/"),
            " (it is now in the run list) or compare it here as B.",
        ]
    )


@callback(
    Output("cmp-a", "options"),
    Output("cmp-b", "options"),
    Output("cmp-a", "value"),
    Output("cmp-b", "value"),
    Input("scn-last-run", "data"),
    State("run", "value"),
)
def compare_choices(last_run: str | None, chosen: str | None) -> tuple[Any, ...]:
    """Runs to compare: A the run chosen in the header, B the newest run (or the one just made)."""
    names = _store.run_names()
    a = chosen if chosen in names else (names[0] if names else None)
    others = [n for n in names if n != a]
    b = last_run if last_run in names and last_run != a else (others[0] if others else a)
    return names, names, a, b


@callback(
    Output("cmp-figure", "figure"),
    Output("cmp-kpis", "data"),
    Output("cmp-kpis", "columns"),
    Input("cmp-a", "value"),
    Input("cmp-b", "value"),
)
def compare(a: str | None, b: str | None) -> tuple[go.Figure, Any, Any]:
    """KPIs side by side and import duration curves / shares of runs A and B."""
    key_a, key_b = _store.run_key(a), _store.run_key(b)
    if key_a is None or key_b is None:
        return empty_figure("choose two runs"), [], []
    kpis_a, kpis_b = _store.table(key_a, "kpis"), _store.table(key_b, "kpis")
    ex_a = _store.table(key_a, "grid_exchange", ["import_mw"])
    ex_b = _store.table(key_b, "grid_exchange", ["import_mw"])
    if kpis_a is None or kpis_b is None or ex_a is None or ex_b is None:
        return empty_figure("a run lacks its kpis / grid_exchange tables"), [], []
    rows = compare_rows(kpis_a, kpis_b)
    figure = compare_figure(ex_a, ex_b, kpis_a, kpis_b, labels=(f"A: {a}", f"B: {b}"))
    return figure, rows, columns(rows)
