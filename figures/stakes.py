"""The stakes page section's builders: stake over time, per device, and the slashes.

They read the ``stakes`` table (README, results store): ``genesis`` rows (an owner's one-off
allocation, not a device's stake), ``stake`` rows (an owner's stake on a device), ``slash``
rows (``amount = burned + to_treasury + to_reporter``), and any ``unbond`` / ``withdraw``
rows (taken from the device's stake). Amounts are integers in RewardToken base units
(``*_units``); the figures show tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, empty_figure, frame_rows
from figures.token_economy import TOKEN_COLOURS
from figures.tokens import TOKEN_UNIT, format_tokens, token_sum, tokens_float

#: Kinds of ``stakes`` rows that add to a device's stake, and those that take from it.
STAKE_IN = ("stake",)
STAKE_OUT = ("slash", "unbond", "withdraw")

#: Columns of the slashes table shown, in order (those a run has).
SLASH_COLUMNS = ("time", "node_id", "reason", "device_id", "evidence_id", "tx_hash")


def _stake_delta(stakes: pd.DataFrame) -> pd.Series:
    """Each row's change of the devices' total stake [base units]: + stake, - slash/unbond."""
    kind = stakes["kind"].astype(str)
    amount = pd.to_numeric(stakes["amount_units"], errors="coerce").fillna(0).astype(np.int64)
    sign = np.where(kind.isin(STAKE_IN), 1, np.where(kind.isin(STAKE_OUT), -1, 0))
    return amount * sign


def stakes_over_time(stakes: pd.DataFrame | None, end: pd.Timestamp | None = None) -> go.Figure:
    """All devices' stake over time [tokens] (stakes in, slashes and unbonds out, as steps),
    and each slash as a marker at the amount it took [tokens].

    ``end`` (the run's last interval, say) carries the last stake on to that time.
    """
    if stakes is None or stakes.empty or not {"time", "kind", "amount_units"} <= set(stakes):
        return empty_figure("this run has no stakes (devices.staking is off)")
    frame = stakes.sort_values("time", kind="stable")
    staked = _stake_delta(frame).groupby(frame["time"]).sum().sort_index().cumsum()
    if end is not None and end > staked.index[-1]:
        staked = pd.concat([staked, pd.Series([staked.iloc[-1]], index=[end])])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=staked.index,
            y=tokens_float(staked),
            name=f"staked on devices [{TOKEN_UNIT}]",
            mode="lines+markers",
            line={"shape": "hv", "color": TOKEN_COLOURS["staked"], "width": 3},
        )
    )
    slashes = frame[frame["kind"].astype(str) == "slash"]
    if not slashes.empty:
        fig.add_trace(
            go.Scatter(
                x=slashes["time"],
                y=tokens_float(slashes["amount_units"]),
                name=f"slashed [{TOKEN_UNIT}]",
                mode="markers",
                marker={"color": TOKEN_COLOURS["slashed"], "size": 11, "symbol": "x"},
                text=slashes["node_id"].astype(str) if "node_id" in slashes else None,
                hovertemplate="%{text}: %{y} tokens slashed<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"Stake on all devices over time and each slash [{TOKEN_UNIT}]",
        yaxis={"title": TOKEN_UNIT, "rangemode": "tozero"},
        margin=MARGIN,
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def stakes_by_device(stakes: pd.DataFrame | None) -> pd.DataFrame:
    """Per device: staked, slashed and where the slashes went, and what remains [base units].

    One row per ``node_id`` (devices with a ``stake`` or ``slash`` row; genesis rows belong
    to owners, not devices), columns ``staked``, ``slashed``, ``burned``, ``to_treasury``,
    ``to_reporter`` and ``remaining`` (staked - slashed - unbonded), Python integers.
    """
    columns = ["staked", "slashed", "burned", "to_treasury", "to_reporter", "remaining"]
    if stakes is None or stakes.empty or not {"kind", "amount_units", "node_id"} <= set(stakes):
        return pd.DataFrame(columns=columns)
    kind = stakes["kind"].astype(str)
    frame = stakes[kind.isin(STAKE_IN + STAKE_OUT)]
    rows: dict[str, dict[str, int]] = {}
    for node, group in frame.groupby(frame["node_id"].astype(str), sort=True):
        kinds = group["kind"].astype(str)
        slash = group[kinds == "slash"]

        def total(rows_: pd.DataFrame, column: str) -> int:
            return token_sum(rows_[column]) if column in rows_ else 0

        staked = total(group[kinds.isin(STAKE_IN)], "amount_units")
        rows[str(node)] = {
            "staked": staked,
            "slashed": total(slash, "amount_units"),
            "burned": total(slash, "burned_units"),
            "to_treasury": total(slash, "to_treasury_units"),
            "to_reporter": total(slash, "to_reporter_units"),
            "remaining": staked - total(group[kinds.isin(STAKE_OUT)], "amount_units"),
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).astype(object)


def stakes_by_device_figure(stakes: pd.DataFrame | None) -> go.Figure:
    """Each device's remaining stake and its slashes by destination (burned, to the treasury,
    to the reporter), stacked to what it staked [tokens]."""
    table = stakes_by_device(stakes)
    if table.empty:
        return empty_figure("this run has no stakes (devices.staking is off)")
    fig = go.Figure()
    for column, label in (
        ("remaining", "remaining stake"),
        ("burned", "slashed: burned"),
        ("to_treasury", "slashed: to the treasury"),
        ("to_reporter", "slashed: to the reporter"),
    ):
        values = tokens_float(table[column].astype("int64"))
        if column != "remaining" and not values.any():
            continue
        fig.add_trace(
            go.Bar(
                x=list(table.index),
                y=values,
                name=label,
                marker_color=TOKEN_COLOURS["staked" if column == "remaining" else column],
            )
        )
    fig.update_layout(
        barmode="stack",
        title=f"Stake per device: what remains and what was slashed [{TOKEN_UNIT}]",
        xaxis={"title": "device (node)"},
        yaxis={"title": TOKEN_UNIT},
        margin=MARGIN,
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def slash_rows(stakes: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The slashes as table rows: when, which device, why, the amounts in tokens (text with
    the token's decimals), then the evidence and the transaction."""
    if stakes is None or stakes.empty or "kind" not in stakes:
        return []
    slashes = stakes[stakes["kind"].astype(str) == "slash"]
    head = frame_rows(slashes[[c for c in SLASH_COLUMNS[:3] if c in slashes]])
    tail = frame_rows(slashes[[c for c in SLASH_COLUMNS[3:] if c in slashes]])
    rows = []
    for first, last, (_, slash) in zip(head, tail, slashes.iterrows(), strict=True):
        amounts = {
            f"{column.removesuffix('_units').replace('amount', 'slashed')} [{TOKEN_UNIT}]": (
                format_tokens(int(slash[column]))
            )
            for column in ("amount_units", "burned_units", "to_treasury_units", "to_reporter_units")
            if column in slash
        }
        rows.append({**first, **amounts, **last})
    return rows
