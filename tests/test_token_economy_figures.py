"""The token economy's figures show the numbers of the run's tables.

On two days of ``scenarios/depin_economy.toml`` (:data:`tests.dashboard_fixtures.
DEPIN_ECONOMY_SHORT`: stakes, daily epochs of a decaying emission, a data sale, a device sale)
and one day of ``scenarios/fraud.toml`` (its attackers slashed): emission and revenue per
epoch, the break-even token value, stakes and slashes, data sales' payouts against the
buyer's payment, households per aggregate against k, and the royalty of a device sale. The
builders also take tables without their optional columns, and runs without the tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from figures.data_market import (
    TREASURY_CUT,
    data_sale_payouts,
    device_sales,
    households_distribution,
    payouts_by_kind,
    transfer_rows,
)
from figures.stakes import slash_rows, stakes_by_device, stakes_by_device_figure, stakes_over_time
from figures.token_economy import emission_vs_revenue, token_economy_cards, token_supply
from settlement.depin.client import REWARD_DECIMALS
from tests.dashboard_fixtures import depin_economy_run, fraud_run
from twin.results import RunFolder

TOKEN = 10**REWARD_DECIMALS
MICRO = 1_000_000


@pytest.fixture(scope="module")
def depin(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    return depin_economy_run(tmp_path_factory)


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    return fraud_run(tmp_path_factory)


def _trace(fig: go.Figure, name: str) -> Any:
    """The one trace of ``fig`` called ``name``."""
    traces = [t for t in fig.data if t.name == name]
    assert len(traces) == 1, name
    return traces[0]


@pytest.mark.slow
def test_emission_against_revenue_shows_the_table(depin: RunFolder) -> None:
    economy = depin.table("token_economy").sort_values("epoch")
    fig = emission_vs_revenue(economy)
    emitted = _trace(fig, "rewards emitted [tokens]")
    revenue = _trace(fig, "protocol revenue [EUR]")
    break_even = _trace(fig, "break-even token value [EUR/token]")
    assert list(emitted.x) == economy["epoch"].tolist()
    np.testing.assert_allclose(emitted.y, economy["emitted_units"] / TOKEN)
    np.testing.assert_allclose(revenue.y, economy["protocol_revenue_micro_eur"] / MICRO)
    # at the break-even value the epoch's rewards are worth its protocol revenue
    np.testing.assert_allclose(
        np.asarray(break_even.y) * np.asarray(emitted.y), revenue.y, rtol=1e-3
    )
    assert len(economy) == 2
    assert economy["emitted_units"].iloc[1] < economy["emitted_units"].iloc[0]  # decaying
    supply = token_supply(economy)
    np.testing.assert_allclose(_trace(supply, "supply").y, economy["supply_units"] / TOKEN)
    np.testing.assert_allclose(
        np.asarray(_trace(supply, "staked").y) + np.asarray(_trace(supply, "circulating").y),
        _trace(supply, "supply").y,
    )
    cards = {c["label"]: c["value"] for c in token_economy_cards(economy, None, None, None)}
    assert cards["rewards emitted"] == f"{economy['emitted_units'].sum() / TOKEN:,.6f}"
    assert (
        cards["protocol revenue"] == f"{economy['protocol_revenue_micro_eur'].sum() / MICRO:,.2f}"
    )


def test_emission_reads_optional_columns_defensively() -> None:
    economy = pd.DataFrame(
        {
            "epoch": [1, 0],
            "emitted_units": [500 * TOKEN, 1000 * TOKEN],
            "protocol_revenue_micro_eur": [2 * MICRO, 0],
            "treasury_balance_micro_eur": [7 * MICRO, 5 * MICRO],
        }
    )
    fig = emission_vs_revenue(economy)
    assert list(_trace(fig, "rewards emitted [tokens]").x) == [0, 1]  # sorted by epoch
    np.testing.assert_allclose(_trace(fig, "break-even token value [EUR/token]").y, [0.0, 0.004])
    np.testing.assert_allclose(_trace(fig, "treasury balance [EUR]").y, [5.0, 7.0])
    burned = economy.assign(burned_units=[2 * TOKEN, TOKEN], supply_units=0)
    np.testing.assert_allclose(_trace(token_supply(burned), "burned (cumulative)").y, [1.0, 3.0])
    assert not any(t.name.startswith("emission pool") for t in fig.data)
    nothing_emitted = economy.assign(emitted_units=0)
    assert np.isnan(
        _trace(emission_vs_revenue(nothing_emitted), "break-even token value [EUR/token]").y
    ).all()
    for builder in (emission_vs_revenue, token_supply):
        blank = builder(None)
        assert "no token_economy table" in blank.layout.annotations[0].text


@pytest.mark.slow
def test_stakes_over_time_end_at_the_chains_stake(depin: RunFolder) -> None:
    stakes = depin.table("stakes")
    economy = depin.table("token_economy").sort_values("epoch")
    staked = _trace(stakes_over_time(stakes), "staked on devices [tokens]")
    assert staked.y[-1] == pytest.approx(economy["staked_units"].iloc[-1] / TOKEN)
    by_device = stakes_by_device(stakes)
    assert set(by_device.index) == set(stakes.loc[stakes["kind"] == "stake", "node_id"])
    assert sum(by_device["remaining"]) == economy["staked_units"].iloc[-1]
    fig = stakes_by_device_figure(stakes)
    # the subtle wind inflater, slashed once on the grid-side check's verdict, nobody else
    slashed = stakes.loc[stakes["kind"] == "slash"]
    assert slashed["node_id"].tolist() == ["wind-0"]
    assert fig.data[0].name == "remaining stake"
    assert {t.name for t in fig.data[1:]} <= {
        "slashed: burned",
        "slashed: to the treasury",
        "slashed: to the reporter",
    }
    assert len(slash_rows(stakes)) == 1


@pytest.mark.slow
def test_slashes_per_device_add_up(fraud: RunFolder) -> None:
    stakes = fraud.table("stakes")
    slashes = stakes[stakes["kind"] == "slash"]
    assert not slashes.empty
    by_device = stakes_by_device(stakes)
    slashed = by_device[by_device["slashed"] > 0]
    assert set(slashed.index) == set(slashes["node_id"])
    for _, row in slashed.iterrows():
        assert row["slashed"] == row["burned"] + row["to_treasury"] + row["to_reporter"]
        assert row["remaining"] == row["staked"] - row["slashed"]
    attackers = fraud.table("nodes").set_index("node_id")["attack"].astype(str)
    assert (attackers[list(slashed.index)] != "none").all()  # no honest device slashed
    over_time = stakes_over_time(stakes)
    marks = _trace(over_time, "slashed [tokens]")
    assert sum(marks.y) == pytest.approx(slashes["amount_units"].sum() / TOKEN)
    staked = stakes.loc[stakes["kind"] == "stake", "amount_units"].sum()
    end = _trace(over_time, "staked on devices [tokens]").y[-1]
    assert end == pytest.approx((staked - slashes["amount_units"].sum()) / TOKEN)
    fig = stakes_by_device_figure(stakes)
    total = sum(float(np.sum(t.y)) for t in fig.data)
    assert total == pytest.approx(by_device["staked"].sum() / TOKEN)
    rows = slash_rows(stakes)
    assert len(rows) == len(slashes)
    assert {r["node_id"] for r in rows} == set(slashes["node_id"])
    assert all("amount_units" not in r for r in rows)  # tokens, never base units
    cards = {c["label"]: c["value"] for c in token_economy_cards(None, stakes, None, None)}
    assert cards["slashes"] == f"{len(slashes):,}"


@pytest.mark.slow
def test_data_sales_payouts_are_the_buyers_payment(depin: RunFolder) -> None:
    sales = depin.table("data_sales")
    wide = payouts_by_kind(sales)
    fig = data_sale_payouts(sales)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [t.name for t in bars][-1] == TREASURY_CUT
    stacked = np.sum([np.asarray(t.y) for t in bars], axis=0)
    payment = sales.groupby("sale")["payment_micro_eur"].first()
    np.testing.assert_allclose(stacked, payment / MICRO)
    np.testing.assert_allclose(_trace(fig, "buyer's payment").y, payment / MICRO)
    cut = sales.loc[sales["kind"] == "treasury"].groupby("sale")["amount_micro_eur"].sum()
    np.testing.assert_allclose(_trace(fig, TREASURY_CUT).y, cut / MICRO)
    assert (wide.drop(columns="payment").sum(axis=1) == wide["payment"]).all()  # exact
    devices = sales[sales["kind"] != "treasury"]
    assert set(wide.columns) - {TREASURY_CUT, "payment"} == {
        g.split("/")[0] for g in devices["group"]
    }


@pytest.mark.slow
def test_households_per_aggregate_never_below_k(depin: RunFolder) -> None:
    releases = depin.table("data_releases")
    k = depin.manifest["config"]["devices"]["data_sales"]["k"]
    fig = households_distribution(releases, k)
    bars = fig.data[0]
    assert sum(bars.y) == len(releases)
    assert min(bars.x) >= k
    assert dict(zip(bars.x, bars.y, strict=True)) == releases["households"].value_counts().to_dict()
    assert fig.layout.shapes[0].x0 == k - 0.5


@pytest.mark.slow
def test_device_sale_splits_its_price(depin: RunFolder) -> None:
    transfers = depin.table("device_transfers")
    assert len(transfers) == 1
    fig = device_sales(transfers)
    seller, royalty = _trace(fig, "to the seller"), _trace(fig, "royalty")
    assert seller.y[0] + royalty.y[0] == pytest.approx(1500.0)
    bps = depin.manifest["config"]["devices"]["royalty"]["bps"]
    assert royalty.y[0] == pytest.approx(1500.0 * bps / 10_000)
    assert royalty.text[0] == "royalty to treasury"
    rows = transfer_rows(transfers)
    assert rows[0]["price [EUR]"] == "1,500.00"
    assert rows[0]["royalty [EUR]"] == f"{royalty.y[0]:,.2f}"
    cards = {c["label"]: c["value"] for c in token_economy_cards(None, None, None, transfers)}
    assert cards["device sale royalties"] == f"{royalty.y[0]:,.2f}"


def test_runs_without_the_tables_get_a_reason() -> None:
    for builder, words in (
        (stakes_over_time, "no stakes"),
        (stakes_by_device_figure, "no stakes"),
        (data_sale_payouts, "no data sales"),
        (households_distribution, "no data aggregates"),
        (device_sales, "no device NFT"),
    ):
        assert words in builder(None).layout.annotations[0].text
        assert words in builder(pd.DataFrame()).layout.annotations[0].text
    assert slash_rows(None) == transfer_rows(None) == []
    assert token_economy_cards(None, None, None, None) == []


def test_stake_carried_to_the_runs_end() -> None:
    t0 = pd.Timestamp("2016-05-01", tz="UTC")
    stakes = pd.DataFrame(
        {
            "time": [t0, t0, t0 + pd.Timedelta(hours=5)],
            "kind": ["genesis", "stake", "slash"],
            "node_id": ["", "pv-1", "pv-1"],
            "amount_units": [12 * TOKEN, 10 * TOKEN, 5 * TOKEN],
        }
    )
    end = t0 + pd.Timedelta(days=1)
    line = _trace(stakes_over_time(stakes, end), "staked on devices [tokens]")
    assert list(line.y) == [10.0, 5.0, 5.0]  # genesis is an owner's, not a device's stake
    assert pd.Timestamp(line.x[-1]) == end
    assert list(stakes_by_device(stakes).loc["pv-1"]) == [10 * TOKEN, 5 * TOKEN, 0, 0, 0, 5 * TOKEN]
