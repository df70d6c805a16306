"""The economy page's builders on a real run (the session's default day run, mid_market)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from figures.economy import (
    PER_MEMBER_MAX,
    economy_cards,
    money_flow_links,
    money_flows,
    proposals_rows,
    treasury_over_time,
    winners_losers,
)
from settlement.market.totals import gini
from twin.results import RunFolder

EUR = 1e6  # micro-EUR per EUR


def sankey_balance(fig: object) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Inflow, outflow and inflow - outflow of each node of a drawn Sankey [EUR]."""
    sankey = fig.data[0]  # type: ignore[attr-defined]
    labels = list(sankey.node.label)
    inflow: dict[str, float] = defaultdict(float)
    outflow: dict[str, float] = defaultdict(float)
    link = sankey.link
    for s, t, v in zip(link.source, link.target, link.value, strict=True):
        assert v > 0
        outflow[labels[s]] += v
        inflow[labels[t]] += v
    return inflow, outflow, {n: inflow[n] - outflow[n] for n in labels}


def test_money_flows_conserve_money_and_match_the_tables(day_run: RunFolder) -> None:
    bills, trades = day_run.table("bills"), day_run.table("trades")
    transactions, kpis = day_run.table("transactions"), day_run.kpis()
    config = day_run.manifest["config"]
    before = bills.copy()
    fig = money_flows(bills, trades, transactions, kpis, config=config)
    pd.testing.assert_frame_equal(bills, before)  # inputs not changed
    assert len(bills) > PER_MEMBER_MAX  # the default community is aggregated
    flows = money_flow_links(bills, trades, transactions, config=config)
    inflow, outflow, balance = sankey_balance(fig)
    assert len(balance) <= 50
    for node, net in balance.items():  # what enters a node leaves it, but sources and sinks
        if node not in flows.sources | flows.sinks:
            assert net == pytest.approx(0, abs=1e-9), node
    assert all(balance[n] < 0 for n in flows.sources)
    assert all(balance[n] > 0 for n in flows.sinks)
    # members: what they pay less what they receive is the sum of their bills
    members_net = outflow["members (pay)"] - inflow["members (receive)"]
    assert members_net == pytest.approx(bills["cost_micro_eur"].sum() / EUR, abs=1e-6)
    utility = bills["cost_micro_eur"] - bills["p2p_paid_micro_eur"]
    assert inflow["utility (retail)"] - outflow.get("utility (feed-in)", 0.0) == pytest.approx(
        utility.sum() / EUR, abs=1e-6
    )
    assert inflow["P2P market"] == pytest.approx(trades["payment_micro_eur"].sum() / EUR)
    fees = trades["grid_fee_micro_eur"].sum()
    protocol = trades["protocol_fee_micro_eur"].sum()
    # the run's own conservation: members' net P2P payments are the fees they left behind
    assert bills["p2p_paid_micro_eur"].sum() == fees + protocol
    assert protocol > 0  # the default protocol fee
    assert inflow.get("grid operator (grid fees)", 0.0) == pytest.approx(fees / EUR)
    assert inflow["treasury"] == pytest.approx(protocol / EUR)
    # gas: every transaction at the L1 assumption, by kind, adds up to the run's KPI
    gas = {n: v for n, v in inflow.items() if n.startswith("gas: ")}
    assert gas
    assert sum(gas.values()) == pytest.approx(kpis["gas_cost_l1_eur"], rel=1e-9)
    chain = config["chain"]
    per_kind = transactions.groupby("kind")["gas_used"].sum()
    for kind, used in per_kind.items():
        expected = used * chain["gas_price_l1_gwei"] * 1e-9 * chain["eth_eur"]
        assert gas[f"gas: {kind}"] == pytest.approx(expected, rel=1e-9)
    hub = next(n for n in balance if n.startswith("gas (L1 assumption"))
    assert f"{chain['gas_price_l1_gwei']:g} gwei" in hub
    assert balance["treasury"] == pytest.approx(protocol / EUR)  # a sink: fees stay there
    assert f"{kpis['savings_eur']:,.2f}" in fig.layout.title.text


def test_money_flows_per_member_with_fees_and_treasury(day_run: RunFolder) -> None:
    """A small community (six owners of the day run, their trades among themselves), with a
    protocol fee column and treasury payouts as the economy layer will add them."""
    bills = day_run.table("bills").iloc[:6]
    owners = set(bills["owner"])
    trades = day_run.table("trades")
    trades = trades[trades["seller"].isin(owners) & trades["buyer"].isin(owners)]
    assert len(trades)
    trades = trades.assign(protocol_fee_micro_eur=trades["payment_micro_eur"] // 100)
    treasury = pd.DataFrame(
        {
            "time": pd.to_datetime(["2016-06-06T12:00Z", "2016-06-06T18:00Z"]),
            "amount_micro_eur": [int(trades["protocol_fee_micro_eur"].sum()), -1000],
            "kind": ["protocol_fee", "battery"],
        }
    )
    config = {**day_run.manifest["config"], "tariffs": {"feed_in_eur_per_mwh": 80.0}}
    fig = money_flows(bills, trades, None, {}, treasury, config=config)
    flows = money_flow_links(bills, trades, None, treasury, config=config)
    inflow, outflow, balance = sankey_balance(fig)
    assert "members (pay)" not in balance
    assert {n.removesuffix(" (pays)") for n in balance if n.endswith(" (pays)")} <= owners
    assert {f"{o} (pays)" for o in trades["buyer"].astype(str)} <= set(balance)
    for node, net in balance.items():
        if node not in flows.sources | flows.sinks:
            assert net == pytest.approx(0, abs=1e-9), node
    fee = trades["protocol_fee_micro_eur"].sum() / EUR
    assert inflow["treasury"] == pytest.approx(fee)
    assert outflow["treasury"] == pytest.approx(0.001)
    for owner, rows in trades.groupby("seller", observed=True):
        got = (rows["payment_micro_eur"] - rows["protocol_fee_micro_eur"]).sum() / EUR
        received = sum(
            link.eur
            for link in flows.links
            if link.source == "P2P market" and link.target == f"{owner} (receives)"
        )
        assert received == pytest.approx(got)
    net = {o: outflow.get(f"{o} (pays)", 0.0) - inflow.get(f"{o} (receives)", 0.0) for o in owners}
    # each owner's net is its utility bill plus its P2P purchases less its sales (fees out)
    for row in bills.itertuples():
        bought = trades.loc[trades["buyer"] == row.owner, "payment_micro_eur"].sum()
        sold = trades.loc[trades["seller"] == row.owner]
        sold_net = (sold["payment_micro_eur"] - sold["protocol_fee_micro_eur"]).sum()
        utility = row.cost_micro_eur - row.p2p_paid_micro_eur
        assert net[row.owner] == pytest.approx((utility + bought - sold_net) / EUR, abs=1e-6)


def test_winners_losers_sorted_with_gini_and_worst_off(day_run: RunFolder) -> None:
    bills, kpis = day_run.table("bills"), day_run.kpis()
    fig = winners_losers(bills, kpis)
    bar = fig.data[0]
    y = np.asarray(bar.y)
    assert list(y) == sorted(y)
    expected = bills.set_index("owner")["savings_micro_eur"] / EUR
    np.testing.assert_allclose(y, expected[list(bar.x)].to_numpy())
    worst = str(bills.loc[bills["savings_micro_eur"].idxmin(), "owner"])
    assert bar.x[0] == worst
    title = fig.layout.title.text
    assert f"Gini {kpis['savings_gini']:.3f}" in title
    assert f"worst off {worst}" in title
    assert f"{int(kpis['participants_gaining'])} gain, 0 lose" in title  # mid_market
    # the Gini without the KPI is the run's own
    assert gini(bills["savings_micro_eur"].to_numpy()) == pytest.approx(kpis["savings_gini"])
    assert f"Gini {kpis['savings_gini']:.3f}" in winners_losers(bills).layout.title.text
    # a loser is highlighted in red
    worse = bills.assign(
        savings_micro_eur=bills["savings_micro_eur"].where(bills["owner"] != "community", -5)
    )
    fig = winners_losers(worse)
    assert fig.data[0].x[0] == "community"
    colours = list(fig.data[0].marker.color)
    assert colours[0] != colours[-1]
    assert colours.count(colours[0]) == 1
    assert "1 lose" in fig.layout.title.text


def test_economy_cards(day_run: RunFolder) -> None:
    bills, kpis = day_run.table("bills"), day_run.kpis()
    cards = {c["label"]: (c["value"], c["unit"]) for c in economy_cards(kpis, bills, None)}
    assert cards["community saving vs utility only"] == (f"{kpis['savings_eur']:,.2f}", "EUR")
    assert cards["all gas at L1"] == (f"{kpis['gas_cost_l1_eur']:,.2f}", "EUR")
    assert cards["all gas at L2"] == (f"{kpis['gas_cost_l2_eur']:,.2f}", "EUR")
    worst = str(bills.loc[bills["savings_micro_eur"].idxmin(), "owner"])
    assert f"worst off: {worst}" in cards
    assert "treasury balance" not in cards
    treasury = pd.DataFrame(
        {"time": pd.to_datetime(["2016-06-06T12:00Z"]), "amount_micro_eur": [2_500_000]}
    )
    cards = {c["label"]: c["value"] for c in economy_cards({}, None, treasury)}
    assert cards == {"treasury balance": "2.50"}


def test_treasury_and_proposals_and_their_empty_states() -> None:
    assert treasury_over_time(None).layout.annotations[0].text.startswith("this run has no")
    assert proposals_rows(None) == []
    treasury = pd.DataFrame(
        {
            "time": pd.to_datetime(["2016-06-07T00:00Z", "2016-06-06T00:00Z", "2016-06-08T00:00Z"]),
            "amount_micro_eur": [3_000_000, 1_000_000, -2_500_000],
            "kind": ["protocol_fee", "protocol_fee", "payout"],
        }
    )
    fig = treasury_over_time(treasury)
    balance = next(t for t in fig.data if t.name == "balance")
    np.testing.assert_allclose(np.asarray(balance.y), [1.0, 4.0, 1.5])
    assert {t.name for t in fig.data} == {"balance", "protocol_fee", "payout"}
    proposals = pd.DataFrame(
        {"proposal_id": [1], "votes_for": [10], "cost_micro_eur": [1_234_560_000]}
    )
    assert proposals_rows(proposals) == [{"proposal_id": 1, "votes_for": 10, "cost_eur": 1234.56}]
