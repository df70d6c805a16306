"""The token economy's builders: emission against revenue per epoch, supply, the KPI cards.

They read the ``token_economy`` table (the cards also ``stakes``, ``data_sales`` and
``device_transfers``; stakes and slashes are drawn by :mod:`figures.stakes`, data and device
sales by :mod:`figures.data_market`) (README, results store). Token amounts
there are integers in RewardToken base units (``*_units``; one token is
``10**REWARD_DECIMALS`` of them) and money is integer micro-euro (``*_micro_eur``); the
figures show tokens and EUR. Columns a run lacks are skipped (a ``token_economy`` table may
carry more, e.g. a treasury balance in micro-euro: every ``treasury*_micro_eur`` column is
drawn beside the revenue).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, empty_figure
from figures.money_flows import MICRO, PARTY_COLOURS
from figures.tokens import TOKEN_UNIT, format_tokens, token_sum, tokens, tokens_float

#: Colours of the token economy's quantities.
TOKEN_COLOURS = {
    "emitted": "#4c78a8",
    "pool": "#9ecae9",
    "revenue": PARTY_COLOURS["treasury"],
    "break_even": "#e45756",
    "staked": "#54a24b",
    "slashed": "#e45756",
    "burned": "#222222",
    "to_treasury": PARTY_COLOURS["treasury"],
    "to_reporter": "#b279a2",
    "genesis": "#9d755d",
}


def _epochs(economy: pd.DataFrame) -> pd.DataFrame:
    return economy.sort_values("epoch", kind="stable") if "epoch" in economy else economy


def break_even_eur_per_token(economy: pd.DataFrame) -> np.ndarray:
    """The token value at which each epoch's rewards equal its protocol revenue [EUR/token].

    ``break_even_eur_per_token`` where the table has it, else protocol revenue [EUR] over
    tokens emitted; NaN for an epoch that emitted nothing.
    """
    frame = _epochs(economy)
    if "break_even_eur_per_token" in frame:
        return pd.to_numeric(frame["break_even_eur_per_token"], errors="coerce").to_numpy(float)
    emitted = tokens_float(frame["emitted_units"])
    revenue = frame["protocol_revenue_micro_eur"].to_numpy(dtype=float) / MICRO
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(emitted > 0, revenue / emitted, np.nan)


def emission_vs_revenue(economy: pd.DataFrame | None) -> go.Figure:
    """Per epoch: tokens emitted (bars) and the schedule's pool [tokens], protocol revenue
    [EUR] on the right axis, and below the break-even token value [EUR/token].

    A token priced above the break-even value pays out more in rewards than the epoch's
    protocol fees brought in.
    """
    need = {"epoch", "emitted_units", "protocol_revenue_micro_eur"}
    if economy is None or economy.empty or not need <= set(economy.columns):
        return empty_figure("this run has no token_economy table (no reward epochs)")
    frame = _epochs(economy)
    epochs = frame["epoch"].astype(int).to_numpy()
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35],
        vertical_spacing=0.08,
        specs=[[{"secondary_y": True}], [{}]],
    )
    fig.add_trace(
        go.Bar(
            x=epochs,
            y=tokens_float(frame["emitted_units"]),
            name=f"rewards emitted [{TOKEN_UNIT}]",
            marker_color=TOKEN_COLOURS["emitted"],
        ),
        row=1,
        col=1,
        secondary_y=False,
    )
    if "pool_units" in frame:
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=tokens_float(frame["pool_units"]),
                name=f"emission pool [{TOKEN_UNIT}]",
                mode="lines+markers",
                line={"color": TOKEN_COLOURS["pool"], "dash": "dot"},
            ),
            row=1,
            col=1,
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=frame["protocol_revenue_micro_eur"].to_numpy(dtype=float) / MICRO,
            name="protocol revenue [EUR]",
            mode="lines+markers",
            line={"color": TOKEN_COLOURS["revenue"], "width": 3},
        ),
        row=1,
        col=1,
        secondary_y=True,
    )
    for column in (
        c for c in frame.columns if c.startswith("treasury") and c.endswith("_micro_eur")
    ):
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=pd.to_numeric(frame[column], errors="coerce").to_numpy(float) / MICRO,
                name=f"{column.removesuffix('_micro_eur').replace('_', ' ')} [EUR]",
                mode="lines",
                line={"shape": "hv", "dash": "dash"},
            ),
            row=1,
            col=1,
            secondary_y=True,
        )
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=break_even_eur_per_token(frame),
            name="break-even token value [EUR/token]",
            mode="lines+markers",
            line={"color": TOKEN_COLOURS["break_even"]},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text=f"emitted [{TOKEN_UNIT}]", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text="revenue [EUR]", row=1, col=1, secondary_y=True, rangemode="tozero")
    fig.update_yaxes(title_text="EUR/token", row=2, col=1, rangemode="tozero", exponentformat="e")
    fig.update_xaxes(title_text="reward epoch", dtick=1, row=2, col=1)
    fig.update_layout(
        title="Rewards emitted [tokens] against protocol revenue [EUR] per epoch; "
        "break-even token value [EUR/token]",
        margin={**MARGIN, "t": 60},
        legend={"orientation": "h", "y": -0.15},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    return fig


def token_supply(economy: pd.DataFrame | None) -> go.Figure:
    """RewardToken supply, staked and circulating at each epoch's end [tokens], as steps, and
    the tokens burned so far (every ``*burn*_units`` column, cumulated) [tokens]."""
    if economy is None or economy.empty or "epoch" not in economy:
        return empty_figure("this run has no token_economy table (no reward epochs)")
    frame = _epochs(economy)
    fig = go.Figure()
    for column, colour in (
        ("supply_units", "#222222"),
        ("staked_units", TOKEN_COLOURS["staked"]),
        ("circulating_units", TOKEN_COLOURS["emitted"]),
    ):
        if column in frame:
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"].astype(int),
                    y=tokens_float(frame[column]),
                    name=column.removesuffix("_units"),
                    mode="lines+markers",
                    line={"shape": "hv", "color": colour},
                )
            )
    for column in (c for c in frame.columns if "burn" in c and c.endswith("_units")):
        burned = pd.to_numeric(frame[column], errors="coerce").fillna(0).cumsum()
        if burned.any():
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"].astype(int),
                    y=tokens_float(burned),
                    name=f"{column.removesuffix('_units').replace('_', ' ')} (cumulative)",
                    mode="lines+markers",
                    line={"shape": "hv", "color": TOKEN_COLOURS["burned"], "dash": "dot"},
                )
            )
    fig.update_layout(
        title="RewardToken supply, staked and circulating at each epoch's end; burned so far "
        "[tokens]",
        xaxis={"title": "reward epoch", "dtick": 1},
        yaxis={"title": TOKEN_UNIT, "rangemode": "tozero"},
        margin=MARGIN,
        plot_bgcolor="white",
        hovermode="x unified",
    )
    return fig


def token_economy_cards(
    economy: pd.DataFrame | None,
    stakes: pd.DataFrame | None,
    sales: pd.DataFrame | None,
    transfers: pd.DataFrame | None,
) -> list[dict[str, str]]:
    """KPI cards of the token economy: only those the run's tables can back.

    Rewards emitted [tokens] beside protocol revenue [EUR] and the run's break-even token
    value (all revenue over all rewards) [EUR/token]; staked at the last epoch's end and
    slashed [tokens]; data sales' payments and the treasury's cut [EUR]; royalties [EUR].
    """
    out: list[dict[str, str]] = []
    if economy is not None and not economy.empty and "emitted_units" in economy:
        emitted = token_sum(economy["emitted_units"])
        revenue = int(economy["protocol_revenue_micro_eur"].sum())
        out.append(
            {"label": "rewards emitted", "value": format_tokens(emitted), "unit": TOKEN_UNIT}
        )
        out.append({"label": "protocol revenue", "value": f"{revenue / MICRO:,.2f}", "unit": "EUR"})
        if emitted > 0:
            value = (revenue / MICRO) / float(tokens(emitted))
            out.append(
                {"label": "break-even token value", "value": f"{value:,.6f}", "unit": "EUR/token"}
            )
        if "staked_units" in economy:
            last = int(_epochs(economy)["staked_units"].iloc[-1])
            out.append(
                {
                    "label": "staked at the last epoch's end",
                    "value": format_tokens(last),
                    "unit": TOKEN_UNIT,
                }
            )
    if stakes is not None and not stakes.empty and "kind" in stakes:
        slashes = stakes[stakes["kind"].astype(str) == "slash"]
        out.append({"label": "slashes", "value": f"{len(slashes):,}", "unit": ""})
        out.append(
            {
                "label": "slashed",
                "value": format_tokens(token_sum(slashes["amount_units"])),
                "unit": TOKEN_UNIT,
            }
        )
    if sales is not None and not sales.empty and "amount_micro_eur" in sales:
        cut = sales.loc[sales["kind"].astype(str) == "treasury", "amount_micro_eur"].sum()
        paid = sales.groupby("sale")["payment_micro_eur"].first().sum()
        out.append({"label": "data buyers paid", "value": f"{paid / MICRO:,.2f}", "unit": "EUR"})
        out.append(
            {"label": "treasury's cut of data", "value": f"{cut / MICRO:,.2f}", "unit": "EUR"}
        )
    if transfers is not None and not transfers.empty and "royalty_micro_eur" in transfers:
        royalty = int(transfers["royalty_micro_eur"].sum())
        out.append(
            {"label": "device sale royalties", "value": f"{royalty / MICRO:,.2f}", "unit": "EUR"}
        )
    return out
