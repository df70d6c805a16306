"""Figure and table builders for the dashboard: pure functions of run data."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from twin.results import RunFolder

#: KPIs shown in the run list, with their column labels.
RUN_LIST_KPIS = {
    "self_sufficiency": "self-sufficiency",
    "peak_import_mw": "peak import [MW]",
    "violations": "violations",
    "infeasible_intervals": "infeasible",
    "community_cost_eur": "cost [EUR]",
}


def run_rows(runs: list[RunFolder]) -> list[dict[str, Any]]:
    """One row a run for the run list: identity, horizon and headline KPIs."""
    rows = []
    for run in runs:
        m = run.manifest
        row: dict[str, Any] = {
            "run": run.path.name,
            "scenario": m.get("scenario"),
            "days": m.get("days"),
            "seed": m.get("seed"),
            "solver": m.get("solver"),
            "started": str(m.get("started", ""))[:19],
            "wall time [s]": m.get("wall_time_s"),
        }
        try:
            kpis = run.kpis()
        except FileNotFoundError:
            kpis = {}
        for key, label in RUN_LIST_KPIS.items():
            value = kpis.get(key)
            row[label] = None if value is None else round(float(value), 4)
        rows.append(row)
    return rows


def kpi_rows(run: RunFolder) -> list[dict[str, Any]]:
    """The run's KPI table as rows of name, value, unit."""
    frame = run.table("kpis")
    return [
        {"name": n, "value": round(float(v), 6), "unit": u}
        for n, v, u in zip(frame["name"], frame["value"], frame["unit"], strict=True)
    ]


def energy_by_source(run: RunFolder) -> go.Figure:
    """Stacked power by node kind over time, with the import at the slack [MW]."""
    power = run.table("node_power")
    kinds = run.table("nodes").set_index("node_id")["kind"]
    power["kind"] = power["node_id"].astype(str).map(kinds)
    by_kind = power.pivot_table(index="time", columns="kind", values="p_mw", aggfunc="sum")
    exchange = run.table("grid_exchange").set_index("time")
    fig = go.Figure()
    for kind in ("consumer", "solar", "wind", "battery"):
        if kind in by_kind:
            fig.add_trace(go.Scatter(x=by_kind.index, y=by_kind[kind], name=kind, mode="lines"))
    fig.add_trace(
        go.Scatter(
            x=exchange.index,
            y=exchange["import_mw"],
            name="grid import",
            mode="lines",
            line={"dash": "dot", "color": "black"},
        )
    )
    fig.update_layout(
        title="Power by source (load convention: generation negative)",
        yaxis_title="p [MW]",
        xaxis_title="time (UTC)",
        legend={"orientation": "h"},
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
