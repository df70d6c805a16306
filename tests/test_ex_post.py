"""Market rules on metered energy: physical and economic truths, pure and through the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.market.bidding import limit_prices, orders_from_positions
from settlement.market.bills import net_payments, settle_block
from settlement.market.ex_post import (
    EX_POST_RULES,
    mid_market,
    mid_market_price,
    pooled_clearing,
    pro_rata,
)
from settlement.market.grid_fee import FeeClearing, clear_with_grid_fee
from settlement.market.sharing import (
    allocate,
    community_price,
    dynamic_allocation,
    key_parts,
    static_allocation,
)
from settlement.market.totals import gini
from tests.conftest import scenario
from tests.test_trading import _owner_wh
from twin.engine import run_scenario
from twin.results import RunFolder, open_run

LEVELS = np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]])


def rule_clearing(
    rule: str,
    net: np.ndarray,
    retail: float,
    feed_in: float,
    zone: np.ndarray,
    fee: float,
    *,
    strategy: str = "truthful",
    mechanism: str = "uniform",
    seed: int = 0,
) -> FeeClearing:
    """One interval's trades under an ex-post ``rule``, as the market layer forms them."""
    if rule == "ex_post_auction":
        limits = limit_prices(net, strategy, retail, feed_in, np.random.default_rng(seed))
        orders = orders_from_positions(net, limits, limits)
        return clear_with_grid_fee(orders, zone, LEVELS, fee, retail, feed_in, mechanism)
    if rule == "mid_market":
        return mid_market(net, retail, feed_in, zone, LEVELS, fee)
    key = "static" if rule == "static_sharing" else "dynamic"
    parts = key_parts(np.ones(len(net)))
    sold, bought = allocate(net, key, parts, zone if fee else None)
    return pooled_clearing(sold, bought, community_price(retail, feed_in), zone, LEVELS, fee)


@st.composite
def intervals(draw: st.DrawFn) -> tuple[np.ndarray, float, float, np.ndarray]:
    n = draw(st.integers(1, 20))
    net = np.array(
        draw(st.lists(st.integers(-5000, 5000) | st.just(0), min_size=n, max_size=n)),
        dtype=np.int64,
    )
    feed_in = float(draw(st.sampled_from([0, 80, 95])))
    retail = feed_in + float(draw(st.sampled_from([0, 1, 140, 240, 340])))
    zone = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    return net, retail, feed_in, zone


@pytest.mark.parametrize("rule", EX_POST_RULES)
@settings(max_examples=150, deadline=None)
@given(market=intervals(), fee=st.sampled_from([0.0, 0.0, 5.0, 12.5]), seed=st.integers(0, 9))
def test_trades_stay_within_metered_positions_and_money_is_conserved(
    rule: str, market: tuple[np.ndarray, float, float, np.ndarray], fee: float, seed: int
) -> None:
    net, retail, feed_in, zone = market
    strategy = ("truthful", "zero_intelligence", "markup")[seed % 3]
    mechanism = ("uniform", "pay_as_bid")[seed % 2]
    result = rule_clearing(
        rule, net, retail, feed_in, zone, fee, strategy=strategy, mechanism=mechanism, seed=seed
    )
    c, n = result.clearing, len(net)
    sold = np.bincount(c.seller, weights=c.energy_wh, minlength=n).astype(np.int64)
    bought = np.bincount(c.buyer, weights=c.energy_wh, minlength=n).astype(np.int64)
    # physics: no seller sells more than it exported, no buyer buys more than it imported
    assert (sold <= np.maximum(-net, 0)).all()
    assert (bought <= np.maximum(net, 0)).all()
    assert (c.energy_wh > 0).all()
    # money: buyers' payments = sellers' receipts + grid fees, exactly
    pay = np.rint(c.energy_wh * c.price_eur_per_mwh).astype(np.int64)
    grid_fee = np.rint(c.energy_wh * result.fee_eur_per_mwh).astype(np.int64)
    assert (pay == c.payment_micro_eur).all()
    received = net_payments(c.buyer, c.seller, pay, grid_fee, n)
    assert received.sum() == 0
    assert -received[0, :n].clip(max=0).sum() == (
        received[0, :n].clip(min=0).sum() + received[0, n]
    )
    assert received[0, n] == grid_fee.sum()
    # every price between the outside options
    assert ((c.price_eur_per_mwh >= feed_in) & (c.price_eur_per_mwh <= retail)).all()
    same_zone = zone[c.seller] == zone[c.buyer]
    assert (result.fee_eur_per_mwh[same_zone] == 0).all()
    if rule in ("mid_market", "dynamic_sharing"):
        # all there is to share, zone by zone first or not
        assert c.traded_wh == min(np.maximum(-net, 0).sum(), np.maximum(net, 0).sum())


@pytest.mark.parametrize("rule", EX_POST_RULES)
@settings(max_examples=150, deadline=None)
@given(market=intervals(), seed=st.integers(0, 9))
def test_no_member_pays_more_than_with_the_utility_alone_without_fees(
    rule: str, market: tuple[np.ndarray, float, float, np.ndarray], seed: int
) -> None:
    net, retail, feed_in, zone = market
    strategy = ("truthful", "zero_intelligence", "markup")[seed % 3]
    mechanism = ("uniform", "pay_as_bid")[seed % 2]
    c = rule_clearing(
        rule, net, retail, feed_in, zone, 0.0, strategy=strategy, mechanism=mechanism, seed=seed
    ).clearing
    block = settle_block(
        np.zeros(len(c), dtype=np.int64),
        c.seller,
        c.buyer,
        c.energy_wh,
        c.price_eur_per_mwh,
        np.zeros(len(c)),
        actual_wh=net[None, :],
        curtailed_wh=np.zeros((1, len(net)), dtype=np.int64),
        position_wh=net[None, :],
        import_eur_per_mwh=np.array([[retail]]),
        export_eur_per_mwh=np.array([[feed_in]]),
    )
    assert (block.cost_micro_eur <= block.baseline_micro_eur).all()
    assert (block.energy_wh == c.energy_wh).all()  # nothing cut
    assert (block.delivered_wh == block.sold_wh).all()  # every traded Wh was delivered
    assert block.beyond_deficit_wh.sum() == 0
    assert block.forecast_error_cost_micro_eur.sum() == 0


@pytest.mark.parametrize(
    ("retail", "feed_in", "mid"), [(320.0, 80.0, 200.0), (420.0, 80.0, 250.0), (221.0, 80.0, 150.5)]
)
def test_the_mid_market_price_is_the_midpoint(retail: float, feed_in: float, mid: float) -> None:
    assert mid_market_price(retail, feed_in) == mid
    net = np.array([-300, 500, 100, -100], dtype=np.int64)
    c = mid_market(net, retail, feed_in, np.zeros(4, dtype=np.int64), LEVELS, 0.0).clearing
    assert (c.price_eur_per_mwh == mid).all()
    assert c.clearing_price_eur_per_mwh == mid
    # matched = min(400 surplus, 600 deficit), bought pro rata to deficit: 500:100
    assert c.traded_wh == 400
    bought = np.bincount(c.buyer, weights=c.energy_wh, minlength=4)
    assert bought.tolist() == [0, 333, 67, 0]
    assert community_price(retail, feed_in) == mid
    assert community_price(retail, feed_in, 1000.0) == retail
    assert community_price(retail, feed_in, 10.0) == feed_in


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(0, 100_000),
    weights=st.lists(st.integers(0, 10_000), min_size=1, max_size=30),
)
def test_pro_rata_splits_exactly_and_never_beyond_a_weight(total: int, weights: list[int]) -> None:
    w = np.array(weights, dtype=np.int64)
    if w.sum() == 0:
        if total:
            with pytest.raises(ValueError, match="zero weights"):
                pro_rata(total, w)
        return
    share = pro_rata(total, w)
    assert share.sum() == total
    assert (share >= 0).all()
    assert (np.abs(share - total * w / w.sum()) < 1).all()
    if total <= w.sum():
        assert (share <= w).all()


@settings(max_examples=200, deadline=None)
@given(
    pool=st.integers(0, 50_000),
    deficit=st.lists(st.integers(0, 8000), min_size=1, max_size=25),
    shares=st.lists(st.floats(0.0, 5.0), min_size=25, max_size=25),
)
def test_allocations_sum_to_the_shared_energy(
    pool: int, deficit: list[int], shares: list[float]
) -> None:
    d = np.array(deficit, dtype=np.int64)
    dynamic = dynamic_allocation(pool, d)
    assert dynamic.sum() == min(pool, d.sum())
    assert (dynamic <= d).all()
    w = np.array(shares[: len(d)])
    if w.sum() <= 0:
        return
    parts = key_parts(w)
    keyed = pro_rata(pool, parts)
    assert keyed.sum() == pool  # the key splits the whole pool
    static = static_allocation(pool, parts, d)
    assert (static == np.minimum(keyed, d)).all()
    # the shared energy is what the consumers take, and the producers supply exactly that
    net = np.concatenate([d, [-pool]])
    for key, p in (("static", np.append(parts, 0)), ("dynamic", None)):
        sold, bought = allocate(net, key, p)
        assert sold.sum() == bought.sum()
        assert sold[-1] == bought.sum() <= pool


def test_static_key_weights_are_kept() -> None:
    net = np.array([100, 100, 100, -90], dtype=np.int64)
    sold, bought = allocate(net, "static", key_parts(np.array([2.0, 1.0, 0.0, 0.0])))
    assert bought.tolist() == [60, 30, 0, 0]
    assert sold.tolist() == [0, 0, 0, 90]
    # an allocation beyond the consumer's deficit is not passed on
    sold, bought = allocate(
        np.array([10, 100, -90], dtype=np.int64), "static", key_parts(np.ones(3))
    )
    assert bought.tolist() == [10, 30, 0]
    assert sold.tolist() == [0, 0, 40]


def test_pooled_trades_pair_inside_a_zone_first_and_charge_fees_across() -> None:
    sold = np.array([100, 0, 50, 0], dtype=np.int64)
    bought = np.array([0, 60, 0, 90], dtype=np.int64)
    zone = np.array([0, 1, 1, 0], dtype=np.int64)
    r = pooled_clearing(sold, bought, 200.0, zone, LEVELS, 10.0)
    c = r.clearing
    pairs = {
        (int(s), int(b)): int(e) for s, b, e in zip(c.seller, c.buyer, c.energy_wh, strict=True)
    }
    assert pairs == {(0, 3): 90, (2, 1): 50, (0, 1): 10}
    assert r.fee_eur_per_mwh.tolist() == [0.0, 0.0, 20.0]


@pytest.mark.parametrize("rule", ["mid_market", "dynamic_sharing"])
def test_with_a_grid_fee_pooled_rules_share_inside_a_zone_first(rule: str) -> None:
    net = np.array([-100, 100, 0, 100], dtype=np.int64)
    zone = np.array([0, 0, 1, 1], dtype=np.int64)
    free = rule_clearing(rule, net, 320.0, 80.0, zone, 0.0).clearing
    assert np.bincount(free.buyer, weights=free.energy_wh, minlength=4).tolist() == [0, 50, 0, 50]
    fee = rule_clearing(rule, net, 320.0, 80.0, zone, 10.0)
    c = fee.clearing
    assert np.bincount(c.buyer, weights=c.energy_wh, minlength=4).tolist() == [0, 100, 0, 0]
    assert fee.fee_eur_per_mwh.sum() == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 5, 5], 0.0),
        ([0, 0, 0, 4], 0.75),
        ([1, 2, 3], 2 / 9),
        ([-1, 1], 0.5),
        ([-3, -3], 0.0),
        ([0, 0], 0.0),
    ],
)
def test_gini_of_savings(values: list[int], expected: float) -> None:
    assert gini(np.array(values)) == pytest.approx(expected)
    assert 0.0 <= gini(np.array(values)) <= 1.0


# -- through the engine ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=EX_POST_RULES)
def ex_post_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, RunFolder]:
    out = tmp_path_factory.mktemp("ex_post") / request.param
    run_scenario(scenario("run.days=1", f"market.rule={request.param}", "chain.enabled=false"), out)
    return request.param, open_run(out)


def test_a_run_trades_only_metered_energy_and_leaves_nobody_worse_off(
    ex_post_run: tuple[str, RunFolder],
) -> None:
    rule, run = ex_post_run
    metered = _owner_wh(run)
    trades = run.table("trades")
    assert len(trades) > 0
    sold = trades.groupby(["time", "seller"], observed=True)["energy_wh"].sum()
    bought = trades.groupby(["time", "buyer"], observed=True)["energy_wh"].sum()
    export = (-metered).clip(lower=0).stack()
    imports = metered.clip(lower=0).stack()
    assert (sold <= export.reindex(sold.index)).all()
    assert (bought <= imports.reindex(bought.index)).all()
    bills = run.table("bills")
    assert (bills["savings_micro_eur"] >= 0).all()
    assert bills["p2p_paid_micro_eur"].sum() == 0
    kpis = run.table("kpis").set_index("name")["value"]
    assert kpis["p2p_delivered_mwh"] == kpis["p2p_traded_mwh"] > 0
    assert kpis["p2p_bought_beyond_deficit_mwh"] == 0
    assert kpis["homes_losing"] == kpis["community_generators_losing"] == 0
    assert kpis["savings_min_eur"] >= 0
    # the orders are the metered positions
    orders = run.table("orders")
    signed = np.where(orders["side"] == "buy", 1, -1) * orders["energy_wh"]
    keys = zip(orders["time"], orders["participant"].astype(str), strict=True)
    ordered = dict(zip(keys, signed.to_numpy().tolist(), strict=True))
    assert ordered == {k: v for k, v in metered.stack().items() if v != 0}, rule


def test_the_ex_ante_auction_sells_energy_that_was_not_there(tmp_path: Path) -> None:
    """The audit's finding, kept as an option: orders on forecasts sell energy the seller did
    not export (the default rule settles metered energy: delivered = traded)."""
    sc = scenario("run.days=1", 'market.rule="ex_ante_auction"', "chain.enabled=false")
    run = open_run(run_scenario(sc, tmp_path / "run").path)
    kpis = run.table("kpis").set_index("name")["value"]
    assert kpis["p2p_delivered_mwh"] < kpis["p2p_traded_mwh"]
    assert kpis["p2p_bought_beyond_deficit_mwh"] > 0


def test_the_default_rule_leaves_no_member_worse_off(day_run: RunFolder) -> None:
    kpis = day_run.table("kpis").set_index("name")["value"]
    assert kpis["p2p_delivered_mwh"] == kpis["p2p_traded_mwh"] > 0
    assert kpis["homes_losing"] == kpis["community_generators_losing"] == 0
    bills = day_run.table("bills")
    assert (bills["savings_micro_eur"] >= 0).all()


def test_unknown_static_share_owner_is_refused(tmp_path: Path) -> None:
    sc = scenario("run.days=1", "market.rule=static_sharing", "market.static_shares={nobody = 1.0}")
    with pytest.raises(ValueError, match=r"market\.static_shares"):
        run_scenario(sc, tmp_path / "run")
