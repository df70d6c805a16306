"""The economy page's treasury and proposals: the treasury's balance and movements over
time, each proposal's votes and quorum, the members' ballots and the proposals table.

Money in the results store is integer micro-euro; these builders show EUR.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, empty_figure, frame_rows
from figures.money_flows import MICRO, PARTY_COLOURS


def treasury_balance(treasury: pd.DataFrame) -> pd.Series:
    """The treasury's balance after each row [micro-EUR]: ``balance_micro_eur`` or the
    running sum of the signed ``amount_micro_eur``."""
    frame = treasury.sort_values("time", kind="stable") if "time" in treasury else treasury
    if "balance_micro_eur" in frame:
        return frame["balance_micro_eur"].astype(np.int64)
    return frame["amount_micro_eur"].astype(np.int64).cumsum()


def treasury_by_kind(treasury: pd.DataFrame) -> pd.DataFrame:
    """The treasury's cumulative balance by kind of movement and in all [micro-EUR].

    One row per distinct ``time`` (sorted), one column per ``kind`` (``contribution``,
    ``protocol_fees``, ``asset_purchase``, ...: the running sum of its signed amounts) and
    ``balance`` (their sum: the treasury's balance after that time's movements).
    """
    kind = treasury["kind"].astype(str) if "kind" in treasury else pd.Series("flow", treasury.index)
    wide = (
        pd.DataFrame(
            {
                "time": treasury["time"],
                "kind": kind,
                "amount": treasury["amount_micro_eur"].astype(np.int64),
            }
        )
        .pivot_table(index="time", columns="kind", values="amount", aggfunc="sum", fill_value=0)
        .sort_index()
        .cumsum()
        .astype(np.int64)
    )
    wide.columns = [str(c) for c in wide.columns]
    wide["balance"] = wide.sum(axis=1)
    return wide


def treasury_over_time(treasury: pd.DataFrame | None) -> go.Figure:
    """The treasury's balance over time [EUR] and its cumulative sum by kind, as steps.

    ``balance`` (the first trace) is the treasury's balance after each movement; each kind
    (contributions in, protocol fees in, asset purchases out, ...) is the running sum of its
    own movements, so the kinds' lines add up to the balance at every time.
    """
    if (
        treasury is None
        or treasury.empty
        or not {"time", "amount_micro_eur"} <= set(treasury.columns)
    ):
        return empty_figure("this run has no treasury (no protocol fee or DAO in its scenario)")
    wide = treasury_by_kind(treasury)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=wide.index,
            y=wide["balance"] / MICRO,
            name="balance",
            mode="lines+markers",
            line={"shape": "hv", "color": PARTY_COLOURS["treasury"], "width": 3},
        )
    )
    for kind in (c for c in wide.columns if c != "balance"):
        fig.add_trace(
            go.Scatter(
                x=wide.index,
                y=wide[kind] / MICRO,
                name=kind,
                mode="lines",
                line={"shape": "hv", "width": 1.5, "dash": "dot"},
            )
        )
    fig.update_layout(
        title=(
            f"Treasury balance {wide['balance'].iloc[-1] / MICRO:,.2f} EUR at the end, and "
            "its movements by kind (cumulative) [EUR]"
        ),
        yaxis_title="EUR",
        xaxis_title="time (UTC)",
        margin=MARGIN,
        hovermode="x unified",
    )
    return fig


def proposal_votes(proposals: pd.DataFrame | None) -> go.Figure:
    """Each proposal's votes for, against (and abstaining) and its quorum [votes].

    Votes are in the vote token's base units, as the ``proposals`` table counts them. The
    quorum counts for + abstain votes; a proposal passes with quorum and more for than
    against. Each bar's hover and the x labels give the proposal's outcome.
    """
    if proposals is None or proposals.empty:
        return empty_figure("this run has no proposals")
    names = [
        f"{p} ({state})"
        for p, state in zip(
            proposals["proposal"].astype(str), proposals["state"].astype(str), strict=True
        )
    ]
    fig = go.Figure()
    for column, label, colour in (
        ("votes_for", "for", "#54a24b"),
        ("votes_against", "against", "#e45756"),
        ("votes_abstain", "abstain", "#bab0ac"),
    ):
        if column not in proposals or (label == "abstain" and not proposals[column].any()):
            continue
        fig.add_trace(
            go.Bar(
                x=names,
                y=proposals[column].astype(np.int64),
                name=label,
                marker_color=colour,
                text=proposals[column].astype(np.int64),
                textposition="auto",
            )
        )
    if "quorum" in proposals:
        fig.add_trace(
            go.Scatter(
                x=names,
                y=proposals["quorum"].astype(np.int64),
                name="quorum (for + abstain)",
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 60, "line": {"width": 3}},
                marker_color="#222222",
            )
        )
    fig.update_layout(
        title="Proposals: votes cast and quorum",
        barmode="group",
        yaxis_title="votes",
        margin=MARGIN,
    )
    return fig


def ballot_benefits(ballots: pd.DataFrame | None) -> go.Figure:
    """Each member's projected net benefit of each proposal [EUR], as it voted.

    One box (with every ballot as a point) per proposal and support (``for``,
    ``against``): the projected benefit over the asset's life that the member's what-if
    found, the ballot's reason. A community total is nothing without its spread: the
    title gives, per proposal, how many members expect to gain and to lose.
    """
    if ballots is None or ballots.empty:
        return empty_figure("this run has no ballots")
    benefit = ballots["projected_benefit_micro_eur"].astype(np.int64) / MICRO
    proposal = ballots["proposal"].astype(str)
    support = ballots["support"].astype(str)
    fig = go.Figure()
    for side, colour in (("for", "#54a24b"), ("against", "#e45756"), ("abstain", "#bab0ac")):
        mine = support == side
        if not mine.any():
            continue
        fig.add_trace(
            go.Box(
                x=proposal[mine],
                y=benefit[mine],
                name=side,
                marker_color=colour,
                boxpoints="all",
                jitter=0.5,
                pointpos=0,
                text=ballots.loc[mine, "member"].astype(str),
                hovertemplate="%{text}: %{y:,.2f} EUR<extra>%{x}</extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#888", "width": 1})
    gaining = (benefit > 0).groupby(proposal, sort=False).sum()
    counted = benefit.groupby(proposal, sort=False).size()
    parts = [
        f"{p}: {int(gaining[p])} gain, {int(counted[p] - gaining[p])} lose" for p in counted.index
    ]
    fig.update_layout(
        title="Projected net benefit per member [EUR]; " + "; ".join(parts),
        boxmode="group",
        yaxis_title="projected net benefit over the asset's life [EUR]",
        margin=MARGIN,
    )
    return fig


def proposals_rows(proposals: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The proposals with their votes as table rows; micro-EUR columns shown in EUR."""
    if proposals is None or proposals.empty:
        return []
    frame = proposals.copy()
    for column in [c for c in frame.columns if str(c).endswith("_micro_eur")]:
        frame[str(column).removesuffix("_micro_eur") + "_eur"] = frame.pop(column) / MICRO
    return frame_rows(frame, decimals=2)
