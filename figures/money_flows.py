"""Who pays whom: the economy page's money-flow Sankey.

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

from figures.common import MARGIN, empty_figure
from settlement.market.accounts import account_kind

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
    return account_kind(owner) == "asset"


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
