"""The market page's builders: price and volume, an interval's order book, savings by owner."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, format_value, gains_cards

#: Market KPIs of the page's cards: name -> (label, unit shown, scale, decimals).
MARKET_KPIS: dict[str, tuple[str, str, float, int]] = {
    "p2p_share": ("P2P share of purchases", "%", 100.0, 1),
    "p2p_traded_mwh": ("P2P traded", "MWh", 1.0, 3),
    "price_mean_eur_per_mwh": ("mean P2P price", "EUR/MWh", 1.0, 1),
    "savings_eur": ("savings vs utility only", "EUR", 1.0, 0),
}


def market_cards(kpis: Mapping[str, float]) -> list[dict[str, str]]:
    """The market's KPI cards (label, formatted value, unit); absent KPIs left out.

    Then who gains and who loses: the homes, and the other accounts apart
    (:func:`figures.common.gains_cards`).
    """
    return [
        {"label": label, "value": format_value(kpis[name] * scale, decimals), "unit": unit}
        for name, (label, unit, scale, decimals) in MARKET_KPIS.items()
        if name in kpis
    ] + gains_cards(kpis)


def busiest_interval(intervals: pd.DataFrame) -> int:
    """Position of the interval with the most P2P energy traded (0 if none traded)."""
    traded = intervals["traded_wh"].to_numpy() if "traded_wh" in intervals else np.zeros(0)
    return int(np.argmax(traded)) if len(traded) and traded.max() > 0 else 0


def price_volume_figure(intervals: pd.DataFrame, time: pd.Timestamp | None) -> go.Figure:
    """Clearing price [EUR/MWh] and P2P volume [kWh] per interval, ``time`` marked.

    Parameters
    ----------
    intervals : DataFrame
        ``time``, ``clearing_price_eur_per_mwh``, ``traded_wh``.
    time : Timestamp, optional
        The interval whose order book is shown.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Scatter(
            x=intervals["time"],
            y=intervals["clearing_price_eur_per_mwh"],
            name="clearing price",
            mode="lines",
            line={"color": "#4c78a8", "width": 1.2, "shape": "hv"},
        ),
        1,
        1,
    )
    fig.add_trace(
        go.Scatter(
            x=intervals["time"],
            y=intervals["traded_wh"] / 1000,
            name="P2P traded",
            mode="lines",
            fill="tozeroy",
            line={"color": "#54a24b", "width": 1, "shape": "hv"},
        ),
        2,
        1,
    )
    if time is not None:  # the only shape: pages move it with a Patch of layout.shapes[0]
        fig.add_vline(x=time, line={"color": "black", "width": 1})
    fig.update_yaxes(title_text="price [EUR/MWh]", row=1, col=1)
    fig.update_yaxes(title_text="traded [kWh]", row=2, col=1)
    fig.update_layout(
        title="Clearing price and P2P volume per interval (click to pick an interval)",
        margin=MARGIN,
        showlegend=False,
        hovermode="x unified",
        uirevision="market",
    )
    return fig


def _steps(energy_wh: np.ndarray, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A step curve through orders already sorted in merit order: x [kWh], y [EUR/MWh]."""
    cum = np.r_[0.0, np.cumsum(energy_wh)] / 1000
    x = np.repeat(cum, 2)[1:-1]
    y = np.repeat(price, 2)
    return x, y


def order_book_figure(
    orders: pd.DataFrame, clearing_price: float | None, traded_wh: float | None, title: str
) -> go.Figure:
    """Supply and demand curves of one interval's orders.

    Parameters
    ----------
    orders : DataFrame
        The interval's ``orders``: ``participant``, ``side`` (buy / sell), ``energy_wh``,
        ``limit_price_eur_per_mwh``.
    clearing_price : float, optional
        The interval's clearing price [EUR/MWh] (NaN or None: no trade).
    traded_wh : float, optional
        Energy traded [Wh].
    title : str
        Figure title.
    """
    fig = go.Figure()
    for side, name, colour, ascending in (
        ("sell", "supply (asks)", "#54a24b", True),
        ("buy", "demand (bids)", "#e45756", False),
    ):
        book = orders[orders["side"].astype(str) == side].sort_values(
            ["limit_price_eur_per_mwh", "energy_wh"], ascending=[ascending, False]
        )
        if not len(book):
            continue
        x, y = _steps(
            book["energy_wh"].to_numpy(dtype=float),
            book["limit_price_eur_per_mwh"].to_numpy(dtype=float),
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=f"{name}: {len(book)} orders",
                mode="lines",
                line={"color": colour, "width": 2},
                hovertemplate="%{x:.2f} kWh at %{y:.1f} EUR/MWh",
            )
        )
    if clearing_price is not None and math.isfinite(clearing_price):
        fig.add_hline(
            y=clearing_price,
            line={"dash": "dash", "color": "#333", "width": 1},
            annotation_text=f"clearing price {clearing_price:.1f} EUR/MWh",
        )
    if traded_wh:
        fig.add_vline(
            x=traded_wh / 1000,
            line={"dash": "dot", "color": "#333", "width": 1},
            annotation_text=f"traded {traded_wh / 1000:.2f} kWh",
            annotation_position="bottom right",
        )
    if not len(orders):
        fig.add_annotation(
            text="no orders in this interval", showarrow=False, xref="paper", yref="paper"
        )
    fig.update_layout(
        title=title,
        xaxis_title="cumulative energy [kWh]",
        yaxis_title="limit price [EUR/MWh]",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def savings_figure(bills: pd.DataFrame) -> go.Figure:
    """Each owner's saving over the run [EUR]: utility-only bill minus the bill with P2P.

    Parameters
    ----------
    bills : DataFrame
        ``owner``, ``cost_micro_eur``, ``baseline_cost_micro_eur``, ``p2p_bought_wh``,
        ``import_wh``.
    """
    saving = (bills["baseline_cost_micro_eur"] - bills["cost_micro_eur"]).to_numpy() / 1e6
    order = np.argsort(-saving, kind="stable")
    bought = bills["p2p_bought_wh"].to_numpy(dtype=float)
    purchases = bought + bills["import_wh"].to_numpy(dtype=float)
    share = np.divide(bought, purchases, out=np.full_like(bought, np.nan), where=purchases > 0)
    fig = go.Figure(
        go.Bar(
            x=bills["owner"].astype(str).to_numpy()[order],
            y=saving[order],
            marker_color=np.where(saving[order] >= 0, "#54a24b", "#e45756"),
            customdata=np.column_stack([share[order] * 100, purchases[order] / 1000]),
            hovertemplate="%{x}: %{y:.2f} EUR<br>P2P share of purchases %{customdata[0]:.1f} %"
            "<br>purchases %{customdata[1]:.1f} kWh<extra></extra>",
        )
    )
    fig.update_layout(
        title="Savings per participant (utility-only bill minus bill with the P2P market)",
        yaxis_title="saving [EUR]",
        margin=MARGIN,
    )
    return fig


def purchases_figure(bills: pd.DataFrame) -> go.Figure:
    """Each owner's purchases [kWh]: bought P2P vs imported from the utility."""
    order = np.argsort(
        -(bills["p2p_bought_wh"] + bills["import_wh"]).to_numpy(dtype=float), kind="stable"
    )
    owners = bills["owner"].astype(str).to_numpy()[order]
    fig = go.Figure()
    for column, name, colour in (
        ("p2p_bought_wh", "bought P2P", "#54a24b"),
        ("import_wh", "from the utility", "#9d9d9d"),
    ):
        fig.add_trace(
            go.Bar(
                x=owners,
                y=bills[column].to_numpy(dtype=float)[order] / 1000,
                name=name,
                marker_color=colour,
            )
        )
    fig.update_layout(
        title="Purchases per participant: P2P share",
        barmode="stack",
        yaxis_title="energy [kWh]",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def interval_summary(intervals: pd.DataFrame, position: int) -> dict[str, Any]:
    """The chosen interval's time, clearing price and volume."""
    row = intervals.iloc[position]
    price = float(row["clearing_price_eur_per_mwh"])
    return {
        "time": pd.Timestamp(row["time"]),
        "clearing_price_eur_per_mwh": price if math.isfinite(price) else None,
        "traded_wh": float(row["traded_wh"]),
    }
