"""The grid operator's dimming (§14a EnWG) builders: energy dimmed per interval and device
kind, violations before and after, and each owner's fee reduction beside what it gave up.

They read ``dimming`` (one row an interval and device dimmed: ``kind``, ``owner``,
``requested_mw``, ``p_mw``, ``dimmed_kwh``), ``dimming_devices`` (one row a controllable
device: ``owner``, ``dimmed_kwh``, ``intervals_dimmed``, ``grid_fee_reduction_micro_eur``)
and the KPIs ``dimming_violations_before`` / ``_after`` (README, "Dimming"). Every
controllable device's owner is credited the reduction, dimmed or not.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, empty_figure
from figures.flex_shift import FLEX_COLOURS

MICRO = 1_000_000
NO_DIMMING = "this run has no dimming tables ([flex.dimming] off, or a run made before it)"
#: Device kinds of the ``dimming`` table, in the order they are stacked.
KINDS = ("ev", "heat_pump", "battery")


def dimmed_by_kind(dimming: pd.DataFrame) -> pd.DataFrame:
    """Time x kind energy dimmed [kWh] (kinds the table has, in :data:`KINDS` order)."""
    table = dimming.pivot_table(
        index="time", columns=dimming["kind"].astype(str), values="dimmed_kwh", aggfunc="sum"
    ).fillna(0.0)
    order = [k for k in KINDS if k in table] + [k for k in table if k not in KINDS]
    return table[order].sort_index()


def dimmed_energy(dimming: pd.DataFrame | None) -> go.Figure:
    """Energy the operator dimmed per interval, stacked by device kind [kWh]; the total and
    the number of intervals in the title."""
    if dimming is None:
        return empty_figure(NO_DIMMING)
    if dimming.empty:
        return empty_figure("the operator dimmed nothing in this run (no congestion it relieves)")
    table = dimmed_by_kind(dimming)
    fig = go.Figure()
    for kind in table.columns:
        fig.add_trace(
            go.Bar(
                x=table.index,
                y=table[kind].to_numpy(float),
                name=f"{kind.replace('_', ' ')} [kWh]",
                marker_color=FLEX_COLOURS.get(kind, "#888"),
            )
        )
    fig.update_layout(
        title=f"Energy dimmed per interval and device kind [kWh]: "
        f"{table.to_numpy().sum():,.2f} kWh in {len(table)} intervals",
        barmode="stack",
        yaxis={"title": "dimmed [kWh]", "rangemode": "tozero"},
        xaxis={"title": "interval start (UTC)"},
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
        plot_bgcolor="white",
    )
    return fig


def dimming_violations(kpis: Mapping[str, float]) -> go.Figure:
    """Limit violations (every kind, summed over intervals) before the operator acted and
    after everything [count], from the KPIs."""
    if "dimming_violations_before" not in kpis:
        return empty_figure(NO_DIMMING)
    before = float(kpis["dimming_violations_before"])
    after = float(kpis.get("dimming_violations_after", kpis.get("violations", 0.0)))
    fig = go.Figure(
        go.Bar(
            x=["before the operator", "after dimming"],
            y=[before, after],
            marker_color=["#e45756", "#54a24b"],
            text=[f"{before:.0f}", f"{after:.0f}"],
            textposition="outside",
            name="violations",
        )
    )
    fig.update_layout(
        title=f"Limit violations summed over intervals [count]: {before:.0f} before, "
        f"{after:.0f} after",
        yaxis={"title": "violations", "rangemode": "tozero"},
        margin=MARGIN,
        plot_bgcolor="white",
    )
    return fig


def by_owner(devices: pd.DataFrame) -> pd.DataFrame:
    """Per owner: fee reduction [EUR], energy dimmed [kWh], devices [count]; sorted by
    energy dimmed, then owner."""
    frame = devices.assign(owner=devices["owner"].astype(str))
    out = frame.groupby("owner").agg(
        fee_reduction_eur=("grid_fee_reduction_micro_eur", "sum"),
        dimmed_kwh=("dimmed_kwh", "sum"),
        devices=("node_id", "count"),
    )
    out["fee_reduction_eur"] = out["fee_reduction_eur"] / MICRO
    return out.sort_values(["dimmed_kwh"], ascending=False, kind="stable")


def fee_reduction_by_owner(devices: pd.DataFrame | None) -> go.Figure:
    """Who gains and who gives up: each owner's §14a grid-fee reduction [EUR] (above) beside
    the energy its devices were dimmed [kWh] (below); the totals in the title."""
    if devices is None or devices.empty:
        return empty_figure(NO_DIMMING)
    owners = by_owner(devices)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Bar(
            x=list(owners.index),
            y=owners["fee_reduction_eur"].to_numpy(float),
            name="fee reduction [EUR]",
            marker_color="#54a24b",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=list(owners.index),
            y=owners["dimmed_kwh"].to_numpy(float),
            name="energy dimmed [kWh]",
            marker_color="#e45756",
        ),
        row=2,
        col=1,
    )
    dimmed = int((owners["dimmed_kwh"] > 0).sum())
    fig.update_yaxes(title_text="EUR", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="kWh", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text="owner", row=2, col=1)
    fig.update_layout(
        title=f"§14a fee reduction per owner [EUR] ({owners['fee_reduction_eur'].sum():,.2f} "
        f"EUR to {len(owners)} owners) beside energy dimmed [kWh] "
        f"({owners['dimmed_kwh'].sum():,.2f} kWh from {dimmed} of them)",
        margin={**MARGIN, "t": 60},
        legend={"orientation": "h", "y": -0.25},
        plot_bgcolor="white",
    )
    return fig
