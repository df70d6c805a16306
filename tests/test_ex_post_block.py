"""The pooled ex-post rules on a block of intervals equal the per-interval rules, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from settlement.market.ex_post import matched_pro_rata, pooled_clearing, pro_rata
from settlement.market.ex_post_block import (
    allocate_rows,
    community_price_rows,
    matched_pro_rata_rows,
    merge_rows,
    pooled_clearing_rows,
    pro_rata_rows,
)
from settlement.market.sharing import allocate, community_price, key_parts
from twin.layers.market_pooled import POOLED_RULES, PooledRule, pooled_book, pooled_books
from twin.layers.market_tables import ChunkBooks

LEVELS = np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]])
INTERVAL_S = 900
#: How each row of a block is drawn: any sign, no sellers, no buyers, nothing, rare values.
KINDS = ("mixed", "no_sellers", "no_buyers", "zero", "sparse")


def block(rng: np.random.Generator, n_t: int, n: int) -> np.ndarray:
    """Metered net energies [Wh], shape (n_t, n), rows of every kind in :data:`KINDS`."""
    net = rng.integers(-5000, 5001, size=(n_t, n))
    kind = rng.integers(0, len(KINDS), size=n_t)
    net[kind == 1] = np.abs(net[kind == 1])
    net[kind == 2] = -np.abs(net[kind == 2])
    net[kind == 3] = 0
    sparse = kind == 4
    net[sparse] *= rng.random((int(sparse.sum()), n)) < 0.3
    return net.astype(np.int64)


def tariffs(rng: np.random.Generator, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """Feed-in and retail per interval [EUR/MWh], equal ones among them."""
    feed_in = rng.choice([0.0, 80.0, 95.0, 81.37], size=n_t)
    retail = feed_in + rng.choice([0.0, 1.0, 140.0, 240.3, 340.0], size=n_t)
    return retail, feed_in


def assert_same(a: object, b: object) -> None:
    """Same dtype, shape and bytes (NaN where NaN, the sign of zero)."""
    x, y = np.asarray(a), np.asarray(b)
    assert x.dtype == y.dtype
    assert x.shape == y.shape
    assert x.tobytes() == y.tobytes()


def assert_same_books(got: ChunkBooks, want: ChunkBooks) -> None:
    assert_same(got.position_wh, want.position_wh)
    for part in ("orders", "clearing"):
        for name, value in vars(getattr(want, part)).items():
            assert_same(getattr(getattr(got, part), name), value)


@pytest.mark.parametrize("seed", range(6))
def test_pro_rata_rows_is_pro_rata_of_every_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = block(rng, 40, 1 + seed * 3)
    weights = np.abs(weights)
    total = rng.integers(0, 3, size=40) * weights.sum(axis=1) // 2  # 0, half, all
    total[weights.sum(axis=1) == 0] = 0
    got = pro_rata_rows(total, weights)
    for t in range(40):
        assert_same(got[t], pro_rata(int(total[t]), weights[t]))
    parts = key_parts(rng.random(weights.shape[1]))
    got = pro_rata_rows(total, parts)
    for t in range(40):
        assert_same(got[t], pro_rata(int(total[t]), parts))


def test_pro_rata_rows_refuses_what_pro_rata_refuses() -> None:
    with pytest.raises(ValueError, match="overflows"):
        pro_rata_rows(np.array([0, 2**40]), np.array([[1, 1], [2**23, 1]]))
    with pytest.raises(ValueError, match="zero weights"):
        pro_rata_rows(np.array([1]), np.array([[0, 0]]))
    with pytest.raises(ValueError, match=">= 0"):
        pro_rata_rows(np.array([1]), np.array([[-1, 2]]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("zoned", [False, True])
def test_allocations_equal_the_per_interval_ones(seed: int, zoned: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 1 + seed * 4
    net = block(rng, 50, n)
    zone = rng.integers(0, 3, size=n) if zoned else None
    parts = key_parts(rng.random(n) * (rng.random(n) < 0.7) + (np.arange(n) == 0))
    sold, bought = matched_pro_rata_rows(net)
    static = allocate_rows(net, "static", parts)
    dynamic = allocate_rows(net, "dynamic", zone=zone)
    for t in range(50):
        for got, want in zip((sold[t], bought[t]), matched_pro_rata(net[t]), strict=True):
            assert_same(got, want)
        for got, want in zip(
            (static[0][t], static[1][t]), allocate(net[t], "static", parts), strict=True
        ):
            assert_same(got, want)
        for got, want in zip(
            (dynamic[0][t], dynamic[1][t]), allocate(net[t], "dynamic", zone=zone), strict=True
        ):
            assert_same(got, want)


def test_merge_rows_caps_each_row_at_its_smaller_side() -> None:
    sold = np.array([[3, 0, 2], [0, 0, 0], [5, 0, 0], [1, 1, 1]])
    bought = np.array([[0, 4, 0], [2, 0, 0], [0, 1, 1], [0, 0, 0]])
    t, seller, buyer, energy = merge_rows(sold, bought)
    assert t.tolist() == [0, 0, 2, 2]
    assert seller.tolist() == [0, 2, 0, 0]
    assert buyer.tolist() == [1, 1, 1, 2]
    assert energy.tolist() == [3, 1, 1, 1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fee", [0.0, 5.0, 12.5])
def test_pooled_clearing_rows_is_pooled_clearing_of_every_row(seed: int, fee: float) -> None:
    rng = np.random.default_rng(seed)
    n = 2 + seed * 3
    sold, bought = matched_pro_rata_rows(block(rng, 40, n))
    retail, feed_in = tariffs(rng, 40)
    price = community_price_rows(retail, feed_in)
    zone = rng.integers(0, 3, size=n)
    got = pooled_clearing_rows(sold, bought, price, zone, LEVELS, fee)
    for t in range(40):
        want = pooled_clearing(sold[t], bought[t], price[t], zone, LEVELS, fee)
        rows = got.interval == t
        c = want.clearing
        assert_same(got.seller[rows], c.seller)
        assert_same(got.buyer[rows], c.buyer)
        assert_same(got.energy_wh[rows], c.energy_wh)
        assert_same(got.price_eur_per_mwh[rows], c.price_eur_per_mwh)
        assert_same(got.payment_micro_eur[rows], c.payment_micro_eur)
        assert_same(got.fee_eur_per_mwh[rows], want.fee_eur_per_mwh)
        assert_same(got.clearing_price_eur_per_mwh[t], np.float64(c.clearing_price_eur_per_mwh))


def test_pooled_clearing_rows_refuses_unequal_sides() -> None:
    with pytest.raises(ValueError, match="same total"):
        pooled_clearing_rows(
            np.array([[2, 0]]), np.array([[0, 1]]), np.array([1.0]), np.zeros(2), LEVELS, 0.0
        )


@pytest.mark.parametrize("configured", [None, 50.0, 100.0, 1000.0, -0.0])
def test_community_price_rows_is_community_price(configured: float | None) -> None:
    retail, feed_in = tariffs(np.random.default_rng(1), 200)
    got = community_price_rows(retail, feed_in, configured)
    want = [community_price(r, f, configured) for r, f in zip(retail, feed_in, strict=True)]
    assert_same(got, np.array(want))
    with pytest.raises(ValueError, match="below"):
        community_price_rows(np.array([1.0]), np.array([2.0]), configured)


@pytest.mark.parametrize("rule", POOLED_RULES)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("fee", "zones"), [(0.0, 1), (0.0, 3), (5.0, 1), (5.0, 3), (12.5, 2)])
def test_pooled_books_are_the_per_interval_books(
    rule: str, seed: int, fee: float, zones: int
) -> None:
    """The chunk's books, as the market layer forms them, equal its intervals' books one by
    one: orders, trades, prices, fees, clearing prices."""
    rng = np.random.default_rng(seed)
    n, n_t, first = 1 + seed * 5, 96, 96 * seed
    net = block(rng, n_t, n)
    retail, feed_in = tariffs(rng, n_t)
    configured = [None, 120.0, 0.0, 500.0][seed]
    pooled = PooledRule(
        rule,
        rng.integers(0, zones, size=n),
        LEVELS,
        fee,
        key_parts(rng.random(n) + 0.01) if rule == "static_sharing" else None,
        configured,
    )
    got = pooled_books(pooled, first, net, retail, feed_in, INTERVAL_S)
    books = [
        pooled_book(pooled, first + t, net[t], float(retail[t]), float(feed_in[t]), INTERVAL_S)
        for t in range(n_t)
    ]
    assert_same_books(got, ChunkBooks.of(books, n))


def test_a_pooled_rule_is_not_an_auction() -> None:
    with pytest.raises(ValueError, match="rule must be one of"):
        PooledRule("ex_post_auction", np.zeros(1, dtype=np.int64), LEVELS, 0.0)
