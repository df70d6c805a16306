"""Grid fees by electrical distance: zonal two-stage clearing, and its zones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower.networks as pn
from hypothesis import given, settings
from hypothesis import strategies as st

from grid.zones import voltage_zones
from settlement.market.auction import Orders, clear
from settlement.market.bidding import limit_prices, orders_from_positions
from settlement.market.grid_fee import clear_with_grid_fee
from twin.engine import run_scenario
from twin.results import open_run
from twin.scenario import scenario_from_dict

RETAIL, FEED_IN = 320.0, 80.0
LEVELS = np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]])


@st.composite
def books(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 30))
    position = np.array(draw(st.lists(st.integers(-3000, 3000), min_size=n, max_size=n)))
    zone = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    limits = limit_prices(position, "zero_intelligence", RETAIL, FEED_IN, rng)
    return position, zone, limits


@settings(max_examples=150, deadline=None)
@given(books(), st.sampled_from(["uniform", "pay_as_bid"]), st.floats(0.0, 60.0))
def test_fees_never_push_a_trade_past_a_limit(
    book: tuple[np.ndarray, np.ndarray, np.ndarray], mechanism: str, fee: float
) -> None:
    position, zone, limits = book
    orders = orders_from_positions(position, limits, limits)
    result = clear_with_grid_fee(orders, zone, LEVELS, fee, RETAIL, FEED_IN, mechanism)
    c, rate = result.clearing, result.fee_eur_per_mwh
    if not len(c):
        return
    limit = np.full(len(position), np.nan)
    limit[orders.participant] = orders.limit_eur_per_mwh
    # energy: nobody trades more than its position, on the side of its position
    bought = np.bincount(c.buyer, weights=c.energy_wh, minlength=len(position))
    sold = np.bincount(c.seller, weights=c.energy_wh, minlength=len(position))
    assert (bought <= np.clip(position, 0, None)).all()
    assert (sold <= np.clip(-position, 0, None)).all()
    # prices: buyers pay at most their bid, sellers net at least their ask
    assert (c.price_eur_per_mwh <= limit[c.buyer] + 1e-9).all()
    assert (c.price_eur_per_mwh - rate >= limit[c.seller] - 1e-9).all()
    # the fee is the distance's
    assert np.allclose(rate[rate > 0], fee * LEVELS[zone[c.seller], zone[c.buyer]][rate > 0])
    assert (rate[zone[c.seller] == zone[c.buyer]] == 0).all()


def test_no_fee_is_the_plain_auction() -> None:
    rng = np.random.default_rng(1)
    position = rng.integers(-2000, 2000, 40)
    limits = limit_prices(position, "zero_intelligence", RETAIL, FEED_IN, rng)
    orders = orders_from_positions(position, limits, limits)
    zone = rng.integers(0, 3, 40)
    a = clear_with_grid_fee(orders, zone, LEVELS, 0.0, RETAIL, FEED_IN)
    b = clear(orders, RETAIL, FEED_IN)
    assert (a.clearing.energy_wh == b.energy_wh).all()
    assert not a.fee_eur_per_mwh.any()


def test_an_empty_order_book_clears_to_nothing() -> None:
    empty = Orders(
        participant=np.zeros(0, dtype=np.int64),
        side=np.zeros(0, dtype=np.int8),
        energy_wh=np.zeros(0, dtype=np.int64),
        limit_eur_per_mwh=np.zeros(0),
    )
    result = clear_with_grid_fee(empty, np.array([0, 1, 2]), LEVELS, 10.0, RETAIL, FEED_IN)
    assert len(result.clearing.energy_wh) == 0
    assert len(result.fee_eur_per_mwh) == 0


def test_cigre_lv_has_a_zone_per_feeder() -> None:
    net = pn.create_cigre_network_lv()
    zone_of_bus, levels = voltage_zones(net)
    assert len(levels) == 4  # the MV bus and three LV feeders
    assert set(zone_of_bus) == set(net.bus.index)
    assert sorted(np.unique(levels[levels > 0]).tolist()) == [1, 2]
    assert (levels == levels.T).all()


def test_fees_are_paid_to_the_grid_operator_in_a_run(tmp_path: Path) -> None:
    sc = scenario_from_dict(
        {
            "run": {"days": 1},
            "grid": {"example": "cigre_lv"},
            "nodes": {"pv_share": 0.6},
            "market": {"grid_fee_eur_per_mwh_per_level": 10.0},
            # the fees are the subject, not the dispatch: the rule keeps the orders stable
            "forecasting": {"battery_control": "self_consumption"},
        }
    )
    run_scenario(sc, tmp_path / "run")
    run = open_run(tmp_path / "run")
    trades, bills = run.table("trades"), run.table("bills")
    fees = trades["grid_fee_micro_eur"].sum()
    assert fees > 0
    protocol = trades["protocol_fee_micro_eur"].sum()
    assert bills["p2p_paid_micro_eur"].sum() == fees + protocol
    assert run.kpis()["grid_fees_eur"] * 1e6 == fees
