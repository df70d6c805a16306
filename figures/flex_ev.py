"""The EV chargers' builders: each session's energy against its need, and the sessions'
charging over time against their need.

They read ``ev_sessions`` (one row a session: ``need_kwh``, ``delivered_kwh``,
``shortfall_kwh``, ``departed``) and ``flex_ev`` (per charger and interval: ``p_mw``,
``plugged``, ``delivered_kwh`` charged in the session by the interval's end, ``need_kwh``)
(README, "Flexible loads"). A session still plugged in at the run's end (``departed``
False) has no final shortfall: it is drawn apart and never counted as short, as the KPI
``ev_shortfall_kwh`` counts only sessions that left.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, empty_figure

#: Colours of the EV figures' quantities.
EV_COLOURS = {
    "delivered": "#4c78a8",
    "shortfall": "#e45756",
    "open": "#bab0ac",
    "need": "#222222",
}

NO_EV = "this run has no ev_sessions table ([flex] off, or no charging session)"


def session_labels(sessions: pd.DataFrame) -> list[str]:
    """One label a session: its charger and arrival (UTC), e.g. ``load-43 01-12 10:30``."""
    arrival = pd.to_datetime(sessions["arrival"], utc=True)
    return [
        f"{n} {t:%m-%d %H:%M}"
        for n, t in zip(sessions["node_id"].astype(str), arrival, strict=True)
    ]


def _sorted(sessions: pd.DataFrame) -> pd.DataFrame:
    return sessions.sort_values(["arrival", "node_id"], kind="stable")


def departed_shortfall_kwh(sessions: pd.DataFrame) -> float:
    """Energy the sessions that left were short of their need [kWh] (the KPI
    ``ev_shortfall_kwh``; sessions open at the run's end are not final and not counted)."""
    left = sessions["departed"].astype(bool)
    return float(sessions.loc[left, "shortfall_kwh"].clip(lower=0).sum())


def ev_sessions_figure(sessions: pd.DataFrame | None) -> go.Figure:
    """Per session: energy delivered and the shortfall at departure stacked to its need
    [kWh], the need as a marker; sessions open at the run's end apart (not final).

    The title says how many sessions left short and by how much in all.
    """
    if sessions is None or sessions.empty:
        return empty_figure(NO_EV)
    frame = _sorted(sessions)
    labels = session_labels(frame)
    left = frame["departed"].astype(bool).to_numpy()
    short = frame["shortfall_kwh"].clip(lower=0).to_numpy(float)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=frame["delivered_kwh"].to_numpy(float),
            name="delivered [kWh]",
            marker_color=EV_COLOURS["delivered"],
        )
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[s if d else 0.0 for s, d in zip(short, left, strict=True)],
            name="shortfall at departure [kWh]",
            marker_color=EV_COLOURS["shortfall"],
        )
    )
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[0.0 if d else s for s, d in zip(short, left, strict=True)],
            name="still to charge, open at the run's end [kWh]",
            marker_color=EV_COLOURS["open"],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=frame["need_kwh"].to_numpy(float),
            name="need [kWh]",
            mode="markers",
            marker={"symbol": "line-ew-open", "size": 22, "color": EV_COLOURS["need"]},
        )
    )
    n_short = int(((short > 1e-6) & left).sum())
    fig.update_layout(
        title=f"EV energy delivered against need per session [kWh]: {n_short} of "
        f"{int(left.sum())} sessions that left were short, by "
        f"{departed_shortfall_kwh(frame):,.2f} kWh in all",
        barmode="stack",
        yaxis={"title": "energy [kWh]", "rangemode": "tozero"},
        xaxis={"title": "session (charger, arrival UTC)"},
        margin={**MARGIN, "t": 60},
        legend={"orientation": "h", "y": -0.3},
        plot_bgcolor="white",
    )
    return fig


def ev_charging_over_time(flex_ev: pd.DataFrame | None) -> go.Figure:
    """Per charger: energy charged in the plugged session so far against the session's need
    [kWh] (above), and the charging power [kW] (below), over time.

    Each charger is one colour; its need is the dashed step of the same colour, drawn only
    while a car is plugged in.
    """
    if flex_ev is None or flex_ev.empty:
        return empty_figure("this run has no flex_ev table ([flex] off, or no EV charger)")
    frame = flex_ev.sort_values(["node_id", "time"], kind="stable")
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.06
    )
    for node, rows in frame.groupby(frame["node_id"].astype(str), sort=True, observed=True):
        plugged = rows["plugged"].astype(bool)
        if not plugged.any():
            continue
        delivered = rows["delivered_kwh"].where(plugged)
        need = rows["need_kwh"].where(plugged)
        common = {"x": rows["time"], "legendgroup": node, "mode": "lines"}
        fig.add_trace(go.Scatter(y=delivered, name=f"{node} delivered", **common), row=1, col=1)
        fig.add_trace(
            go.Scatter(
                y=need,
                name=f"{node} need",
                line={"dash": "dash", "shape": "hv"},
                showlegend=False,
                **common,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                y=rows["p_mw"] * 1e3,
                name=f"{node} power",
                line={"shape": "hv", "width": 1},
                showlegend=False,
                **common,
            ),
            row=2,
            col=1,
        )
    # one colour a charger in both rows and for its need
    colours = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d"]
    groups = list(dict.fromkeys(t.legendgroup for t in fig.data))
    for trace in fig.data:
        trace.line.color = colours[groups.index(trace.legendgroup) % len(colours)]
    fig.update_yaxes(title_text="charged in session [kWh]", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="power [kW]", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    fig.update_layout(
        title="EV energy charged in each session against its need (dashed) [kWh]; "
        "charging power [kW]",
        margin={**MARGIN, "t": 60},
        legend={"orientation": "h", "y": -0.15},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    return fig
