"""Token economy: rewards emitted against protocol revenue, stakes and slashes, data sales
and device NFT sales of the chosen run.

Reads the run's ``token_economy``, ``stakes``, ``data_sales``, ``data_releases`` and
``device_transfers`` tables where it has them; each section of a run without its table says
why it is empty (staking, data sales or device sales off, or a run made before them). Every
figure comes from :mod:`figures.token_economy`, :mod:`figures.stakes` and
:mod:`figures.data_market`.
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, callback, html

from figures.data_market import (
    data_sale_payouts,
    device_sales,
    households_distribution,
    transfer_rows,
)
from figures.stakes import slash_rows, stakes_by_device_figure, stakes_over_time
from figures.token_economy import emission_vs_revenue, token_economy_cards, token_supply
from pages import _store
from pages._ui import cards, columns, graph, notice, table

dash.register_page(__name__, path="/depin", name="Token economy", order=6)

NO_TOKEN_ECONOMY = (
    "This run has no token_economy table: its devices earn no rewards, or the run was made "
    "before the token economy was reported per epoch."
)
NO_STAKES = "This run has no stakes: devices.staking is off in its scenario (or the run is older)."
NO_SLASHES = "No device was slashed in this run."
NO_DATA_SALES = (
    "This run has no data sales: devices.data_sales is off in its scenario (or no sale fell in "
    "its days)."
)
NO_DEVICE_SALES = "This run has no device NFT sales: its scenario has no [[devices.transfers]]."


def layout(**_query: Any) -> html.Div:
    """KPI cards; emission against revenue; stakes and slashes; data sales; device sales."""
    return html.Div(
        [
            html.Div(id="depin-notice"),
            html.Div(id="depin-cards", className="cards"),
            html.H3("Emission against revenue"),
            graph("depin-emission", 480),
            graph("depin-supply", 320),
            html.H3("Stakes and slashes"),
            html.Div(id="depin-stakes-notice"),
            graph("depin-stakes-time", 340),
            graph("depin-stakes-device", 380),
            table("depin-slashes", page_size=10, columns=columns([{}])),
            html.H3("Data sales"),
            html.Div(id="depin-data-notice"),
            graph("depin-data-payouts", 360),
            graph("depin-data-households", 320),
            html.H3("Device NFT sales"),
            html.Div(id="depin-transfers-notice"),
            graph("depin-transfers", 320),
            table("depin-transfer-table", page_size=10, columns=columns([{}])),
        ]
    )


def _k(key: _store.RunKey) -> int | None:
    """The run's k-anonymity floor (``devices.data_sales.k`` of its scenario), if recorded."""
    config = _store.manifest(key).get("config") or {}
    k = ((config.get("devices") or {}).get("data_sales") or {}).get("k")
    return int(k) if isinstance(k, int | float) else None


def _last_interval(key: _store.RunKey | None) -> pd.Timestamp | None:
    """The start of the run's last interval, None without an intervals table."""
    stamps = _store.times(key) if key else None
    return stamps[-1] if stamps is not None and len(stamps) else None


@callback(
    Output("depin-notice", "children"),
    Output("depin-cards", "children"),
    Output("depin-emission", "figure"),
    Output("depin-supply", "figure"),
    Output("depin-stakes-notice", "children"),
    Output("depin-stakes-time", "figure"),
    Output("depin-stakes-device", "figure"),
    Output("depin-slashes", "data"),
    Output("depin-slashes", "columns"),
    Output("depin-data-notice", "children"),
    Output("depin-data-payouts", "figure"),
    Output("depin-data-households", "figure"),
    Output("depin-transfers-notice", "children"),
    Output("depin-transfers", "figure"),
    Output("depin-transfer-table", "data"),
    Output("depin-transfer-table", "columns"),
    Input("run", "value"),
)
def show(run: str | None) -> tuple[Any, ...]:
    """The chosen run's token economy, stakes, slashes, data sales and device sales, or why
    a part is empty."""
    key = _store.run_key(run)
    names = ("token_economy", "stakes", "data_sales", "data_releases", "device_transfers")
    economy, stakes, sales, releases, transfers = (
        _store.table(key, name) if key else None for name in names
    )
    top = None
    if key is None:
        top = notice("Choose a run.")
    elif economy is None:
        top = notice(NO_TOKEN_ECONOMY)
    slashes = slash_rows(stakes)
    stakes_notice = None
    if stakes is None:
        stakes_notice = notice(NO_STAKES)
    elif not slashes:
        stakes_notice = notice(NO_SLASHES)
    sold = transfer_rows(transfers)
    return (
        top,
        cards(token_economy_cards(economy, stakes, sales, transfers)),
        emission_vs_revenue(economy),
        token_supply(economy),
        stakes_notice,
        stakes_over_time(stakes, _last_interval(key)),
        stakes_by_device_figure(stakes),
        slashes,
        columns(slashes),
        notice(NO_DATA_SALES) if sales is None or sales.empty else None,
        data_sale_payouts(sales),
        households_distribution(releases, _k(key) if key else None),
        notice(NO_DEVICE_SALES) if transfers is None or transfers.empty else None,
        device_sales(transfers),
        sold,
        columns(sold),
    )
