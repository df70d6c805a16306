"""Data sales and device NFT sales: who was paid what, and how private the releases were.

They read the ``data_sales``, ``data_releases`` and ``device_transfers`` tables (README,
results store). Money there is integer micro-euro (``*_micro_eur``); the figures show EUR.
A data sale's rows are one per payee, the treasury's (kind ``treasury``) last, and its
amounts sum to the buyer's payment; a device row's release ``group`` is ``<device kind>/
<feeder>``, so the payouts are shown by device kind beside the treasury's cut.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import KIND_COLOURS, MARGIN, empty_figure, frame_rows
from figures.money_flows import MICRO, PARTY_COLOURS

#: The label of the treasury's cut of a data sale.
TREASURY_CUT = "treasury cut"

#: Columns of the device sales table shown, in order (those a run has).
TRANSFER_COLUMNS = ("time", "node_id", "seller", "buyer", "receiver", "tx_hash")


def payee_kind(sales: pd.DataFrame) -> pd.Series:
    """Who each data sale row pays: the device kind of its release group (``solar``,
    ``consumer``, ...), or :data:`TREASURY_CUT` for the treasury's row."""
    kind = sales["kind"].astype(str) if "kind" in sales else pd.Series("device", sales.index)
    group = sales["group"].astype(str) if "group" in sales else pd.Series("", sales.index)
    device_kind = group.str.split("/", n=1).str[0].where(group != "", kind)
    return device_kind.where(kind != "treasury", TREASURY_CUT)


def payouts_by_kind(sales: pd.DataFrame) -> pd.DataFrame:
    """Each sale's payouts by payee kind [micro-EUR]: one row a sale, one column a kind
    (the treasury's cut last), plus ``payment`` (the buyer's payment for the sale)."""
    wide = (
        pd.DataFrame(
            {
                "sale": sales["sale"].astype(int),
                "kind": payee_kind(sales),
                "amount": sales["amount_micro_eur"].astype(np.int64),
            }
        )
        .pivot_table(index="sale", columns="kind", values="amount", aggfunc="sum", fill_value=0)
        .astype(np.int64)
    )
    order = sorted(c for c in wide.columns if c != TREASURY_CUT)
    wide = wide[order + [c for c in wide.columns if c == TREASURY_CUT]]
    wide.columns = [str(c) for c in wide.columns]
    if "payment_micro_eur" in sales:
        wide["payment"] = sales.groupby(sales["sale"].astype(int))["payment_micro_eur"].first()
    return wide


def data_sale_payouts(sales: pd.DataFrame | None) -> go.Figure:
    """Each data sale's payouts to the devices' owners by device kind and the treasury's cut,
    stacked to the buyer's payment [EUR] (a marker on each stack)."""
    if sales is None or sales.empty or not {"sale", "amount_micro_eur"} <= set(sales.columns):
        return empty_figure("this run has no data sales (devices.data_sales is off)")
    wide = payouts_by_kind(sales)
    x = [f"sale {s}" for s in wide.index]
    fig = go.Figure()
    for kind in (c for c in wide.columns if c != "payment"):
        colour = PARTY_COLOURS["treasury"] if kind == TREASURY_CUT else KIND_COLOURS.get(kind)
        fig.add_trace(
            go.Bar(x=x, y=wide[kind] / MICRO, name=kind, marker_color=colour),
        )
    if "payment" in wide:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=wide["payment"] / MICRO,
                name="buyer's payment",
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#222222"},
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Data sales: payouts to device owners by device kind and the treasury's cut [EUR]",
        yaxis={"title": "EUR"},
        margin=MARGIN,
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def households_distribution(releases: pd.DataFrame | None, k: int | None = None) -> go.Figure:
    """How many released aggregates cover each number of households [aggregates], with the
    k-anonymity floor ``k`` [households] as a vertical line."""
    if releases is None or releases.empty or "households" not in releases:
        return empty_figure("this run released no data aggregates (no data sales)")
    counts = releases["households"].astype(int).value_counts().sort_index()
    fig = go.Figure(
        go.Bar(
            x=counts.index.to_numpy(),
            y=counts.to_numpy(),
            name="aggregates",
            marker_color="#4c78a8",
        )
    )
    if k is not None:
        fig.add_vline(
            x=k - 0.5,
            line={"color": "#e45756", "dash": "dash", "width": 2},
            annotation_text=f"k = {k}: no aggregate below",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Released aggregates by the households they cover [aggregates]",
        xaxis={"title": "households in the aggregate", "rangemode": "tozero"},
        yaxis={"title": "aggregates released"},
        margin=MARGIN,
        plot_bgcolor="white",
        bargap=0.1,
    )
    return fig


def device_sales(transfers: pd.DataFrame | None) -> go.Figure:
    """Each device NFT sale's price split into the seller's proceeds and the ERC-2981 royalty
    to its receiver, stacked to the price [EUR]."""
    need = {"price_micro_eur", "royalty_micro_eur"}
    if transfers is None or transfers.empty or not need <= set(transfers.columns):
        return empty_figure("this run sold no device NFT (no devices.transfers)")
    node = transfers["node_id"].astype(str) if "node_id" in transfers else transfers.index
    day = transfers["day"].astype(str) if "day" in transfers else pd.Series("?", transfers.index)
    x = [f"{n} (day {d})" for n, d in zip(node, day, strict=True)]
    price = transfers["price_micro_eur"].astype(np.int64)
    royalty = transfers["royalty_micro_eur"].astype(np.int64)
    receiver = (
        transfers["receiver"].astype(str) if "receiver" in transfers else pd.Series("", x)
    ).tolist()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=x, y=(price - royalty) / MICRO, name="to the seller", marker_color="#4c78a8")
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=royalty / MICRO,
            name="royalty",
            marker_color=PARTY_COLOURS["treasury"],
            text=[f"royalty to {r}" for r in receiver],
            textposition="outside",
        )
    )
    fig.update_layout(
        barmode="stack",
        title="Device NFT sales: price to the seller and ERC-2981 royalty to its receiver [EUR]",
        yaxis={"title": "EUR"},
        margin=MARGIN,
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def transfer_rows(transfers: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The device NFT sales as table rows, price and royalty in EUR."""
    if transfers is None or transfers.empty:
        return []
    rows = frame_rows(transfers[[c for c in TRANSFER_COLUMNS if c in transfers]])
    for row, (_, sale) in zip(rows, transfers.iterrows(), strict=True):
        for column in ("price_micro_eur", "royalty_micro_eur"):
            if column in sale:
                label = column.removesuffix("_micro_eur")
                row[f"{label} [EUR]"] = f"{int(sale[column]) / MICRO:,.2f}"
    return rows
