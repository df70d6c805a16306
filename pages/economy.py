"""Economy: who pays whom, who gains and who loses, the treasury and the proposals.

Reads the chosen run's ``bills``, ``trades``, ``transactions``, ``participants`` and, where
the run has them, ``treasury``, ``proposals``, ``ballots`` and ``asset_payouts`` (runs made
before them, or with the economy off, show why a part is empty); every figure comes from
:mod:`figures.economy` (members' gains, KPI cards),
:mod:`figures.money_flows` (who pays whom) and :mod:`figures.treasury` (treasury, proposals).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from figures.common import empty_figure
from figures.economy import economy_cards, winners_losers
from figures.money_flows import money_flows
from figures.treasury import (
    ballot_benefits,
    proposal_votes,
    proposals_rows,
    treasury_over_time,
)
from pages import _store
from pages._ui import cards, columns, graph, notice, table

dash.register_page(__name__, path="/economy", name="Economy", order=5)

NO_TREASURY = (
    "This run has no treasury table: its scenario charges no protocol fee and has no DAO "
    "(or the run was made before them)."
)
NO_PROPOSALS = "This run has no proposals table: no proposal was put to the members' vote."


def layout(**_query: Any) -> html.Div:
    """KPI cards, the money-flow Sankey, savings per member, treasury and proposals."""
    return html.Div(
        [
            html.Div(id="economy-notice"),
            html.Div(id="economy-cards", className="cards"),
            graph("economy-flows", 560),
            graph("economy-winners", 420),
            html.H3("Treasury"),
            html.Div(id="economy-treasury-notice"),
            graph("economy-treasury", 360),
            html.H3("Proposals"),
            html.Div(id="economy-proposals-notice"),
            graph("economy-votes", 380),
            table("economy-proposals", page_size=10, columns=columns([{}])),
            html.H3("Ballots: each member's projected benefit"),
            graph("economy-ballots", 420),
        ]
    )


@callback(
    Output("economy-notice", "children"),
    Output("economy-cards", "children"),
    Output("economy-flows", "figure"),
    Output("economy-winners", "figure"),
    Output("economy-treasury-notice", "children"),
    Output("economy-treasury", "figure"),
    Output("economy-proposals-notice", "children"),
    Output("economy-proposals", "data"),
    Output("economy-proposals", "columns"),
    Output("economy-votes", "figure"),
    Output("economy-ballots", "figure"),
    Input("run", "value"),
)
def show(run: str | None) -> tuple[Any, ...]:
    """The chosen run's money flows, savings, treasury, proposals and ballots, or why there
    are none."""
    key = _store.run_key(run)
    bills = _store.table(key, "bills") if key else None
    treasury = _store.table(key, "treasury") if key else None
    proposals = _store.table(key, "proposals") if key else None
    ballots = _store.table(key, "ballots") if key else None
    rows = proposals_rows(proposals)
    governance = (proposal_votes(proposals), ballot_benefits(ballots))
    treasury_notice = notice(NO_TREASURY) if treasury is None else None
    proposals_notice = notice(NO_PROPOSALS) if proposals is None else None
    if key is None or bills is None or bills.empty:
        blank = empty_figure("no bills in this run")
        why = "Choose a run." if key is None else "This run has no bills (the market was off)."
        return (
            notice(why),
            [],
            blank,
            blank,
            treasury_notice,
            treasury_over_time(treasury),
            proposals_notice,
            rows,
            columns(rows),
            *governance,
        )
    kpis = _store.kpis(key)
    flows = money_flows(
        bills,
        _store.table(key, "trades"),
        _store.table(key, "transactions"),
        kpis,
        treasury,
        config=_store.manifest(key).get("config") or {},
        participants=_store.table(key, "participants"),
        asset_payouts=_store.table(key, "asset_payouts"),
        proposals=proposals,
    )
    return (
        None,
        cards(economy_cards(kpis, bills, treasury)),
        flows,
        winners_losers(bills, kpis),
        treasury_notice,
        treasury_over_time(treasury),
        proposals_notice,
        rows,
        columns(rows),
        *governance,
    )
