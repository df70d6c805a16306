"""The economy page's builders: who pays whom, who gains and who loses, treasury, proposals.

Money in the results store is integer micro-euro; these builders show EUR. The money flows
come from the run's tables only:

- ``bills``: each owner's utility bill of its imbalance is ``cost - p2p_paid``; the utility
  pays feed-in at its flat ``tariffs.feed_in_eur_per_mwh`` for ``export_wh`` and the member
  pays the rest of its bill for its imports (time-of-use retail);
- ``trades``: every buyer pays ``payment``; the seller receives it less ``grid_fee`` (to the
  grid operator) and, where the column exists, less ``protocol_fee_micro_eur`` (to the
  treasury);
- ``transactions``: each transaction's gas, priced at the scenario's *assumed* L1 gas price
  and ETH/EUR rate (``chain.gas_price_l1_gwei``, ``chain.eth_eur``), not at the embedded
  chain's own gas price;
- ``treasury`` (optional, signed ``amount_micro_eur``: inflows positive): its payouts.

DePIN rewards are tokens, not EUR, and are left out (the Settlement page shows them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import MARGIN, empty_figure, frame_rows
from settlement.market.totals import gini

#: Owners shown one by one in the Sankey up to this many (above: aggregated as members).
PER_MEMBER_MAX = 12

#: Colours of the Sankey's parties.
PARTY_COLOURS = {
    "member": "#4c78a8",
    "utility": "#e45756",
    "market": "#54a24b",
    "grid": "#b279a2",
    "treasury": "#f58518",
    "gas": "#9d755d",
    "asset": "#72b7b2",
    "vendor": "#79706e",
}

MICRO = 1_000_000

#: A node whose inflow and outflow differ by less than this is a pass-through [EUR].
BALANCE_TOLERANCE_EUR = 1e-9


class Link(NamedTuple):
    """One money flow of the Sankey: ``source`` pays ``target`` ``eur`` [EUR]."""

    source: str
    target: str
    eur: float
    party: str


class MoneyFlows(NamedTuple):
    """The Sankey's flows and the nodes where money enters (sources) or leaves (sinks)."""

    links: list[Link]
    sources: frozenset[str]
    sinks: frozenset[str]


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def gas_price_label(config: Mapping[str, Any]) -> str:
    """How gas is priced: ``L1 assumption: 5 gwei, 3,000 EUR/ETH``."""
    chain = config.get("chain") or {}
    return (
        f"L1 assumption: {float(chain.get('gas_price_l1_gwei', float('nan'))):g} gwei, "
        f"{float(chain.get('eth_eur', float('nan'))):,.0f} EUR/ETH"
    )


def gas_eur(transactions: pd.DataFrame, config: Mapping[str, Any]) -> pd.Series:
    """Each transaction's gas at the L1 assumption [EUR] (gas x gwei x 1e-9 x EUR/ETH)."""
    chain = config.get("chain") or {}
    price_eth = float(chain["gas_price_l1_gwei"]) * 1e-9
    return transactions["gas_used"].astype(float) * price_eth * float(chain["eth_eur"])


def money_flow_links(
    bills: pd.DataFrame,
    trades: pd.DataFrame | None,
    transactions: pd.DataFrame | None,
    treasury: pd.DataFrame | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    participants: pd.DataFrame | None = None,
    asset_payouts: pd.DataFrame | None = None,
    proposals: pd.DataFrame | None = None,
) -> MoneyFlows:
    """The run's money flows [EUR] between members, utility, market, grid, treasury and gas.

    Parameters
    ----------
    bills : DataFrame
        ``owner``, ``cost_micro_eur``, ``p2p_paid_micro_eur``, ``export_wh``.
    trades : DataFrame, optional
        ``seller``, ``buyer``, ``payment_micro_eur``, ``grid_fee_micro_eur`` (and
        ``protocol_fee_micro_eur`` where the run charges one).
    transactions : DataFrame, optional
        ``sender``, ``kind``, ``gas_used``.
    treasury : DataFrame, optional
        ``amount_micro_eur`` (inflows positive), ``kind`` and ``account``: contributions
        flow from the member whose address ``account`` is (``participants``) into the
        treasury, an ``asset_purchase`` from the treasury to its vendor, other outflows to
        ``treasury payout: <kind>``. ``protocol_fees`` rows are the trades' protocol fees,
        drawn from ``trades``.
    config : mapping, optional
        The manifest's ``config``: ``tariffs.feed_in_eur_per_mwh`` (without it the utility
        flows are each member's net bill) and ``chain.gas_price_l1_gwei``, ``chain.eth_eur``
        (without them no gas is shown).
    participants : DataFrame, optional
        ``owner``, ``address``: names the transaction senders, contributors and holders.
    asset_payouts : DataFrame, optional
        ``asset``, ``holder``, ``amount_micro_eur``: each asset's receipts paid to its
        holders, drawn from the asset's account (``asset-<asset>``) to the holder.
    proposals : DataFrame, optional
        ``proposal``, ``tx_hash``: names the asset an ``asset_purchase`` paid for.

    A community asset's account (owner ``asset-<name>``) is always shown on its own, apart
    from the members, so its market receipts and its payouts to the holders can be followed.
    """
    config = config or {}
    per_member = len(bills) <= PER_MEMBER_MAX
    owners = bills["owner"].astype(str)

    def pays(owner: str) -> str:
        return f"{owner} (pays)" if per_member or is_asset(owner) else "members (pay)"

    def gets(owner: str) -> str:
        return f"{owner} (receives)" if per_member or is_asset(owner) else "members (receive)"

    names: dict[str, str] = {}
    if participants is not None:
        names = dict(
            zip(
                participants["address"].astype(str).str.lower(),
                participants["owner"].astype(str),
                strict=True,
            )
        )

    flows: dict[tuple[str, str, str], float] = {}

    def add(source: str, target: str, micro_eur: float, party: str) -> None:
        if micro_eur:
            key = (source, target, party)
            flows[key] = flows.get(key, 0.0) + float(micro_eur)

    utility_bill = bills["cost_micro_eur"] - bills["p2p_paid_micro_eur"]
    feed_in = (config.get("tariffs") or {}).get("feed_in_eur_per_mwh")
    if feed_in is not None:  # a price in EUR/MWh is one in micro-EUR/Wh
        credit = np.rint(bills["export_wh"].astype(float) * float(feed_in))
    else:
        credit = np.maximum(-utility_bill, 0)
    for owner, bill, paid in zip(owners, utility_bill, credit, strict=True):
        add(pays(owner), "utility (retail)", bill + paid, "utility")
        add("utility (feed-in)", gets(owner), paid, "utility")
    if trades is not None and len(trades):
        fee = trades["grid_fee_micro_eur"].astype(np.int64)
        protocol = (
            trades["protocol_fee_micro_eur"].astype(np.int64)
            if "protocol_fee_micro_eur" in trades
            else pd.Series(0, index=trades.index)
        )
        paid_by = trades.groupby(trades["buyer"].astype(str))["payment_micro_eur"].sum()
        net = trades["payment_micro_eur"] - fee - protocol
        got_by = net.groupby(trades["seller"].astype(str)).sum()
        for buyer, micro in paid_by.items():
            add(pays(str(buyer)), "P2P market", micro, "market")
        for seller, micro in got_by.items():
            add("P2P market", gets(str(seller)), micro, "market")
        add("P2P market", "grid operator (grid fees)", fee.sum(), "grid")
        add("P2P market", "treasury", protocol.sum(), "treasury")
    sources = {"utility (feed-in)"}
    sinks = {"utility (retail)", "grid operator (grid fees)", "treasury"}
    if treasury is not None and {"amount_micro_eur"} <= set(treasury) and len(treasury):
        for source, target, micro in treasury_links(treasury, names, proposals, pays):
            add(source, target, micro, "treasury")
    if asset_payouts is not None and len(asset_payouts):
        paid = (
            pd.DataFrame(
                {
                    "asset": asset_payouts["asset"].astype(str),
                    "holder": asset_payouts["holder"].astype(str),
                    "micro_eur": asset_payouts["amount_micro_eur"].astype(np.int64),
                }
            )
            .groupby(["asset", "holder"], as_index=False)["micro_eur"]
            .sum()
        )
        for asset, holder, micro in paid.itertuples(index=False):
            who = names.get(holder.lower())
            add(
                gets(f"asset-{asset}"),
                gets(who) if who else f"holder {_short(holder)}",
                micro,
                "asset",
            )
    sources |= {pays(o) for o in owners}
    sinks |= {gets(o) for o in owners}
    if (
        transactions is not None
        and len(transactions)
        and "gas_price_l1_gwei" in (config.get("chain") or {})
    ):
        spent = (
            pd.DataFrame(
                {
                    "sender": transactions["sender"].astype(str),
                    "kind": transactions["kind"].astype(str),
                    "eur": gas_eur(transactions, config),
                }
            )
            .groupby(["sender", "kind"], as_index=False)["eur"]
            .sum()
        )
        label = gas_price_label(config)
        for sender, kind_, value in spent.itertuples(index=False):
            who = names.get(sender.lower())
            source = pays(who) if who else f"sender {_short(sender)}"
            hub = f"gas ({label})"
            add(source, hub, value * MICRO, "gas")
            add(hub, f"gas: {kind_}", value * MICRO, "gas")
            sources.add(source)
            sinks.add(f"gas: {kind_}")
    links = [Link(s, t, v / MICRO, p) for (s, t, p), v in flows.items() if v > 0]
    used = {n for link in links for n in (link.source, link.target)}
    sources, sinks = sources & used, sinks & used
    for node, surplus in node_balance(MoneyFlows(links, frozenset(), frozenset())).items():
        # holders not among the owners are sinks; an asset's account is whichever its
        # receipts and payouts make it (it keeps what it has not paid out yet)
        if surplus > BALANCE_TOLERANCE_EUR and node not in sources:
            sinks.add(node)
        elif surplus < -BALANCE_TOLERANCE_EUR and node not in sinks:
            sources.add(node)
    return MoneyFlows(links, frozenset(sources), frozenset(sinks))


def is_asset(owner: str) -> bool:
    """Whether ``owner`` is a community asset's account (``asset-<name>``)."""
    return owner.startswith("asset-")


def treasury_links(
    treasury: pd.DataFrame,
    names: Mapping[str, str],
    proposals: pd.DataFrame | None,
    pays: Any,
) -> list[tuple[str, str, int]]:
    """The treasury's own flows ``(source, target, micro-EUR)`` beside its protocol fees.

    Contributions come from ``pays(owner)`` of the contributing account (``contributions``
    when the account is no participant), other inflows from ``treasury inflow: <kind>``; an
    ``asset_purchase`` goes to ``vendor: <proposal>`` (the proposal whose execute
    transaction paid it), other outflows to ``treasury payout: <kind>``. Protocol fee rows
    (``protocol_fees``) are left out: the trades carry them.
    """
    amount = treasury["amount_micro_eur"].astype(np.int64)
    kind = treasury["kind"].astype(str) if "kind" in treasury else pd.Series("", amount.index)
    account = (
        treasury["account"].astype(str).str.lower()
        if "account" in treasury
        else pd.Series("", amount.index)
    )
    paid_for: dict[str, str] = {}
    if proposals is not None and {"tx_hash", "proposal"} <= set(proposals):
        paid_for = {
            str(tx): str(name)
            for tx, name in zip(proposals["tx_hash"], proposals["proposal"], strict=True)
            if tx
        }
    tx = treasury["tx_hash"].astype(str) if "tx_hash" in treasury else pd.Series("", amount.index)
    out: dict[tuple[str, str], int] = {}
    for micro, kind_, who, tx_ in zip(amount, kind, account, tx, strict=True):
        if micro > 0 and kind_.startswith("protocol_fee"):
            continue
        if micro > 0 and kind_ == "contribution":
            owner = names.get(who)
            key = (pays(owner) if owner else "contributions", "treasury")
        elif micro > 0:
            key = (f"treasury inflow: {kind_ or 'payments'}", "treasury")
        elif micro < 0 and kind_ == "asset_purchase":
            key = ("treasury", f"vendor: {paid_for.get(tx_, 'asset purchase')}")
        elif micro < 0:
            key = ("treasury", f"treasury payout: {kind_ or 'payments'}")
        else:
            continue
        out[key] = out.get(key, 0) + abs(int(micro))
    return [(s, t, v) for (s, t), v in out.items()]


def node_balance(flows: MoneyFlows) -> dict[str, float]:
    """Each node's inflow minus outflow [EUR] (0 for every node but sources and sinks)."""
    out: dict[str, float] = {}
    for link in flows.links:
        out[link.source] = out.get(link.source, 0.0) - link.eur
        out[link.target] = out.get(link.target, 0.0) + link.eur
    return out


def money_flows(
    bills: pd.DataFrame,
    trades: pd.DataFrame | None,
    transactions: pd.DataFrame | None,
    kpis: Mapping[str, float],
    treasury: pd.DataFrame | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    participants: pd.DataFrame | None = None,
    asset_payouts: pd.DataFrame | None = None,
    proposals: pd.DataFrame | None = None,
) -> go.Figure:
    """Sankey of who pays whom over the run [EUR] (see :func:`money_flow_links`).

    ``kpis`` gives the title its community saving (``savings_eur``) and the all-gas cost at
    L1 (``gas_cost_l1_eur``).
    """
    flows = money_flow_links(
        bills,
        trades,
        transactions,
        treasury,
        config=config,
        participants=participants,
        asset_payouts=asset_payouts,
        proposals=proposals,
    )
    if not flows.links:
        return empty_figure("no money flows in this run")
    labels = list(dict.fromkeys(n for link in flows.links for n in (link.source, link.target)))
    index = {n: i for i, n in enumerate(labels)}

    def colour(node: str) -> str:
        for word, party in (
            ("utility", "utility"),
            ("market", "market"),
            ("grid", "grid"),
            ("vendor", "vendor"),
            ("asset-", "asset"),
            ("treasury", "treasury"),
            ("gas", "gas"),
            ("sender", "gas"),
        ):
            if word in node:
                return PARTY_COLOURS[party]
        return PARTY_COLOURS["member"]

    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",.2f",
            valuesuffix=" EUR",
            node={
                "label": labels,
                "color": [colour(n) for n in labels],
                "pad": 12,
                "line": {"width": 0},
            },
            link={
                "source": [index[link.source] for link in flows.links],
                "target": [index[link.target] for link in flows.links],
                "value": [link.eur for link in flows.links],
                "color": [PARTY_COLOURS[link.party] + "66" for link in flows.links],
            },
        )
    )
    parts = [f"community saving {kpis['savings_eur']:,.2f} EUR"] if "savings_eur" in kpis else []
    if "gas_cost_l1_eur" in kpis:
        parts.append(f"all gas {kpis['gas_cost_l1_eur']:,.2f} EUR at the L1 assumption")
    title = "Who pays whom over the run [EUR]" + (f": {'; '.join(parts)}" if parts else "")
    fig.update_layout(title=title, margin=MARGIN, font={"size": 12})
    return fig


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
