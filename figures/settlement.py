"""The settlement page's builders: batches on chain, signed readings, DePIN rewards.

They read the ``batches``, ``readings`` and ``rewards`` tables (README, results store) and
take whatever of their documented columns a run has. Token amounts are integers in token
base units in the tables and may exceed 64 bits: they are summed as Python integers and
shown in tokens with the token's decimals (:mod:`figures.tokens`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, frame_rows
from figures.tokens import TOKEN_UNIT, format_tokens, token_sum, tokens_float

#: The settlement tables, in the order the page shows them.
SETTLEMENT_TABLES = ("batches", "readings", "rewards")

#: Columns of the batches table shown, in order (those a run has).
BATCH_COLUMNS = (
    "batch_id",
    "first_time",
    "last_time",
    "trade_count",
    "trades_root",
    "tx_hash",
    "block",
    "gas_used",
    "state",
)

#: Colours of the batch states (``settlement.chain.ledger.STATES``).
STATE_COLOURS = {
    "planned": "#9d9d9d",
    "sent": "#f58518",
    "mined": "#4c78a8",
    "final": "#54a24b",
}


def batch_rows(batches: pd.DataFrame) -> list[dict[str, Any]]:
    """The batches with their transaction (hash, block, gas, state) as table rows."""
    columns = [c for c in BATCH_COLUMNS if c in batches] or list(batches.columns)
    return frame_rows(batches[columns])


def gas_figure(batches: pd.DataFrame) -> go.Figure:
    """Gas used by each batch's transaction, coloured by its state (one bar a batch)."""
    ids = batches["batch_id"] if "batch_id" in batches else pd.Series(range(len(batches)))
    starts = (
        pd.to_datetime(batches["first_time"]).dt.strftime(" %m-%d %H:%M")
        if "first_time" in batches
        else pd.Series("", index=batches.index)
    )
    x = np.asarray([f"#{i}{s}" for i, s in zip(ids, starts, strict=True)])
    states = (
        batches["state"].astype(str).to_numpy()
        if "state" in batches
        else np.full(len(batches), "n/a")
    )
    gas = (
        pd.to_numeric(batches["gas_used"], errors="coerce")
        if "gas_used" in batches
        else pd.Series(np.nan, index=batches.index)
    )
    fig = go.Figure()
    for state in sorted({str(s) for s in states}):
        mask = states == state
        fig.add_trace(
            go.Bar(
                x=x[mask],
                y=gas.to_numpy()[mask],
                name=state,
                marker_color=STATE_COLOURS.get(state, "#9d9d9d"),
            )
        )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x)
    fig.update_layout(
        title="Gas used per batch transaction",
        yaxis_title="gas",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def reading_status_rows(readings: pd.DataFrame) -> list[dict[str, Any]]:
    """Signed meter readings counted by status (and by device when there is no status)."""
    key = "status" if "status" in readings else None
    if key is None:
        return [{"readings": len(readings)}]
    counts = readings.groupby(key, observed=True, sort=True).size()
    return [{"status": str(k), "readings": int(v)} for k, v in counts.items()]


#: The column of :func:`reward_rows` with each device's rewards.
REWARD_COLUMN = f"rewards [{TOKEN_UNIT}]"


def reward_rows(rewards: pd.DataFrame) -> list[dict[str, Any]]:
    """Rewards summed by device (and its owner), largest first.

    The sum is exact and shown in tokens with the token's decimals, as text
    (:data:`REWARD_COLUMN`).
    """
    keys = [k for k in ("device_address", "owner") if k in rewards]
    if not keys or "amount" not in rewards:
        return frame_rows(rewards)
    rows = []
    for key, group in rewards.groupby(keys, observed=True, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = {k: str(v) for k, v in zip(keys, values, strict=True)}
        row["epochs"] = int(group["epoch"].nunique()) if "epoch" in group else len(group)
        row[REWARD_COLUMN] = token_sum(group["amount"])
        rows.append(row)
    rows.sort(key=lambda r: -r[REWARD_COLUMN])
    for row in rows:
        row[REWARD_COLUMN] = format_tokens(row[REWARD_COLUMN])
    return rows


def rewards_figure(rewards: pd.DataFrame) -> go.Figure:
    """Rewards by owner [tokens], stacked by epoch."""
    owner = rewards["owner"] if "owner" in rewards else rewards.get("device_address")
    amount = tokens_float(rewards["amount"])
    epoch = rewards["epoch"] if "epoch" in rewards else pd.Series(0, index=rewards.index)
    frame = pd.DataFrame(
        {"owner": np.asarray(owner, dtype=str), "epoch": epoch.to_numpy(), "amount": amount}
    )
    table = frame.pivot_table(
        index="owner", columns="epoch", values="amount", aggfunc="sum", fill_value=0.0
    )
    table = table.loc[table.sum(axis=1).sort_values(ascending=False).index]
    fig = go.Figure()
    for epoch_value in table.columns:
        fig.add_trace(go.Bar(x=table.index, y=table[epoch_value], name=f"epoch {epoch_value}"))
    fig.update_layout(
        title="DePIN rewards by owner",
        barmode="stack",
        yaxis_title=f"rewards [{TOKEN_UNIT}]",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
