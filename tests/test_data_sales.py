"""Data sales with privacy: k-anonymous aggregates, exact money, verified against the chain.

Pure truths first (:mod:`settlement.economy.data_sales`): small groups are merged or
suppressed, no released aggregate has fewer than k households (random inputs, several seeds),
and a split sums to its payment to the micro-euro. Then one 2-day hourly run of the default
community with daily sales: every aggregate covers >= k households and the single wind
turbine and the three batteries of the short feeders are never released; the buyer's payments
equal the devices' payouts plus the treasury's cut, exactly, and equal what moved on chain;
``gridtwin verify`` passes and names a tampered ``data_sales`` row; bad config is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from web3.logs import DISCARD

from settlement.economy.data_market import DataMarket
from settlement.economy.data_sales import (
    SUPPRESSED,
    release,
    release_groups,
    sale_price,
    split_payment,
)
from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import open_chain, verify_run

DEFAULT = ROOT / "scenarios" / "default.toml"
K = 5
SALES = [
    "run.days=2",
    "run.interval_s=3600",
    "devices.upload_intervals=24",
    "devices.epoch_days=1",
    "chain.batch_hours=24",
    'forecasting.battery_control="self_consumption"',
    "devices.data_sales.enabled=true",
    "devices.data_sales.sale_days=1",
    "devices.data_sales.price_eur_per_device_month=3.0",
    "devices.data_sales.treasury_share=0.1",
]


def test_small_groups_are_merged_per_kind_or_suppressed() -> None:
    feeder = [1] * 5 + [2] * 3 + [3] * 2 + [1, 2] + [1]
    kind = ["consumer"] * 10 + ["battery"] * 2 + ["wind"]
    home = [f"h{i}" for i in range(10)] + ["h0", "h5", "community"]
    groups = release_groups(feeder, kind, home, K)
    label = [groups.labels[g] if g != SUPPRESSED else None for g in groups.group]
    assert label[:5] == ["consumer/feeder-1"] * 5
    assert label[5:10] == ["consumer/merged"] * 5  # feeders 2 and 3: 3 + 2 households
    assert label[10:] == [None, None, None]  # two batteries, one turbine: never released


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_released_aggregate_has_fewer_than_k_households(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_t, n_d = 48, 30
    feeder = rng.integers(1, 6, n_d)
    kind = rng.choice(["consumer", "solar", "battery"], n_d)
    home = [f"h{i}" for i in rng.integers(0, 25, n_d)]  # some homes own several devices
    energy = rng.integers(-5_000, 5_000, (n_t, n_d))
    accepted = rng.random((n_t, n_d)) < 0.5  # missing and rejected readings thin groups out
    groups = release_groups(feeder, kind, home, K)
    rel = release(energy, accepted, groups, home, K)
    assert len(rel.interval) > 0  # both cases occur
    assert rel.suppressed > 0
    assert rel.households.min() >= K
    # each released sum and count, re-derived; each device's readings are its released cells
    used = np.zeros_like(accepted)
    home_a = np.asarray(home)
    for t, g, e, d, h in zip(
        rel.interval, rel.group, rel.energy_wh, rel.devices, rel.households, strict=True
    ):
        members = (groups.group == g) & accepted[t]
        assert e == energy[t, members].sum()
        assert d == members.sum()
        assert h == len(set(home_a[members])) >= K
        used[t, members] = True
    assert (rel.readings == used.sum(axis=0)).all()
    assert (rel.readings[groups.group == SUPPRESSED] == 0).all()


def test_a_split_sums_to_the_payment_exactly_with_the_remainder_to_the_treasury() -> None:
    assert sale_price(24 * 30, 3600, 3_000_000) == 3_000_000  # one device-month
    for payment, readings, ppm in [(1_000_003, [1, 1, 1], 100_000), (7, [5, 3], 0), (10, [], 0)]:
        shares, treasury = split_payment(payment, readings, ppm)
        assert sum(shares) + treasury == payment
        pool = payment - payment * ppm // 1_000_000
        if readings:  # the remainder is below one micro-euro a device
            assert treasury - (payment - pool) < len(readings)
        else:  # nobody to pay: all to the treasury
            assert treasury == payment
    # cut floor(100,000.4) = 100,000; pool 900,004 = 3 x 300,001 + 1 to the treasury
    assert split_payment(1_000_004, [1, 1, 1], 100_000) == ([300_001] * 3, 100_001)


def test_bad_data_sales_config_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[devices.data_sales]\nenabled = true\nk = 4\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.toml: devices\.data_sales\.k: .*below 5"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match=r"devices\.data_sales\.enabled: .*economy"):
        load_scenario(DEFAULT, ["devices.data_sales.enabled=true", "economy.enabled=false"])
    with pytest.raises(ScenarioError, match="treasury_share"):
        load_scenario(DEFAULT, ["devices.data_sales.treasury_share=1.5"])


@pytest.fixture(scope="module")
def sold_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("data") / "run"
    run_scenario(load_scenario(DEFAULT, SALES), out)
    return open_run(out)


def test_every_release_covers_k_households_and_small_groups_stay_home(sold_run: RunFolder) -> None:
    releases = sold_run.table("data_releases")
    sales = sold_run.table("data_sales")
    nodes = sold_run.table("nodes")
    assert len(releases)
    assert releases["households"].min() >= K
    assert (releases["devices"] >= releases["households"]).all()
    released = set(releases["group"])
    assert "solar/merged" in released  # feeders 2 and 3 have 5 PV homes between them
    assert not any(g.startswith("wind") for g in released)  # one turbine, one owner
    paid = set(sales.loc[sales["kind"] == "device", "node_id"])
    wind = set(nodes.loc[nodes["kind"] == "wind", "node_id"])
    assert paid
    assert not paid & wind
    kpis = sold_run.kpis()
    assert kpis["data_devices_never_released"] == 4  # the turbine, 3 batteries of 2 feeders
    assert kpis["data_min_households"] >= K


def test_payments_equal_payouts_plus_treasury_cut_and_the_chain(sold_run: RunFolder) -> None:
    sales = sold_run.table("data_sales")
    chain = open_chain(sold_run)
    market = DataMarket(chain, sold_run.manifest["chain"]["addresses"]["DataMarket"])
    credit = chain.contract("EnergyCredit")
    buyer = sold_run.manifest["data_sales"]["buyer"]
    paid_total = 0
    for _, sale in sales.groupby("sale"):
        payment = int(sale["payment_micro_eur"].iloc[0])
        assert int(sale["amount_micro_eur"].sum()) == payment  # to the micro-euro
        cut = int(sale.loc[sale["kind"] == "treasury", "amount_micro_eur"].iloc[0])
        assert cut >= payment // 10  # the 10 % share, plus rounding remainders
        receipt = chain.get_receipt(str(sale["tx_hash"].iloc[0]))
        moves = credit.events.Transfer().process_receipt(receipt, errors=DISCARD)
        out_of_buyer = sum(int(e.args.value) for e in moves if e.args["from"] == buyer)
        to_payees = pd.DataFrame(
            [
                (str(e.args.to), int(e.args.value))
                for e in moves
                if e.args["from"] == market.address
            ],
            columns=["payee", "amount"],
        )
        assert out_of_buyer == payment
        assert sorted(to_payees["amount"]) == sorted(sale["amount_micro_eur"].astype(int))
        assert set(to_payees["payee"]) == set(sale["payee"])
        paid_total += payment
    assert paid_total > 0
    credits = int(sold_run.manifest["data_sales"]["buyer_credits_micro_eur"])
    assert chain.balance_of(buyer) == credits - paid_total  # the buyer does nothing else
    assert chain.balance_of(market.address) == 0  # the market keeps nothing
    treasury = sold_run.table("treasury")
    cuts = sales.loc[sales["kind"] == "treasury", "amount_micro_eur"].astype(int).tolist()
    assert treasury.loc[treasury["kind"] == "data_sale", "amount_micro_eur"].tolist() == cuts


def test_verify_passes_and_names_a_tampered_data_sales_row(
    sold_run: RunFolder, tmp_path: Path
) -> None:
    checks = verify_run(sold_run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert any(c.name.startswith("data sales: rows = DataMarket events") for c in checks)
    copy = tmp_path / "tampered"
    shutil.copytree(sold_run.path, copy)
    sales = pd.read_parquet(copy / "data_sales.parquet")
    row = int(sales.index[sales["kind"] == "device"][3])
    treasury = int(sales.index[(sales["kind"] == "treasury") & (sales["sale"] == 0)][0])
    sales.loc[row, "amount_micro_eur"] += 1  # one device paid more, the treasury less:
    sales.loc[treasury, "amount_micro_eur"] -= 1  # the sale still sums to its payment
    sales.to_parquet(copy / "data_sales.parquet")
    failed = [f"{c.name}: {c.detail}" for c in verify_run(copy) if not c.ok]
    assert any(f"data_sales row {row}" in f for f in failed), failed
