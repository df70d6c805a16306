"""The economy page's builders on real runs: the session's default day run (mid_market) and
the shortened ``scenarios/economy.toml`` (contributions, a passed and a defeated proposal, the
funded battery's payouts to its holders)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from figures.economy import economy_cards, winners_losers
from figures.money_flows import PER_MEMBER_MAX, MoneyFlows, money_flow_links, money_flows
from figures.treasury import ballot_benefits, proposal_votes, proposals_rows, treasury_over_time
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
    homes = int(kpis["homes_gaining"])
    assert f"homes (members): {homes} gain, 0 lose" in title  # mid_market
    assert "apart, community generators: 1 gain, 0 lose" in title  # the turbine's account
    assert homes == (bills["owner"] != "community").sum()
    # the Gini without the KPI is the run's own
    assert gini(bills["savings_micro_eur"].to_numpy()) == pytest.approx(kpis["savings_gini"])
    assert f"Gini {kpis['savings_gini']:.3f}" in winners_losers(bills).layout.title.text
    # a home that loses is highlighted in red; the turbine's account is apart, in its colour
    home = str(bills.loc[bills["owner"] != "community", "owner"].iloc[0])
    worse = bills.assign(
        savings_micro_eur=bills["savings_micro_eur"].where(bills["owner"] != home, -5)
    )
    fig = winners_losers(worse)
    assert fig.data[0].x[0] == home
    colours = dict(zip(fig.data[0].x, fig.data[0].marker.color, strict=True))
    assert colours[home] == "#e45756"
    assert list(colours.values()).count("#e45756") == 1
    gaining_home = str(bills.loc[bills["owner"] != "community", "owner"].iloc[-1])
    assert colours[gaining_home] == "#54a24b"
    assert colours["community"] not in (colours[home], colours[gaining_home])
    assert f"homes (members): {homes - 1} gain, 1 lose" in fig.layout.title.text


def test_economy_cards(day_run: RunFolder) -> None:
    bills, kpis = day_run.table("bills"), day_run.kpis()
    cards = {c["label"]: (c["value"], c["unit"]) for c in economy_cards(kpis, bills, None)}
    assert cards["community saving vs utility only"] == (f"{kpis['savings_eur']:,.2f}", "EUR")
    assert cards["all gas at L1"] == (f"{kpis['gas_cost_l1_eur']:,.2f}", "EUR")
    assert cards["all gas at L2"] == (f"{kpis['gas_cost_l2_eur']:,.2f}", "EUR")
    worst = str(bills.loc[bills["savings_micro_eur"].idxmin(), "owner"])
    assert f"worst-off account: {worst}" in cards
    assert cards["homes (members) gaining"] == (f"{kpis['homes_gaining']:,.0f}", "")
    assert cards["homes (members) losing"] == ("0", "")  # mid_market
    assert cards["apart: community generators' accounts gaining"] == ("1", "")  # the turbine
    assert not any("shared assets" in label for label in cards)  # no asset in this run
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
    kinds = {t.name: list(t.y) for t in fig.data}  # the kinds' running sums, as steps
    assert kinds["protocol_fee"] == [1.0, 4.0, 4.0]
    assert kinds["payout"] == [0.0, 0.0, -2.5]
    assert all(t.line.shape == "hv" for t in fig.data)
    assert proposal_votes(None).layout.annotations[0].text == "this run has no proposals"
    assert ballot_benefits(None).layout.annotations[0].text == "this run has no ballots"
    proposals = pd.DataFrame(
        {"proposal_id": [1], "votes_for": [10], "cost_micro_eur": [1_234_560_000]}
    )
    assert proposals_rows(proposals) == [{"proposal_id": 1, "votes_for": 10, "cost_eur": 1234.56}]


def _economy_flows(run: RunFolder) -> tuple[go.Figure, MoneyFlows]:
    """The run's Sankey and its flows, from every table the economy page passes."""
    bills, trades, transactions = run.table("bills"), run.table("trades"), run.table("transactions")
    treasury, config = run.table("treasury"), run.manifest["config"]
    participants, payouts = run.table("participants"), run.table("asset_payouts")
    proposals = run.table("proposals")
    fig = money_flows(
        bills,
        trades,
        transactions,
        run.kpis(),
        treasury,
        config=config,
        participants=participants,
        asset_payouts=payouts,
        proposals=proposals,
    )
    flows = money_flow_links(
        bills,
        trades,
        transactions,
        treasury,
        config=config,
        participants=participants,
        asset_payouts=payouts,
        proposals=proposals,
    )
    return fig, flows


@pytest.mark.slow
def test_money_flows_with_contributions_purchase_and_payouts(economy_run: RunFolder) -> None:
    treasury = economy_run.table("treasury")
    payouts = economy_run.table("asset_payouts")
    proposals = economy_run.table("proposals").set_index("proposal")
    fig, flows = _economy_flows(economy_run)
    inflow, outflow, balance = sankey_balance(fig)
    amount = treasury["amount_micro_eur"]
    assert set(treasury["kind"]) == {"contribution", "protocol_fees", "asset_purchase"}
    # every euro into the treasury in the Sankey is an inflow of its table, and back
    assert inflow["treasury"] == pytest.approx(amount[amount > 0].sum() / EUR, abs=1e-6)
    assert outflow["treasury"] == pytest.approx(-amount[amount < 0].sum() / EUR, abs=1e-6)
    assert balance["treasury"] == pytest.approx(amount.sum() / EUR, abs=1e-6)
    links = {(link.source, link.target): link.eur for link in flows.links}
    contribution = treasury.loc[treasury["kind"] == "contribution", "amount_micro_eur"].sum()
    assert links["members (pay)", "treasury"] == pytest.approx(contribution / EUR)
    fees = treasury.loc[treasury["kind"] == "protocol_fees", "amount_micro_eur"].sum()
    assert links["P2P market", "treasury"] == pytest.approx(fees / EUR)
    # the purchase goes to the executed proposal's vendor, the defeated one buys nothing
    assert proposals.loc["battery-substation", "state"] == "executed"
    cost = proposals.loc["battery-substation", "cost_micro_eur"]
    assert inflow["vendor: battery-substation"] == pytest.approx(cost / EUR)
    assert not any("feeder-end" in n for n in balance)
    # the battery's account is shown apart; its payouts reach the holders (the members)
    asset = "asset-battery-substation (receives)"
    assert outflow[asset] == pytest.approx(payouts["amount_micro_eur"].sum() / EUR)
    assert links[asset, "members (receive)"] == pytest.approx(outflow[asset])
    assert payouts["amount_micro_eur"].sum() > 0
    assert "asset-battery-substation (pays)" in flows.sources
    for node, net in balance.items():  # what enters a node leaves it, but sources and sinks
        if node not in flows.sources | flows.sinks:
            assert net == pytest.approx(0, abs=1e-9), node
    assert all(balance[n] < 0 for n in flows.sources)
    assert all(balance[n] > 0 for n in flows.sinks)


@pytest.mark.slow
def test_members_gaining_are_homes_only(economy_run: RunFolder) -> None:
    bills, kpis = economy_run.table("bills"), economy_run.kpis()
    owner = bills["owner"].astype(str)
    home = (owner != "community") & ~owner.str.startswith("asset-")
    gains = bills["savings_micro_eur"] > 0
    assert kpis["homes_gaining"] == (home & gains).sum()
    assert kpis["community_generators_gaining"] == ((owner == "community") & gains).sum()
    assert kpis["shared_assets_gaining"] == (owner.str.startswith("asset-") & gains).sum() > 0
    title = winners_losers(bills, kpis).layout.title.text
    assert f"homes (members): {int(kpis['homes_gaining'])} gain" in title
    assert "apart, shared assets:" in title
    labels = [c["label"] for c in economy_cards(kpis, bills, None)]
    assert "apart: shared assets' accounts gaining" in labels


def test_treasury_over_time_by_kind(economy_run: RunFolder) -> None:
    treasury = economy_run.table("treasury")
    fig = treasury_over_time(treasury)
    lines = {t.name: t for t in fig.data}
    assert fig.data[0].name == "balance"
    assert set(lines) == {"balance", *treasury["kind"]}
    balance = np.asarray(lines["balance"].y)
    assert balance[-1] == pytest.approx(treasury["amount_micro_eur"].sum() / EUR)
    assert (balance >= 0).all()
    kinds = [np.asarray(t.y) for name, t in lines.items() if name != "balance"]
    np.testing.assert_allclose(np.sum(kinds, axis=0), balance)
    for kind, rows in treasury.groupby("kind"):
        assert lines[str(kind)].y[-1] == pytest.approx(rows["amount_micro_eur"].sum() / EUR)
    # the purchase steps the balance down at the proposal's execution, not before
    executed = economy_run.table("proposals").set_index("proposal").loc["battery-substation"]
    times = pd.DatetimeIndex(lines["asset_purchase"].x)
    purchase = np.asarray(lines["asset_purchase"].y)
    assert (purchase[times < executed["executed"]] == 0).all()
    assert (purchase[times >= executed["executed"]] == -executed["cost_micro_eur"] / EUR).all()


@pytest.mark.slow
def test_proposal_votes_are_the_tables(economy_run: RunFolder) -> None:
    proposals = economy_run.table("proposals")
    ballots = economy_run.table("ballots")
    fig = proposal_votes(proposals)
    bars = {t.name: t for t in fig.data}
    expected_x = [
        f"{p} ({s})" for p, s in zip(proposals["proposal"], proposals["state"], strict=True)
    ]
    assert list(bars["for"].x) == expected_x
    assert list(bars["for"].y) == proposals["votes_for"].tolist()
    assert list(bars["against"].y) == proposals["votes_against"].tolist()
    assert list(bars["quorum (for + abstain)"].y) == proposals["quorum"].tolist()
    assert "abstain" not in bars  # nobody abstained
    weights = ballots.pivot_table(
        index="proposal", columns="support", values="weight", aggfunc="sum", fill_value=0
    )
    for name, row in proposals.set_index("proposal").iterrows():
        assert row["votes_for"] == weights.loc[name, "for"]
        assert row["votes_against"] == weights.loc[name, "against"]
    assert expected_x == ["battery-substation (executed)", "battery-feeder-end (defeated)"]
    rows = {r["proposal"]: r for r in proposals_rows(proposals)}
    executed = proposals.set_index("proposal").loc["battery-substation", "executed"]
    assert rows["battery-substation"]["executed"] == executed.strftime("%Y-%m-%d %H:%M")
    assert rows["battery-feeder-end"]["executed"] is None
    assert rows["battery-substation"]["cost_eur"] == 60_000.0


@pytest.mark.slow
def test_ballot_benefits_show_every_members_projection(economy_run: RunFolder) -> None:
    ballots = economy_run.table("ballots")
    fig = ballot_benefits(ballots)
    shown = {(t.name, x, m): y for t in fig.data for x, y, m in zip(t.x, t.y, t.text, strict=True)}
    assert len(shown) == len(ballots)
    for row in ballots.itertuples():
        benefit = shown[row.support, row.proposal, row.member]
        assert benefit == pytest.approx(row.projected_benefit_micro_eur / EUR)
        assert (benefit > 0) == (row.support == "for")  # a member votes by its projection
    title = fig.layout.title.text
    for name, rows in ballots.groupby("proposal"):
        gain = int((rows["projected_benefit_micro_eur"] > 0).sum())
        assert f"{name}: {gain} gain, {len(rows) - gain} lose" in title
