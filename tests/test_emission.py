"""The revenue (burn-and-mint) emission schedule: its arithmetic, and a short run on the chain.

Pure: the revenue schedule's pool (bootstrap, then the burn of the epoch before, capped), the
tokens a revenue buys at the reference price (never paying more than it holds), the pro-rata
sales (exact totals, nobody sells more than it holds) and the pays-for-itself test.

Run: the default community over three one-day epochs with daily batches and the revenue
schedule. Truths: each epoch's on-chain supply change equals emitted - burned; epoch n+1's pool
is epoch n's burn (capped by the constant pool); every burned token was sold by its holder and
paid for at the reference price from revenue the treasury drew; every euro the buyback drew is
either paid to a seller or still held by it; ``gridtwin verify`` passes and names a tampered
``token_economy`` or ``buybacks`` row.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from settlement.depin.buyback import BuybackBurn
from settlement.depin.client import DepinContracts
from settlement.depin.emission import (
    epoch_emission,
    pays_for_itself,
    revenue_emission,
    sales_pro_rata,
    tokens_for_revenue,
)
from tests.anvil import MISSING, AnvilNode, anvil_binary
from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import open_chain, verify_run

DEFAULT = ROOT / "scenarios" / "default.toml"
SHORT = [
    "run.days=3",
    "run.interval_s=3600",
    "devices.upload_intervals=24",
    "devices.epoch_days=1",
    "chain.batch_hours=24",
    'devices.emission.schedule="revenue"',
    "devices.emission.token_price_eur=0.01",
    'forecasting.model="seasonal_naive"',
]


def test_revenue_schedule_bootstraps_then_follows_the_burn_capped() -> None:
    assert revenue_emission(1000, 0, 0) == 1000  # bootstrap: devices need tokens to sell
    assert revenue_emission(1000, 1, 37) == 37
    assert revenue_emission(1000, 5, 5000) == 1000  # capped by the constant pool
    assert revenue_emission(1000, 2, 0) == 0  # no revenue, no emission
    assert epoch_emission(1000, 3, "revenue", burned_before=250) == 250
    with pytest.raises(ValueError, match="non-negative"):
        revenue_emission(1000, 1, -1)


def test_tokens_for_revenue_never_pays_more_than_the_revenue() -> None:
    # 1.5 EUR at 0.01 EUR/token buys 150 tokens (6 decimals)
    assert tokens_for_revenue(1_500_000, 10_000, 6) == 150_000_000
    assert tokens_for_revenue(0, 10_000, 6) == 0
    for revenue, price in ((7, 3), (999_999, 333_333), (123_456_789, 7_777)):
        units = tokens_for_revenue(revenue, price, 6)
        assert units * price // 10**6 <= revenue  # what BuybackBurn.quote pays
        assert (units + 1) * price // 10**6 >= revenue - price  # and nearly all of it
    with pytest.raises(ValueError, match="positive"):
        tokens_for_revenue(1, 0, 6)


def test_sales_pro_rata_are_exact_and_within_holdings() -> None:
    assert sales_pro_rata([300, 100, 0], 200) == [150, 50, 0]
    assert sum(sales_pro_rata([7, 11, 13], 10)) == 10
    assert sales_pro_rata([5, 5], 100) == [5, 5]  # holdings fall short: all of it
    assert sales_pro_rata([0, 0], 10) == [0, 0]
    for held, want in (([1, 2, 3, 4], 9), ([10**12, 1, 1], 10**12), ([3], 2)):
        sold = sales_pro_rata(held, want)
        assert sum(sold) == min(want, sum(held))
        assert all(0 <= s <= h for s, h in zip(sold, held, strict=True))


def test_pays_for_itself_at_the_reference_price() -> None:
    # 10 EUR of revenue against 1,000 tokens: pays at 0.01 EUR/token, not at 0.02
    assert pays_for_itself(10_000_000, 1_000 * 10**6, 0.01, 6)
    assert not pays_for_itself(10_000_000, 1_000 * 10**6, 0.02, 6)


def test_revenue_schedule_needs_the_economy() -> None:
    with pytest.raises(ScenarioError, match=r"devices\.emission\.schedule"):
        load_scenario(DEFAULT, ['devices.emission.schedule="revenue"', "economy.enabled=false"])


@pytest.fixture(scope="module")
def revenue_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("emission") / "revenue"
    run_scenario(load_scenario(DEFAULT, SHORT), out)
    return open_run(out)


def test_supply_change_is_emitted_minus_burned_and_emission_follows_the_burn(
    revenue_run: RunFolder,
) -> None:
    economy = revenue_run.table("token_economy")
    assert len(economy) == 3
    supply = economy["supply_units"].tolist()
    change = [supply[0], *(b - a for a, b in itertools.pairwise(supply))]
    assert change == (economy["emitted_units"] - economy["burned_units"]).tolist()
    burned = economy["buyback_burned_units"].tolist()
    assert burned == economy["burned_units"].tolist()  # no staking: only buyback burns
    assert sum(burned) > 0
    cap = 1000 * 10**6
    pools = economy["pool_units"].tolist()
    assert pools[0] == cap
    assert pools[1:] == [min(b, cap) for b in burned[:-1]]
    assert (economy["emitted_units"] <= economy["pool_units"]).all()
    # on chain, now: the last row's supply, and the buyback burned what the table says
    chain = open_chain(revenue_run)
    addresses = revenue_run.manifest["chain"]["addresses"]
    depin = DepinContracts(chain, addresses=addresses)
    assert depin.reward_supply() == supply[-1]
    buyback = BuybackBurn(depin, addresses["Treasury"], address=addresses["BuybackBurn"])
    assert buyback.totals()[0] == sum(burned)


def test_every_burned_token_was_sold_and_paid_for_from_drawn_revenue(
    revenue_run: RunFolder,
) -> None:
    table = revenue_run.table("buybacks")
    sales, draws = table[table["kind"] == "sale"], table[table["kind"] == "draw"]
    price = 10_000  # micro-euro per token
    assert (sales["amount_micro_eur"] == sales["units"] * price // 10**6).all()
    drawn, paid = int(draws["amount_micro_eur"].sum()), int(sales["amount_micro_eur"].sum())
    assert 0 < paid <= drawn
    chain = open_chain(revenue_run)
    addresses = revenue_run.manifest["chain"]["addresses"]
    depin = DepinContracts(chain, addresses=addresses)
    buyback = BuybackBurn(depin, addresses["Treasury"], address=addresses["BuybackBurn"])
    assert buyback.budget() == drawn - paid  # every euro drawn is paid or still held
    assert chain.balance_of(addresses["BuybackBurn"]) == drawn - paid
    # the treasury's draws are buyback rows of the treasury table, each within the revenue
    treasury = revenue_run.table("treasury")
    assert -int(treasury.loc[treasury["kind"] == "buyback", "amount_micro_eur"].sum()) == drawn
    fees = int(treasury.loc[treasury["kind"] == "protocol_fees", "amount_micro_eur"].sum())
    assert drawn <= fees
    economy = revenue_run.table("token_economy")
    assert int(economy["buyback_paid_micro_eur"].sum()) == paid
    # every draw and sale is a "buyback" transaction of the run's gas account
    tx = revenue_run.table("transactions")
    assert set(tx.loc[tx["kind"] == "buyback", "tx_hash"]) == set(table["tx_hash"])
    assert economy["treasury_balance_micro_eur"].iloc[-1] >= 0


@pytest.mark.slow  # three verifies of the run: ~45 s on a shared machine
def test_verify_passes_and_names_a_tampered_row(revenue_run: RunFolder, tmp_path: Path) -> None:
    failed = [c for c in verify_run(revenue_run.path) if not c.ok]
    assert not failed, failed
    for table, column in (("token_economy", "burned_units"), ("buybacks", "units")):
        copy = tmp_path / table
        shutil.copytree(revenue_run.path, copy)
        run = open_run(copy)
        frame = run.table(table)
        row = int(frame.index[frame[column] > 0][0])
        frame.loc[row, column] += 1
        frame.to_parquet(copy / f"{table}.parquet")
        failed = [c for c in verify_run(copy) if not c.ok]
        assert any(f"row {row}" in c.detail for c in failed), failed


@pytest.mark.slow
@pytest.mark.anvil
@pytest.mark.skipif(anvil_binary() is None and not os.environ.get("CI"), reason=MISSING)
def test_the_buyback_burns_on_anvil_and_verify_passes(tmp_path: Path) -> None:
    binary = anvil_binary()
    assert binary is not None, MISSING
    with AnvilNode(binary) as node:
        out = tmp_path / "run"
        run_scenario(load_scenario(DEFAULT, [*SHORT, f'chain.rpc_url="{node.url}"']), out)
        run = open_run(out)
        assert run.manifest["chain"]["kind"] == "rpc"
        assert int(run.table("token_economy")["buyback_burned_units"].sum()) > 0
        failed = [c for c in verify_run(run.path) if not c.ok]
        assert not failed, failed
