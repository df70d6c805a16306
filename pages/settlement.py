"""Settlement: batches on chain, signed meter readings and DePIN rewards of the chosen run.

Shows the ``batches``, ``readings`` and ``rewards`` tables where a run has them and says so
where it has none. The trade lookup builds a trade's Merkle proof from the run's Parquet and
has the ``Settlement`` contract verify it (:func:`twin.verify.prove_trade`: the embedded chain
saved with the run, or the run's node).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from figures.common import COMMIT_GAS_LABEL, empty_figure, headline_kpis
from figures.settlement import (
    SETTLEMENT_TABLES,
    batch_rows,
    gas_figure,
    reading_status_rows,
    reward_rows,
    rewards_figure,
)
from pages import _store
from pages._ui import cards, columns, graph, notice, table

dash.register_page(__name__, path="/settlement", name="Settlement", order=4)

NO_SETTLEMENT = (
    "This run has no settlement data: no batches, readings or rewards tables (the chain was "
    "off, or the run was made before on-chain settlement). Runs that settle on chain show "
    "their batches with their transactions, the signed meter readings and the DePIN rewards "
    "here."
)


def layout(**_query: Any) -> html.Div:
    """Batches, readings and rewards sections (hidden while the run has none)."""
    return html.Div(
        [
            html.Div(id="settlement-notice"),
            html.Div(id="settlement-cards", className="cards"),
            html.Div(
                [
                    html.H3("Batches"),
                    graph("settlement-gas", 320),
                    table("settlement-batches", page_size=12, columns=columns([{}])),
                ],
                id="settlement-batches-section",
            ),
            html.Div(
                [
                    html.H3("Trade lookup"),
                    html.P(
                        "A trade's Merkle proof, built from this run's trades and verified "
                        "on-chain by Settlement.verifyTrade."
                    ),
                    dcc.Input(id="settlement-trade-id", type="number", min=0, step=1, value=0),
                    html.Button("prove", id="settlement-prove", n_clicks=0),
                    html.Div(id="settlement-proof"),
                ],
                id="settlement-lookup-section",
            ),
            html.Div(
                [
                    html.H3("Signed meter readings"),
                    table("settlement-readings", page_size=10, columns=columns([{}])),
                ],
                id="settlement-readings-section",
            ),
            html.Div(
                [
                    html.H3("Rewards"),
                    graph("settlement-rewards-figure", 360),
                    table("settlement-rewards", page_size=15, columns=columns([{}])),
                ],
                id="settlement-rewards-section",
            ),
        ]
    )


@callback(
    Output("settlement-notice", "children"),
    Output("settlement-cards", "children"),
    Output("settlement-batches-section", "hidden"),
    Output("settlement-gas", "figure"),
    Output("settlement-batches", "data"),
    Output("settlement-batches", "columns"),
    Output("settlement-readings-section", "hidden"),
    Output("settlement-readings", "data"),
    Output("settlement-readings", "columns"),
    Output("settlement-rewards-section", "hidden"),
    Output("settlement-rewards-figure", "figure"),
    Output("settlement-rewards", "data"),
    Output("settlement-rewards", "columns"),
    Input("run", "value"),
)
def show(run: str | None) -> tuple[Any, ...]:
    """The chosen run's settlement tables, or why there are none."""
    key = _store.run_key(run)
    frames = {name: _store.table(key, name) if key else None for name in SETTLEMENT_TABLES}
    batches, readings, rewards = (frames[name] for name in SETTLEMENT_TABLES)
    blank = empty_figure("no data")
    message: html.Div | None
    if key is None:
        message = notice("Choose a run.")
    elif all(frame is None for frame in frames.values()):
        message = notice(NO_SETTLEMENT)
    else:
        missing = [name for name, frame in frames.items() if frame is None]
        message = notice(f"This run has no {' or '.join(missing)} table.") if missing else None
    kpis = _store.kpis(key) if key else {}
    settlement_cards = [
        c
        for c in headline_kpis(kpis, batches, rewards)
        if c["label"] in (COMMIT_GAS_LABEL, "rewards paid")
    ]
    batch_data = batch_rows(batches) if batches is not None else []
    reading_data = reading_status_rows(readings) if readings is not None else []
    reward_data = reward_rows(rewards) if rewards is not None else []
    return (
        message,
        cards(settlement_cards),
        batches is None,
        gas_figure(batches) if batches is not None and len(batches) else blank,
        batch_data,
        columns(batch_data),
        readings is None,
        reading_data,
        columns(reading_data),
        rewards is None,
        rewards_figure(rewards)
        if rewards is not None and len(rewards) and "amount" in rewards
        else blank,
        reward_data,
        columns(reward_data),
    )


@callback(
    Output("settlement-proof", "children"),
    Input("settlement-prove", "n_clicks"),
    State("settlement-trade-id", "value"),
    State("run", "value"),
    prevent_initial_call=True,
)
def prove(_clicks: int, trade_id: int | None, run: str | None) -> Any:
    """The chosen trade's leaf, proof and the contract's verdict."""
    from twin.verify import prove_trade

    key = _store.run_key(run)
    if key is None or trade_id is None:
        return notice("Choose a run and a trade id.")
    try:
        p = prove_trade(key[0], int(trade_id))
    except (KeyError, ValueError, FileNotFoundError) as err:
        return notice(str(err), "warning")
    verdict = "verified on-chain" if p["verified_on_chain"] else "NOT verified on-chain"
    return html.Div(
        [
            html.P(
                f"trade {p['trade_id']} (batch {p['batch_id']}): {p['seller']} -> {p['buyer']}, "
                f"{p['energy_wh']} Wh, {p['payment_micro_eur'] / 1e6:.6f} EUR: {verdict}",
                id="settlement-proof-verdict",
                className="verified" if p["verified_on_chain"] else "failed",
            ),
            html.Pre(
                "\n".join(
                    [f"leaf  {p['leaf']}", f"root  {p['root']}", "proof"]
                    + [f"  {step}" for step in p["proof"]]
                )
            ),
        ]
    )
