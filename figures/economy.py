"""The economy page's members' gains: who gains and who loses against utility only, and the
economy's KPI cards.

Money in the results store is integer micro-euro; these builders show EUR. The money flows
are in :mod:`figures.money_flows`, the treasury and the proposals in :mod:`figures.treasury`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, empty_figure
from figures.money_flows import MICRO
from figures.treasury import treasury_balance
from settlement.market.totals import gini


def savings_eur(bills: pd.DataFrame) -> pd.Series:
    """Each owner's saving against utility only [EUR], smallest first."""
    series = bills.set_index(bills["owner"].astype(str))["savings_micro_eur"] / MICRO
    return series.sort_values(kind="stable")


def winners_losers(bills: pd.DataFrame, kpis: Mapping[str, float] | None = None) -> go.Figure:
    """Each member's saving against utility only [EUR], sorted; losers in red.

    The title gives the members gaining and losing, the spread of savings (``savings_gini``
    from ``kpis``, else :func:`settlement.market.totals.gini` of the bills) and the worst-off
    member.
    """
    if bills.empty:
        return empty_figure("no bills in this run")
    saving = savings_eur(bills)
    spread = (kpis or {}).get("savings_gini", gini(bills["savings_micro_eur"].to_numpy()))
    gaining, losing = int((saving > 0).sum()), int((saving < 0).sum())
    fig = go.Figure(
        go.Bar(
            x=saving.index,
            y=saving.to_numpy(),
            marker={"color": np.where(saving.to_numpy() < 0, "#e45756", "#54a24b").tolist()},
            hovertemplate="%{x}: %{y:,.2f} EUR<extra></extra>",
        )
    )
    fig.update_layout(
        title=(
            f"Saving vs utility only: {gaining} gain, {losing} lose; Gini {spread:.3f}; "
            f"worst off {saving.index[0]} ({saving.iloc[0]:+,.2f} EUR)"
        ),
        yaxis_title="saving [EUR]",
        xaxis={"title": "member", "tickangle": -60},
        margin=MARGIN,
    )
    return fig


def economy_cards(
    kpis: Mapping[str, float], bills: pd.DataFrame | None, treasury: pd.DataFrame | None
) -> list[dict[str, str]]:
    """The economy's KPI cards (label, formatted value, unit); absent values left out."""
    out = []

    def card(label: str, value: float, unit: str, decimals: int) -> None:
        out.append({"label": label, "value": f"{value:,.{decimals}f}", "unit": unit})

    if "savings_eur" in kpis:
        card("community saving vs utility only", kpis["savings_eur"], "EUR", 2)
    for name, label in (
        ("participants_gaining", "members gaining"),
        ("participants_losing", "members losing"),
    ):
        if name in kpis:
            card(label, kpis[name], "", 0)
    if "savings_gini" in kpis:
        card("spread of savings (Gini)", kpis["savings_gini"], "", 3)
    if bills is not None and len(bills):
        saving = savings_eur(bills)
        out.append(
            {
                "label": f"worst off: {saving.index[0]}",
                "value": f"{saving.iloc[0]:+,.2f}",
                "unit": "EUR",
            }
        )
    if "protocol_fees_eur" in kpis:
        card("protocol fees to the treasury", kpis["protocol_fees_eur"], "EUR", 2)
    if treasury is not None and len(treasury):
        card("treasury balance", treasury_balance(treasury).iloc[-1] / MICRO, "EUR", 2)
    for name, label in (("gas_cost_l1_eur", "all gas at L1"), ("gas_cost_l2_eur", "all gas at L2")):
        if name in kpis:
            card(label, kpis[name], "EUR", 2)
    return out
