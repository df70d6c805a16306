"""The grid page's builders: the network map at one interval, the timeline, a bus's nodes.

Pure functions of results-store frames and of the net's geometry
(:mod:`figures.geometry`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import KIND_COLOURS, MARGIN
from figures.geometry import NetworkGeometry

#: Line / transformer loading classes of the map: (upper bound [%], label, colour).
LOADING_CLASSES: tuple[tuple[float, str, str], ...] = (
    (25.0, "< 25 %", "#2ca02c"),
    (50.0, "25-50 %", "#9acd32"),
    (75.0, "50-75 %", "#f0c000"),
    (100.0, "75-100 %", "#ff7f0e"),
    (math.inf, "> 100 %", "#d62728"),
)
NO_RESULT = "#bbbbbb"


def network_map(
    geometry: NetworkGeometry,
    vm_pu: pd.Series,
    loading_percent: pd.Series,
    *,
    node_counts: Mapping[int, int] | None = None,
    vm_band: tuple[float, float] = (0.95, 1.05),
    selected_bus: int | None = None,
    title: str = "",
    uirevision: str = "map",
) -> go.Figure:
    """The network at one interval: buses coloured by voltage, branches by loading.

    Parameters
    ----------
    geometry : NetworkGeometry
        Where to draw.
    vm_pu : Series
        Bus voltage [p.u.] by bus index (NaN: no result).
    loading_percent : Series
        Branch loading [%] indexed by (kind, branch).
    node_counts : mapping, optional
        Number of nodes at each bus (bigger markers where there are nodes).
    vm_band : tuple of float
        The voltage band [p.u.]: the colour scale's ends.
    selected_bus : int, optional
        Bus to ring.
    title : str
        Figure title.
    uirevision : str
        Keeps zoom and pan while only the interval changes.
    """
    buses, branches = geometry.buses, geometry.branches
    counts = node_counts or {}
    fig = go.Figure()
    if len(geometry.links):
        fig.add_trace(_segments(geometry.links, buses, "switch", NO_RESULT, width=1, dash="dot"))
    loading = np.asarray(
        [
            loading_percent.get((k, b), np.nan)
            for k, b in zip(branches["kind"], branches["branch"], strict=True)
        ],
        dtype=float,
    )
    lower = -math.inf
    for upper, label, colour in LOADING_CLASSES:
        mask = (loading >= lower) & (loading < upper)
        lower = upper
        fig.add_trace(_segments(branches[mask], buses, label, colour, width=3))
    missing = ~np.isfinite(loading)
    if missing.any():
        fig.add_trace(_segments(branches[missing], buses, "no result", NO_RESULT, width=2))
    mid_x = (
        buses.loc[branches["from_bus"], "x"].to_numpy()
        + buses.loc[branches["to_bus"], "x"].to_numpy()
    ) / 2
    mid_y = (
        buses.loc[branches["from_bus"], "y"].to_numpy()
        + buses.loc[branches["to_bus"], "y"].to_numpy()
    ) / 2
    fig.add_trace(
        go.Scatter(
            x=mid_x,
            y=mid_y,
            mode="markers",
            marker={"size": 7, "color": "rgba(0,0,0,0)"},
            text=[
                f"{k} {b}: {_pct(v)}"
                for k, b, v in zip(branches["kind"], branches["branch"], loading, strict=True)
            ],
            hoverinfo="text",
            showlegend=False,
            name="branches",
        )
    )
    vm = np.asarray([vm_pu.get(b, np.nan) for b in buses.index], dtype=float)
    n_nodes = np.asarray([counts.get(int(b), 0) for b in buses.index])
    symbols = ["square" if int(b) in geometry.slack_buses else "circle" for b in buses.index]
    fig.add_trace(
        go.Scatter(
            x=buses["x"],
            y=buses["y"],
            mode="markers",
            name="buses",
            # a list, not an array: Dash passes a click's customdata only when it is not
            # binary-encoded (plotly encodes numpy arrays)
            customdata=[int(b) for b in buses.index],
            marker={
                "size": np.where(n_nodes > 0, 12, 7),
                "symbol": symbols,
                "color": np.where(np.isfinite(vm), vm, 1.0),
                "colorscale": "RdBu_r",
                "cmin": vm_band[0],
                "cmax": vm_band[1],
                "colorbar": {"title": {"text": "vm [p.u.]"}, "thickness": 14},
                "line": {"width": 0.5, "color": "#333"},
            },
            text=[
                f"bus {b} ({name})<br>vm = {_pu(v)}<br>{n} node(s)"
                for b, name, v, n in zip(buses.index, buses["name"], vm, n_nodes, strict=True)
            ],
            hoverinfo="text",
            showlegend=False,
        )
    )
    if selected_bus is not None and selected_bus in buses.index:
        fig.add_trace(
            go.Scatter(
                x=[buses.at[selected_bus, "x"]],
                y=[buses.at[selected_bus, "y"]],
                mode="markers",
                marker={
                    "size": 20,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 2.5, "color": "black"},
                },
                hoverinfo="skip",
                showlegend=False,
                name="selected",
            )
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(
        title=title,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"title": {"text": "loading"}, "orientation": "h", "y": -0.02},
        plot_bgcolor="white",
        uirevision=uirevision,
        clickmode="event",
        hovermode="closest",
    )
    return fig


def _segments(
    edges: pd.DataFrame,
    buses: pd.DataFrame,
    name: str,
    colour: str,
    width: float,
    dash: str = "solid",
) -> go.Scatter:
    """One trace of straight segments between bus pairs (None-separated)."""
    x0 = buses.loc[edges["from_bus"], "x"].to_numpy()
    x1 = buses.loc[edges["to_bus"], "x"].to_numpy()
    y0 = buses.loc[edges["from_bus"], "y"].to_numpy()
    y1 = buses.loc[edges["to_bus"], "y"].to_numpy()
    gap = np.full(len(edges), np.nan)
    return go.Scatter(
        x=np.column_stack([x0, x1, gap]).ravel(),
        y=np.column_stack([y0, y1, gap]).ravel(),
        mode="lines",
        name=name,
        line={"color": colour, "width": width, "dash": dash},
        hoverinfo="skip",
        connectgaps=False,
        showlegend=bool(len(edges)),
    )


def grid_timeline(
    vm: pd.DataFrame,
    loading: pd.DataFrame,
    time: pd.Timestamp | None,
    *,
    vm_band: tuple[float, float] = (0.95, 1.05),
    max_loading_percent: float = 100.0,
) -> go.Figure:
    """Voltage range and highest loading over the run, with the chosen interval marked.

    Parameters
    ----------
    vm : DataFrame
        Time x bus voltages [p.u.] (:func:`voltage_matrix`).
    loading : DataFrame
        Time x branch loadings [%] (:func:`loading_matrix`).
    time : Timestamp, optional
        The interval shown on the map.
    vm_band : tuple of float
        Voltage limits [p.u.], drawn dashed.
    max_loading_percent : float
        Loading limit [%], drawn dashed.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Scatter(
            x=vm.index, y=vm.max(axis=1), name="max vm", line={"color": "#d62728", "width": 1}
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=vm.index, y=vm.min(axis=1), name="min vm", line={"color": "#1f77b4", "width": 1}
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=loading.index,
            y=loading.max(axis=1),
            name="max loading",
            line={"color": "#ff7f0e", "width": 1},
        ),
        2,
        1,
    )
    if time is not None:  # first shape: pages move it with a Patch of layout.shapes[0]
        fig.add_vline(x=time, line={"color": "black", "width": 1})
    for y in vm_band:
        fig.add_hline(y=y, line={"dash": "dash", "color": "#999", "width": 1}, row=1, col=1)
    fig.add_hline(
        y=max_loading_percent, line={"dash": "dash", "color": "#999", "width": 1}, row=2, col=1
    )
    fig.update_yaxes(title_text="vm [p.u.]", row=1, col=1)
    fig.update_yaxes(title_text="loading [%]", row=2, col=1)
    fig.update_layout(
        title="Voltage range and highest loading (click to pick an interval)",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
        uirevision="timeline",
    )
    return fig


def bus_node_rows(
    nodes: pd.DataFrame, power: pd.DataFrame, bus: int, time: pd.Timestamp
) -> list[dict[str, Any]]:
    """The nodes at ``bus`` and their power at ``time``.

    Parameters
    ----------
    nodes : DataFrame
        The ``nodes`` table.
    power : DataFrame
        Time x node_id power [MW] (load convention).
    bus : int
        pandapower bus index.
    time : Timestamp
        The interval.
    """
    here = nodes[nodes["bus"] == bus]
    at = power.loc[time] if time in power.index else pd.Series(dtype=float)
    return [
        {
            "node": str(n),
            "kind": str(k),
            "owner": str(o),
            "p_max [kW]": round(float(p) * 1000, 2),
            "p now [kW]": None if pd.isna(at.get(n)) else round(float(at[n]) * 1000, 3),
        }
        for n, k, o, p in zip(
            here["node_id"], here["kind"], here["owner"], here["p_max_mw"], strict=True
        )
    ]


def bus_power_figure(
    nodes: pd.DataFrame, power: pd.DataFrame, bus: int, time: pd.Timestamp | None
) -> go.Figure:
    """Power of each node at ``bus`` over the run [kW], the chosen interval marked."""
    here = nodes[nodes["bus"] == bus]
    fig = go.Figure()
    for node_id, kind in zip(here["node_id"].astype(str), here["kind"].astype(str), strict=True):
        if node_id in power:
            fig.add_trace(
                go.Scatter(
                    x=power.index,
                    y=power[node_id] * 1000,
                    name=node_id,
                    mode="lines",
                    line={"width": 1.2, "color": KIND_COLOURS.get(kind)},
                )
            )
    if time is not None:
        fig.add_vline(x=time, line={"color": "black", "width": 1})
    fig.update_layout(
        title=f"Nodes at bus {bus} [kW, load convention]",
        yaxis_title="p [kW]",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig


def _pct(value: float) -> str:
    return f"{value:.1f} %" if math.isfinite(value) else "no result"


def _pu(value: float) -> str:
    return f"{value:.4f} p.u." if math.isfinite(value) else "no result"
