"""The per-interval double auction: known books, invariants under random books, bad input."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.market.auction import (
    MECHANISMS,
    Clearing,
    Orders,
    clear,
    net_energy_wh,
    net_payments_micro_eur,
)
from settlement.market.bidding import limit_prices, orders_from_positions

RETAIL, FEED_IN = 300.0, 50.0


def book(rows: list[tuple[int, int, int, float]]) -> Orders:
    """Orders from (participant, side, energy_wh, limit) rows."""
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return Orders(
        participant=np.array(cols[0], dtype=np.int64),
        side=np.array(cols[1], dtype=np.int8),
        energy_wh=np.array(cols[2], dtype=np.int64),
        limit_eur_per_mwh=np.array(cols[3], dtype=np.float64),
    )


def trades(c: Clearing) -> list[tuple[int, int, int, float, int]]:
    """(seller, buyer, energy_wh, price, payment) per trade."""
    return list(
        zip(
            c.seller.tolist(),
            c.buyer.tolist(),
            c.energy_wh.tolist(),
            c.price_eur_per_mwh.tolist(),
            c.payment_micro_eur.tolist(),
            strict=True,
        )
    )


def reference_matches(orders: Orders, retail: float, feed_in: float) -> list[tuple[int, int, int]]:
    """(seller, buyer, energy_wh) by walking the two books order by order: the slow oracle."""
    lim = np.clip(orders.limit_eur_per_mwh, feed_in, retail)
    rows = list(zip(orders.participant.tolist(), orders.side.tolist(), lim.tolist(), strict=True))
    bids = sorted((-x, p, k) for k, (p, s, x) in enumerate(rows) if s == 1)
    asks = sorted((x, p, k) for k, (p, s, x) in enumerate(rows) if s == -1)
    left = orders.energy_wh.tolist()
    out: list[tuple[int, int, int]] = []
    b = a = 0
    while b < len(bids) and a < len(asks) and -bids[b][0] >= asks[a][0]:
        kb, ka = bids[b][2], asks[a][2]
        q = min(left[kb], left[ka])
        out.append((asks[a][1], bids[b][1], q))
        left[kb] -= q
        left[ka] -= q
        b += left[kb] == 0
        a += left[ka] == 0
    return out


# ---------------------------------------------------------------- known books


def test_hand_computed_book() -> None:
    # bids: P0 300 Wh @ 250, P1 200 Wh @ 180; asks: P2 250 Wh @ 100, P3 400 Wh @ 200.
    # Merged cumulative energies 250 | 300 | 500: P2->P0 250 Wh, P3->P0 50 Wh, then P1 (180)
    # meets P3 (200) and stops. P3 is partly filled, so its ask sets the price: clearing
    # interval [max(200, 180), min(250, 200)] = [200, 200].
    orders = book(
        [(0, 1, 300, 250.0), (1, 1, 200, 180.0), (2, -1, 250, 100.0), (3, -1, 400, 200.0)]
    )
    uni = clear(orders, RETAIL, FEED_IN, "uniform")
    assert trades(uni) == [(2, 0, 250, 200.0, 50_000), (3, 0, 50, 200.0, 10_000)]
    assert uni.clearing_price_eur_per_mwh == 200.0
    assert uni.traded_wh == 300
    assert net_energy_wh(uni, 4).tolist() == [300, 0, -250, -50]
    assert net_payments_micro_eur(uni, 4).tolist() == [60_000, 0, -50_000, -10_000]

    pab = clear(orders, RETAIL, FEED_IN, "pay_as_bid")
    assert trades(pab) == [(2, 0, 250, 250.0, 62_500), (3, 0, 50, 250.0, 12_500)]
    assert pab.clearing_price_eur_per_mwh == 250.0


def test_price_is_midpoint_of_clearing_interval() -> None:
    # One unit each side trades (250 vs 100); the first rejected bid is 120, the first rejected
    # ask 200: every price in [120, 200] clears, k = 0.5 picks 160.
    orders = book(
        [(0, 1, 100, 250.0), (1, 1, 100, 120.0), (2, -1, 100, 100.0), (3, -1, 100, 200.0)]
    )
    c = clear(orders, RETAIL, FEED_IN)
    assert trades(c) == [(2, 0, 100, 160.0, 16_000)]


def test_truthful_excess_demand_prices_at_retail() -> None:
    # Buyers at retail want 3 kWh, the only seller (at feed-in) has 1 kWh: the partly filled
    # bid is marginal, so the market clears at retail (the buyers' outside option).
    orders = book([(0, 1, 2000, RETAIL), (1, 1, 1000, RETAIL), (2, -1, 1000, FEED_IN)])
    c = clear(orders, RETAIL, FEED_IN)
    assert trades(c) == [(2, 0, 1000, RETAIL, 300_000)]
    # ... and at feed-in the other way round.
    orders = book([(0, 1, 500, RETAIL), (1, -1, 400, FEED_IN), (2, -1, 400, FEED_IN)])
    c = clear(orders, RETAIL, FEED_IN)
    assert trades(c) == [(1, 0, 400, FEED_IN, 20_000), (2, 0, 100, FEED_IN, 5_000)]


def test_limits_clipped_to_tariffs() -> None:
    orders = book([(0, 1, 100, 1e6), (1, -1, 100, -1e6)])
    c = clear(orders, RETAIL, FEED_IN)
    assert c.clearing_price_eur_per_mwh == 0.5 * (RETAIL + FEED_IN)
    assert clear(orders, RETAIL, FEED_IN, "pay_as_bid").clearing_price_eur_per_mwh == RETAIL


def test_ties_broken_by_participant_index() -> None:
    orders = book([(5, 1, 100, 200.0), (2, 1, 100, 200.0), (7, -1, 150, 100.0)])
    assert [t[:3] for t in trades(clear(orders, RETAIL, FEED_IN))] == [(7, 2, 100), (7, 5, 50)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(0, 1, 100, 200.0), (1, 1, 50, 300.0)],
        [(0, -1, 100, 200.0), (1, -1, 50, 60.0)],
        [(0, 1, 100, 100.0), (1, -1, 50, 200.0)],
    ],
    ids=["empty", "only-buyers", "only-sellers", "no-crossing"],
)
def test_nothing_trades(mechanism: str, rows: list[tuple[int, int, int, float]]) -> None:
    c = clear(book(rows), RETAIL, FEED_IN, mechanism)
    assert len(c) == 0
    assert np.isnan(c.clearing_price_eur_per_mwh)
    for col in (c.seller, c.buyer, c.energy_wh, c.payment_micro_eur):
        assert col.dtype == np.int64
    assert c.price_eur_per_mwh.dtype == np.float64
    assert net_energy_wh(c, 3).tolist() == [0, 0, 0]
    assert net_payments_micro_eur(c, 3).tolist() == [0, 0, 0]


def test_equal_limits_trade() -> None:
    c = clear(book([(0, 1, 100, 150.0), (1, -1, 100, 150.0)]), RETAIL, FEED_IN)
    assert trades(c) == [(1, 0, 100, 150.0, 15_000)]


# ---------------------------------------------------------------- invalid input


def _valid() -> dict[str, Any]:
    return {
        "participant": np.array([0, 1], dtype=np.int64),
        "side": np.array([1, -1], dtype=np.int8),
        "energy_wh": np.array([100, 100], dtype=np.int64),
        "limit_eur_per_mwh": np.array([200.0, 100.0]),
    }


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("limit_eur_per_mwh", np.array([np.nan, 100.0]), "limit_eur_per_mwh"),
        ("limit_eur_per_mwh", np.array([np.inf, 100.0]), "limit_eur_per_mwh"),
        ("limit_eur_per_mwh", np.array([200.0]), "limit_eur_per_mwh"),
        ("energy_wh", np.array([100, 0]), "energy_wh"),
        ("energy_wh", np.array([100, -5]), "energy_wh"),
        ("energy_wh", np.array([100.0, 100.0]), "energy_wh"),
        ("energy_wh", np.array([100, 100, 100]), "energy_wh"),
        ("side", np.array([1, 0], dtype=np.int8), "side"),
        ("side", np.array([1, 2], dtype=np.int8), "side"),
        ("participant", np.array([0, -1]), "participant"),
        ("participant", np.array([[0, 1]]), "participant"),
    ],
)
def test_invalid_orders_rejected(field: str, value: np.ndarray, match: str) -> None:
    cols = _valid() | {field: value}
    with pytest.raises(ValueError, match=match):
        clear(Orders(**cols), RETAIL, FEED_IN)


def test_two_orders_one_side_rejected() -> None:
    orders = book([(0, 1, 100, 200.0), (0, 1, 50, 250.0), (1, -1, 100, 100.0)])
    with pytest.raises(ValueError, match="participant"):
        clear(orders, RETAIL, FEED_IN)


@pytest.mark.parametrize(
    ("retail", "feed_in", "mechanism", "match"),
    [
        (50.0, 300.0, "uniform", "retail_eur_per_mwh"),
        (np.nan, 50.0, "uniform", "retail_eur_per_mwh"),
        (300.0, -np.inf, "uniform", "feed_in_eur_per_mwh"),
        (300.0, 50.0, "vickrey", "mechanism"),
    ],
)
def test_invalid_market_rejected(retail: float, feed_in: float, mechanism: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        clear(Orders(**_valid()), retail, feed_in, mechanism)


def test_helpers_reject_unknown_participants() -> None:
    c = clear(Orders(**_valid()), RETAIL, FEED_IN)
    with pytest.raises(ValueError, match="seller"):
        net_energy_wh(c, 1)
    with pytest.raises(ValueError, match="buyer"):
        net_payments_micro_eur(replace(c, buyer=c.buyer + 5), 3)


# ---------------------------------------------------------------- positions and strategies


def test_orders_from_positions() -> None:
    pos = np.array([0, 500, -300, 0, 20])
    orders = orders_from_positions(pos, np.array([9.0, 250.0, 9.0, 9.0, 260.0]), 80.0)
    assert orders.participant.tolist() == [1, 2, 4]
    assert orders.side.tolist() == [1, -1, 1]
    assert orders.side.dtype == np.int8
    assert orders.energy_wh.tolist() == [500, 300, 20]
    assert orders.limit_eur_per_mwh.tolist() == [250.0, 80.0, 260.0]
    assert len(orders) == 3


def test_limit_prices() -> None:
    pos = np.array([100, -100, 0, 40])
    rng = np.random.default_rng(1)
    truthful = limit_prices(pos, "truthful", RETAIL, FEED_IN, rng)
    np.testing.assert_array_equal(truthful, [RETAIL, FEED_IN, np.nan, RETAIL])
    shaded = limit_prices(pos, "markup", RETAIL, FEED_IN, rng, markup=0.2)
    np.testing.assert_allclose(shaded, [250.0, 100.0, np.nan, 250.0])
    zero = limit_prices(pos, "markup", RETAIL, FEED_IN, rng, markup=0.0)
    np.testing.assert_array_equal(zero, truthful)
    zi = limit_prices(pos, "zero_intelligence", RETAIL, FEED_IN, np.random.default_rng(7))
    again = limit_prices(pos, "zero_intelligence", RETAIL, FEED_IN, np.random.default_rng(7))
    np.testing.assert_array_equal(zi, again)
    assert np.isnan(zi[2])
    assert ((zi[[0, 1, 3]] >= FEED_IN) & (zi[[0, 1, 3]] <= RETAIL)).all()
    with pytest.raises(ValueError, match="strategy"):
        limit_prices(pos, "greedy", RETAIL, FEED_IN, rng)
    with pytest.raises(ValueError, match="markup"):
        limit_prices(pos, "markup", RETAIL, FEED_IN, rng, markup=1.5)


# ---------------------------------------------------------------- properties of random books

LIMITS = st.sampled_from([0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0]) | st.floats(
    -100.0, 500.0, allow_nan=False
)
ENERGY = st.integers(1, 40) | st.integers(1, 5000)


@st.composite
def markets(draw: st.DrawFn) -> tuple[Orders, float, float]:
    """A random order book (some participants on both sides) and a tariff band."""
    n = draw(st.integers(0, 25))
    rows = []
    for p in range(n):
        for side in draw(st.sampled_from([(), (1,), (-1,), (1,), (-1,), (1, -1)])):
            rows.append((p, side, draw(ENERGY), draw(LIMITS)))
    perm = draw(st.permutations(range(len(rows))))
    feed_in = draw(st.sampled_from([0.0, 50.0, 80.0]))
    retail = feed_in + draw(st.sampled_from([0.0, 100.0, 250.0]) | st.floats(0.0, 400.0))
    return book([rows[k] for k in perm]), retail, feed_in


def filled(c: Clearing, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy bought and sold per participant [Wh]."""
    bought = np.bincount(c.buyer, weights=c.energy_wh, minlength=n).astype(np.int64)
    sold = np.bincount(c.seller, weights=c.energy_wh, minlength=n).astype(np.int64)
    return bought, sold


@pytest.mark.parametrize("mechanism", MECHANISMS)
@settings(max_examples=150, deadline=None)
@given(market=markets())
def test_invariants(mechanism: str, market: tuple[Orders, float, float]) -> None:
    orders, retail, feed_in = market
    n = int(orders.participant.max()) + 1 if len(orders) else 1
    c = clear(orders, retail, feed_in, mechanism)
    lim = np.clip(orders.limit_eur_per_mwh, feed_in, retail)
    is_bid = orders.side == 1
    bid_lim = np.full(n, np.nan)
    ask_lim = np.full(n, np.nan)
    bid_wh = np.zeros(n, dtype=np.int64)
    ask_wh = np.zeros(n, dtype=np.int64)
    bid_lim[orders.participant[is_bid]] = lim[is_bid]
    ask_lim[orders.participant[~is_bid]] = lim[~is_bid]
    bid_wh[orders.participant[is_bid]] = orders.energy_wh[is_bid]
    ask_wh[orders.participant[~is_bid]] = orders.energy_wh[~is_bid]

    # the oracle's trades, at most n_bids + n_asks - 1 of them
    assert [t[:3] for t in trades(c)] == reference_matches(orders, retail, feed_in)
    assert len(c) <= max(len(orders) - 1, 0)
    assert (c.energy_wh > 0).all()

    # energy: bought == sold, nobody beyond their order
    bought, sold = filled(c, n)
    assert bought.sum() == sold.sum() == c.traded_wh
    assert (bought <= bid_wh).all()
    assert (sold <= ask_wh).all()
    assert np.array_equal(net_energy_wh(c, n), bought - sold)
    assert net_energy_wh(c, n).sum() == 0

    # money: integer, exact, zero-sum
    assert np.array_equal(c.payment_micro_eur, np.rint(c.energy_wh * c.price_eur_per_mwh))
    pay = net_payments_micro_eur(c, n)
    assert pay.dtype == np.int64
    assert pay.sum() == 0

    # limits: buyers never above their bid, sellers never below their ask, all within tariffs
    assert (c.price_eur_per_mwh <= bid_lim[c.buyer]).all()
    assert (c.price_eur_per_mwh >= ask_lim[c.seller]).all()
    assert ((c.price_eur_per_mwh >= feed_in) & (c.price_eur_per_mwh <= retail)).all()
    assert (c.payment_micro_eur <= np.rint(c.energy_wh * bid_lim[c.buyer])).all()
    assert (c.payment_micro_eur >= np.rint(c.energy_wh * ask_lim[c.seller])).all()

    # efficiency: no unmatched bid at or above an unmatched ask
    open_bid = bid_lim[bought < bid_wh]
    open_ask = ask_lim[sold < ask_wh]
    open_bid, open_ask = open_bid[~np.isnan(open_bid)], open_ask[~np.isnan(open_ask)]
    if open_bid.size and open_ask.size:
        assert open_bid.max() < open_ask.min()

    if len(c) == 0:
        assert np.isnan(c.clearing_price_eur_per_mwh)
        return
    price = c.clearing_price_eur_per_mwh
    if mechanism == "uniform":
        # one price, and it clears: orders on the right side of it fill in full, on the
        # wrong side not at all
        assert (c.price_eur_per_mwh == price).all()
        has_bid, has_ask = ~np.isnan(bid_lim), ~np.isnan(ask_lim)
        assert (bought[has_bid & (bid_lim > price)] == bid_wh[has_bid & (bid_lim > price)]).all()
        assert (sold[has_ask & (ask_lim < price)] == ask_wh[has_ask & (ask_lim < price)]).all()
        assert (bought[has_bid & (bid_lim < price)] == 0).all()
        assert (sold[has_ask & (ask_lim > price)] == 0).all()
    else:
        assert (c.price_eur_per_mwh == bid_lim[c.buyer]).all()
        mean = float(c.price_eur_per_mwh @ c.energy_wh) / c.traded_wh
        assert price == pytest.approx(mean)
        assert c.price_eur_per_mwh.min() <= price <= c.price_eur_per_mwh.max()


@settings(max_examples=100, deadline=None)
@given(market=markets(), data=st.data())
def test_deterministic_and_order_free(market: tuple[Orders, float, float], data: Any) -> None:
    orders, retail, feed_in = market
    perm = np.array(data.draw(st.permutations(range(len(orders)))), dtype=np.int64)
    shuffled = Orders(
        orders.participant[perm],
        orders.side[perm],
        orders.energy_wh[perm],
        orders.limit_eur_per_mwh[perm],
    )
    for mechanism in MECHANISMS:
        first = clear(orders, retail, feed_in, mechanism)
        again = clear(orders, retail, feed_in, mechanism)
        moved = clear(shuffled, retail, feed_in, mechanism)
        assert trades(again) == trades(first) == trades(moved)
        assert np.array_equal(
            [again.clearing_price_eur_per_mwh, moved.clearing_price_eur_per_mwh],
            [first.clearing_price_eur_per_mwh] * 2,
            equal_nan=True,
        )
    # both mechanisms make the same trades; only the prices differ
    uni = clear(orders, retail, feed_in, "uniform")
    pab = clear(orders, retail, feed_in, "pay_as_bid")
    assert [t[:3] for t in trades(uni)] == [t[:3] for t in trades(pab)]


@settings(max_examples=50, deadline=None)
@given(
    position=st.lists(st.integers(-5000, 5000), max_size=40),
    strategy=st.sampled_from(["truthful", "zero_intelligence", "markup"]),
    seed=st.integers(0, 2**32 - 1),
    markup=st.floats(0.0, 1.0),
)
def test_strategies_feed_the_market(
    position: list[int], strategy: str, seed: int, markup: float
) -> None:
    pos = np.array(position, dtype=np.int64)
    lim = limit_prices(pos, strategy, RETAIL, FEED_IN, np.random.default_rng(seed), markup)
    assert lim.shape == pos.shape
    assert np.isnan(lim[pos == 0]).all()
    assert ((lim[pos != 0] >= FEED_IN) & (lim[pos != 0] <= RETAIL)).all()
    orders = orders_from_positions(pos, lim, lim)
    c = clear(orders, RETAIL, FEED_IN)
    net = net_energy_wh(c, pos.shape[0])
    # nobody trades against their position, nor beyond it
    assert (np.abs(net) <= np.abs(pos)).all()
    assert (net * pos >= 0).all()


def test_homes_are_counted_apart_from_the_community_and_the_assets() -> None:
    from settlement.market.accounts import account_kinds
    from settlement.market.totals import MarketTotals, gaining_losing

    owners = ["home-0", "home-1", "home-2", "community", "asset-battery"]
    kinds = account_kinds(owners)
    assert list(kinds) == ["home", "home", "home", "community", "asset"]
    kpis = {k: v for k, (v, _) in gaining_losing(np.array([5, -3, 0, 7, 2]), kinds).items()}
    assert kpis == {
        "homes_gaining": 1,
        "homes_losing": 1,
        "community_generators_gaining": 1,
        "community_generators_losing": 0,
        "shared_assets_gaining": 1,
        "shared_assets_losing": 0,
    }
    with pytest.raises(ValueError, match="2 kinds for 5 owners"):
        MarketTotals(5, kinds[:2])
