"""The P2P market inside a run: money and energy conservation, limits, curtailment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from settlement.market.bills import cut_trades
from settlement.market.tariff import tariff_prices
from tests.conftest import ROOT, scenario
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import load_scenario

STRESSED = ROOT / "scenarios" / "stressed.toml"


def _owner_wh(run: RunFolder) -> pd.DataFrame:
    """Each owner's metered net energy per interval [Wh], rounded as the engine does."""
    power = run.table("node_power")
    nodes = run.table("nodes").set_index("node_id")["owner"]
    power["owner"] = power["node_id"].astype(str).map(nodes)
    interval_h = run.manifest["interval_s"] / 3600.0
    mw = power.groupby(["time", "owner"], observed=True)["p_mw"].sum()
    return np.rint(mw * interval_h * 1e6).astype(np.int64).unstack(fill_value=0)


def test_payments_cancel_and_energy_traded_is_energy_bought(day_run: RunFolder) -> None:
    bills = day_run.table("bills")
    trades = day_run.table("trades")
    assert len(trades) > 0
    # members' net P2P payments are what the fees took: grid fees and the protocol fee
    fees = trades["grid_fee_micro_eur"].sum() + trades["protocol_fee_micro_eur"].sum()
    assert bills["p2p_paid_micro_eur"].sum() == fees
    assert bills["p2p_bought_wh"].sum() == bills["p2p_sold_wh"].sum() == trades["energy_wh"].sum()
    paid = trades.groupby("buyer", observed=True)["payment_micro_eur"].sum()
    kept = trades["payment_micro_eur"] - trades["grid_fee_micro_eur"]
    received = (
        (kept - trades["protocol_fee_micro_eur"]).groupby(trades["seller"], observed=True).sum()
    )
    net = paid.reindex(bills["owner"], fill_value=0) - received.reindex(
        bills["owner"], fill_value=0
    )
    assert (net.to_numpy() == bills["p2p_paid_micro_eur"].to_numpy()).all()
    assert (
        trades["payment_micro_eur"] == np.rint(trades.energy_wh * trades.price_eur_per_mwh)
    ).all()
    per_interval = trades.groupby("time")["energy_wh"].sum()
    intervals = day_run.table("intervals").set_index("time")
    assert (intervals.loc[per_interval.index, "traded_wh"] == per_interval).all()


def test_every_owner_s_metered_energy_is_traded_or_settled_with_the_utility(
    day_run: RunFolder,
) -> None:
    metered = _owner_wh(day_run).sum()
    bills = day_run.table("bills").set_index("owner")
    settled = bills.import_wh - bills.export_wh + bills.p2p_bought_wh - bills.p2p_sold_wh
    assert (settled.loc[metered.index] == metered).all()


def test_prices_lie_between_feed_in_and_retail(day_run: RunFolder) -> None:
    trades = day_run.table("trades")
    orders = day_run.table("orders")
    sc = scenario()
    retail, feed_in = tariff_prices(trades["time"].dt.hour.to_numpy(), sc.tariffs)
    assert (trades.price_eur_per_mwh <= retail + 1e-9).all()
    assert (trades.price_eur_per_mwh >= feed_in - 1e-9).all()
    assert set(orders["side"].astype(str)) <= {"buy", "sell"}
    assert (orders.energy_wh > 0).all()


def test_p2p_lowers_the_community_cost(day_run: RunFolder) -> None:
    kpis = day_run.kpis()
    for name in ("self_sufficiency", "self_consumption", "p2p_share", "violations"):
        assert name in kpis
    assert kpis["community_cost_eur"] < kpis["baseline_cost_eur"]
    bills = day_run.table("bills")
    saving = (bills.baseline_cost_micro_eur - bills.cost_micro_eur).sum() / 1e6
    assert saving == pytest.approx(kpis["savings_eur"])
    assert 0 < kpis["p2p_share"] < 1


def test_cut_trades_takes_a_seller_s_first_trades_first() -> None:
    interval = np.array([0, 0, 0, 1])
    seller = np.array([1, 1, 2, 1])
    energy = np.array([100, 50, 70, 40])
    cut = np.zeros((2, 3), dtype=np.int64)
    cut[0, 1] = 120  # seller 1 loses its first trade and 20 Wh of its second
    cut[1, 1] = 10
    out = cut_trades(interval, seller, energy, cut)
    assert out.tolist() == [0, 30, 70, 30]


@pytest.mark.slow
def test_network_aware_clearing_removes_the_violations_of_the_stressed_grid(
    tmp_path: Path,
) -> None:
    runs = {}
    for aware in ("false", "true"):
        sc = load_scenario(STRESSED, ["run.days=2", f"market.network_aware={aware}"])
        out = tmp_path / aware
        run_scenario(sc, out)
        runs[aware] = open_run(out)
    blind, aware = runs["false"].kpis(), runs["true"].kpis()
    assert blind["violations"] > 0
    assert blind["curtailed_wh"] == 0
    assert aware["violations_uncurtailed"] == blind["violations"]
    assert aware["violations"] == 0
    assert aware["max_vm_pu"] <= 1.05
    assert aware["max_loading_percent"] <= 100.0
    assert aware["curtailed_wh"] > 0
    intervals = runs["true"].table("intervals")
    assert intervals["curtailed_wh"].sum() == aware["curtailed_wh"]
    assert intervals["flags"].str.contains("curtailed").any()
    per_node = runs["true"].table("curtailments")
    assert per_node["curtailed_wh"].sum() == pytest.approx(aware["curtailed_wh"], abs=len(per_node))
    # only generation is curtailed: the curtailed run's PV is lower, its consumers unchanged
    p = {k: r.table("node_power").set_index(["time", "node_id"])["p_mw"] for k, r in runs.items()}
    diff = p["true"] - p["false"]
    kinds = runs["true"].table("nodes").set_index("node_id")["kind"]
    changed = diff[diff.abs() > 1e-12].index.get_level_values("node_id").astype(str)
    assert set(kinds.loc[np.unique(changed)]) <= {"solar", "wind"}
    assert (diff >= -1e-12).all()  # generation (negative) only ever shrinks


def test_dispatch_plans_are_stored_with_what_the_batteries_did(day_run: RunFolder) -> None:
    plans = day_run.table("dispatch_plans")
    state = day_run.table("battery_state")
    assert len(plans) == len(state)
    assert (plans["issued"] <= plans["time"]).all()
    assert plans["planned_p_mw"].notna().mean() > 0.9
    power = day_run.table("node_power").set_index(["time", "node_id"])["p_mw"]
    actual = power.loc[list(zip(plans["time"], plans["node_id"].astype(str), strict=True))]
    assert np.allclose(actual.to_numpy(), plans["actual_p_mw"].to_numpy())


def test_last_metered_positions_order_the_interval_before(tmp_path: Path) -> None:
    sc = scenario(
        "run.days=1",
        "chain.enabled=false",
        "devices.enabled=false",
        'market.rule="ex_ante_auction"',
        'market.positions="last_metered"',
    )
    run = open_run(run_scenario(sc, tmp_path / "run").path)
    metered = _owner_wh(run)
    orders = run.table("orders")
    sign = np.where(orders["side"].astype(str) == "buy", 1, -1)
    orders["position_wh"] = sign * orders["energy_wh"]
    ordered = orders.pivot_table(
        index="time", columns="participant", values="position_wh", aggfunc="sum", observed=True
    )
    ordered = ordered.reindex(index=metered.index, columns=metered.columns).fillna(0)
    # each owner orders what it metered one interval before (the first interval: nothing)
    assert (ordered.iloc[0] == 0).all()
    np.testing.assert_array_equal(ordered.iloc[1:].to_numpy(), metered.iloc[:-1].to_numpy())
