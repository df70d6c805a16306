"""The economy page's gains: who gains and who loses against utility only, and the economy's
KPI cards. The headline counts the homes (the members); the community generators' and the
shared assets' accounts are shown apart (:mod:`settlement.market.accounts`).

Money in the results store is integer micro-euro; these builders show EUR. The money flows
are in :mod:`figures.money_flows`, the treasury and the proposals in :mod:`figures.treasury`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, empty_figure, gains_cards
from figures.money_flows import MICRO
from figures.treasury import treasury_balance
from settlement.market.accounts import account_kinds
from settlement.market.totals import gini


def savings_eur(bills: pd.DataFrame) -> pd.Series:
    """Each owner's saving against utility only [EUR], smallest first."""
    series = bills.set_index(bills["owner"].astype(str))["savings_micro_eur"] / MICRO
    return series.sort_values(kind="stable")


#: Colours of the savings bars: homes that gain and lose, the other accounts (apart).
SAVING_COLOURS = {"gain": "#54a24b", "loss": "#e45756", "community": "#00a6a6", "asset": "#72b7b2"}

#: How the winners' title names each kind of account.
KIND_LABELS = {
    "home": "homes (members)",
    "community": "community generators",
    "asset": "shared assets",
}


def winners_losers(bills: pd.DataFrame, kpis: Mapping[str, float] | None = None) -> go.Figure:
    """Each account's saving against utility only [EUR], sorted; homes that lose in red.

    The title gives the homes (the members) gaining and losing, then, apart, the community
    generators' and the shared assets' accounts that gain and lose (their bars in their own
    colours), the spread of all accounts' savings (``savings_gini`` from ``kpis``, else
    :func:`settlement.market.totals.gini` of the bills) and the worst-off account.
    """
    if bills.empty:
        return empty_figure("no bills in this run")
    saving = savings_eur(bills)
    kinds = account_kinds(saving.index)
    spread = (kpis or {}).get("savings_gini", gini(bills["savings_micro_eur"].to_numpy()))
    values = saving.to_numpy()
    colours = np.where(values < 0, SAVING_COLOURS["loss"], SAVING_COLOURS["gain"]).astype(object)
    for kind in ("community", "asset"):
        colours[kinds == kind] = SAVING_COLOURS[kind]
    counts = []
    for kind, label in KIND_LABELS.items():
        mine = values[kinds == kind]
        if kind == "home" or len(mine):
            gaining, losing = int((mine > 0).sum()), int((mine < 0).sum())
            counts.append(f"{label}: {gaining} gain, {losing} lose")
    fig = go.Figure(
        go.Bar(
            x=saving.index,
            y=values,
            marker={"color": colours.tolist()},
            customdata=[KIND_LABELS[str(k)] for k in kinds],
            hovertemplate="%{x} (%{customdata}): %{y:,.2f} EUR<extra></extra>",
        )
    )
    fig.update_layout(
        title=(
            f"Saving vs utility only: {'; apart, '.join(counts)}; Gini {spread:.3f}; "
            f"worst off {saving.index[0]} ({saving.iloc[0]:+,.2f} EUR)"
        ),
        yaxis_title="saving [EUR]",
        xaxis={"title": "account (homes; community generators and assets apart)", "tickangle": -60},
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
    out.extend(gains_cards(kpis))
    if "savings_gini" in kpis:
        card("spread of all accounts' savings (Gini)", kpis["savings_gini"], "", 3)
    if bills is not None and len(bills):
        saving = savings_eur(bills)
        out.append(
            {
                "label": f"worst-off account: {saving.index[0]}",
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
