"""The scenarios page's builders: two runs side by side."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN

#: Shares compared as bars [-> %].
SHARES = {
    "self_sufficiency": "self-sufficiency",
    "self_consumption": "self-consumption",
    "p2p_share": "P2P share",
}

RUN_COLOURS = ("#4c78a8", "#f58518")


def compare_rows(kpis_a: pd.DataFrame, kpis_b: pd.DataFrame) -> list[dict[str, Any]]:
    """Both runs' KPIs side by side: name, unit, A, B and B - A.

    Parameters
    ----------
    kpis_a, kpis_b : DataFrame
        The two runs' ``kpis`` tables (``name``, ``value``, ``unit``); KPIs in either run.
    """
    a, b = _kpi_map(kpis_a), _kpi_map(kpis_b)
    names = list(a) + [n for n in b if n not in a]
    rows = []
    for name in names:
        va, unit = a.get(name, (math.nan, ""))
        vb, unit_b = b.get(name, (math.nan, ""))
        unit = unit or unit_b
        rows.append(
            {
                "name": str(name),
                "unit": str(unit),
                "A": _num(va),
                "B": _num(vb),
                "B - A": _num(vb - va),
            }
        )
    return rows


def compare_figure(
    exchange_a: pd.DataFrame,
    exchange_b: pd.DataFrame,
    kpis_a: pd.DataFrame,
    kpis_b: pd.DataFrame,
    labels: tuple[str, str] = ("A", "B"),
) -> go.Figure:
    """Grid-import duration curves and the key shares of two runs.

    Parameters
    ----------
    exchange_a, exchange_b : DataFrame
        The runs' ``grid_exchange`` (``import_mw``).
    kpis_a, kpis_b : DataFrame
        The runs' ``kpis``.
    labels : tuple of str
        Names of the two runs in the legend.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.6, 0.4],
        subplot_titles=("Grid import duration curve", "Shares"),
    )
    for exchange, kpis, label, colour in zip(
        (exchange_a, exchange_b), (kpis_a, kpis_b), labels, RUN_COLOURS, strict=True
    ):
        load = np.sort(exchange["import_mw"].to_numpy(dtype=float))[::-1] * 1000
        load = load[np.isfinite(load)]
        share = np.linspace(0, 100, len(load)) if len(load) else load
        fig.add_trace(
            go.Scatter(
                x=share,
                y=load,
                name=label,
                legendgroup=label,
                mode="lines",
                line={"color": colour, "width": 2},
            ),
            1,
            1,
        )
        values = kpis.set_index("name")["value"]
        fig.add_trace(
            go.Bar(
                x=list(SHARES.values()),
                y=[float(values.get(k, np.nan)) * 100 for k in SHARES],
                name=label,
                legendgroup=label,
                showlegend=False,
                marker_color=colour,
            ),
            1,
            2,
        )
    fig.update_xaxes(title_text="share of intervals [%]", row=1, col=1)
    fig.update_yaxes(title_text="import [kW]", row=1, col=1)
    fig.update_yaxes(title_text="[%]", range=[0, 100], row=1, col=2)
    fig.update_layout(
        barmode="group",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _kpi_map(kpis: pd.DataFrame) -> dict[str, tuple[float, str]]:
    names = kpis["name"].astype(str).tolist()
    values = kpis["value"].astype(float).tolist()
    units = kpis["unit"].astype(str).tolist()
    return {n: (float(v), u) for n, v, u in zip(names, values, units, strict=True)}


def _num(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
