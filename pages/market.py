"""Market: clearing price and volume, an interval's supply and demand, savings per owner."""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from figures.common import empty_figure, moved_marker, time_marks
from figures.market import (
    busiest_interval,
    interval_summary,
    market_cards,
    order_book_figure,
    price_volume_figure,
    purchases_figure,
    savings_figure,
)
from pages import _store
from pages._ui import cards, graph, notice

dash.register_page(__name__, path="/market", name="Market", order=3)

INTERVAL_COLUMNS = ["time", "clearing_price_eur_per_mwh", "traded_wh"]


def layout(**_query: Any) -> html.Div:
    """KPI cards, price / volume, the interval's order book, savings and purchases."""
    return html.Div(
        [
            html.Div(id="market-notice"),
            html.Div(id="market-cards", className="cards"),
            graph("market-price", 420),
            html.Div(
                [
                    html.Span("interval", className="control-label"),
                    html.Div(
                        dcc.Slider(id="market-time", min=0, max=1, step=1, value=0, marks=None),
                        className="slider",
                    ),
                    html.Span(id="market-time-label", className="time-label"),
                ],
                className="controls",
            ),
            graph("market-book", 420),
            html.Div(
                [
                    html.Div(graph("market-savings", 400), className="col-half"),
                    html.Div(graph("market-purchases", 400), className="col-half"),
                ],
                className="row",
            ),
        ]
    )


@callback(
    Output("market-cards", "children"),
    Output("market-time", "max"),
    Output("market-time", "marks"),
    Output("market-time", "value"),
    Output("market-price", "figure"),
    Output("market-savings", "figure"),
    Output("market-purchases", "figure"),
    Output("market-notice", "children"),
    Input("run", "value"),
)
def setup(run: str | None) -> tuple[Any, ...]:
    """Cards, slider (starting at the busiest interval) and the per-owner figures."""
    key = _store.run_key(run)
    intervals = _store.table(key, "intervals", INTERVAL_COLUMNS) if key else None
    if key is None or intervals is None or "traded_wh" not in intervals or intervals.empty:
        blank = empty_figure("no market results")
        absent = notice("This run has no market results (no run chosen, or an older run).")
        return [], 1, None, 0, blank, blank, blank, absent
    bills = _store.table(key, "bills")
    kpis = _store.kpis(key)
    message: html.Div | None = (
        None if kpis.get("trades", 1) else notice("No P2P trades in this run.")
    )
    if bills is None or bills.empty:
        savings = purchases = empty_figure("no bills in this run")
    else:
        savings, purchases = savings_figure(bills), purchases_figure(bills)
    start = busiest_interval(intervals)
    return (
        cards(market_cards(kpis)),
        len(intervals) - 1,
        time_marks(pd.DatetimeIndex(intervals["time"])),
        start,
        price_volume_figure(intervals, intervals["time"].iloc[start]),
        savings,
        purchases,
        message,
    )


@callback(
    Output("market-price", "figure", allow_duplicate=True),
    Output("market-book", "figure"),
    Output("market-time-label", "children"),
    Input("market-time", "value"),
    State("run", "value"),
    prevent_initial_call="initial_duplicate",
)
def show_interval(position: int | None, run: str | None) -> tuple[Any, go.Figure, str]:
    """The interval marked on price and volume, and the interval's supply and demand."""
    key = _store.run_key(run)
    intervals = _store.table(key, "intervals", INTERVAL_COLUMNS) if key else None
    if key is None or intervals is None or "traded_wh" not in intervals or intervals.empty:
        return dash.no_update, empty_figure("no market results"), ""
    i = min(max(int(position or 0), 0), len(intervals) - 1)
    chosen = interval_summary(intervals, i)
    time = chosen["time"]
    orders = _store.orders_at(key, time)
    price = chosen["clearing_price_eur_per_mwh"]
    price_text = "no trade" if price is None else f"{price:.1f} EUR/MWh"
    title = (
        f"Order book at {time:%Y-%m-%d %H:%M} UTC: {price_text}, "
        f"{chosen['traded_wh'] / 1000:.2f} kWh traded"
    )
    book = (
        order_book_figure(orders, price, chosen["traded_wh"], title)
        if orders is not None
        else empty_figure("this run has no orders table")
    )
    label = f"{time:%Y-%m-%d %H:%M} UTC (interval {i + 1} of {len(intervals)})"
    return moved_marker(time), book, label


@callback(
    Output("market-time", "value", allow_duplicate=True),
    Input("market-price", "clickData"),
    State("run", "value"),
    prevent_initial_call=True,
)
def pick_time(click: dict[str, Any] | None, run: str | None) -> Any:
    """Jump to the interval clicked on the price / volume figure."""
    position = _store.clicked_interval(_store.run_key(run), click)
    return dash.no_update if position is None else position
