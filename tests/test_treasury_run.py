"""The protocol fee and the community treasury in a run, against the chain.

Known truths: money is conserved to the micro-euro (what members pay net in P2P is the grid
fees plus the protocol fees; each member's EnergyCredit balance is its credits less its P2P
payments); every batch's net payments, the treasury's included, sum to zero and pay the
treasury exactly its trades' fees; the treasury's balance on chain is the ``treasury`` table's
sum; ``gridtwin verify`` passes and names a tampered treasury row; a fee of 0 pays nothing in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hexbytes import HexBytes

from settlement.economy.dao import CommunityDao
from settlement.economy.fees import protocol_fees
from tests.conftest import scenario
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.verify import open_chain, verify_run

FEE_BPS = 50
#: 2 days, daily batches; devices off (they add nothing to the money of the market).
BASE = ("run.days=2", "chain.batch_hours=24", "devices.enabled=false")


def _run(tmp: pytest.TempPathFactory, name: str, *overrides: str) -> RunFolder:
    out = tmp.mktemp("treasury") / name
    run_scenario(scenario(*BASE, *overrides), out)
    return open_run(out)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    return _run(tmp_path_factory, "fee", f"economy.protocol_fee_bps={FEE_BPS}")


def test_protocol_fees_round_half_to_even() -> None:
    pay = np.array([0, 100, 300, 10_000, 19_999, 1_234_567, 7_000], dtype=np.int64)
    # 50 bps: 0.5, 1.5, 50, 99.995, 6172.835, 35
    assert protocol_fees(pay, 50).tolist() == [0, 0, 2, 50, 100, 6173, 35]
    assert protocol_fees(pay, 0).tolist() == [0] * len(pay)
    assert protocol_fees(pay, 10_000).tolist() == pay.tolist()
    with pytest.raises(ValueError, match="bps"):
        protocol_fees(pay, 10_001)


def test_money_is_conserved_to_the_micro_euro(run: RunFolder) -> None:
    trades, bills = run.table("trades"), run.table("bills").set_index("owner")
    kpis = run.kpis()
    pay = trades["payment_micro_eur"].to_numpy(dtype=np.int64)
    grid_fee = trades["grid_fee_micro_eur"].to_numpy(dtype=np.int64)
    fee = trades["protocol_fee_micro_eur"].to_numpy(dtype=np.int64)
    assert fee.sum() > 0
    assert (fee == protocol_fees(pay, FEE_BPS)).all()
    # each owner: bought - (sold less fees) = its P2P payments; its fees are those it sold with
    buyer, seller = trades["buyer"].astype(str), trades["seller"].astype(str)
    paid = pd.Series(pay).groupby(buyer.to_numpy()).sum().reindex(bills.index, fill_value=0)
    got = pd.Series(pay - grid_fee - fee).groupby(seller.to_numpy()).sum()
    paid -= got.reindex(bills.index, fill_value=0)
    assert (paid.to_numpy() == bills["p2p_paid_micro_eur"].to_numpy()).all()
    fees_by_seller = pd.Series(fee).groupby(seller.to_numpy()).sum()
    assert (
        fees_by_seller.reindex(bills.index, fill_value=0).to_numpy()
        == bills["protocol_fee_micro_eur"].to_numpy()
    ).all()
    # members' cost = utility bills + grid fees + protocol fees (P2P money between members cancels)
    utility = bills["cost_micro_eur"] - bills["p2p_paid_micro_eur"]
    assert int(bills["cost_micro_eur"].sum()) == int(utility.sum()) + int(grid_fee.sum()) + int(
        fee.sum()
    )
    treasury = run.table("treasury")
    assert int(treasury["amount_micro_eur"].sum()) == int(fee.sum())
    assert kpis["protocol_fees_eur"] == pytest.approx(fee.sum() / 1e6, abs=1e-9)
    # with the default mid-market rule and fee, nobody pays more than with the utility alone
    assert kpis["homes_losing"] == kpis["community_generators_losing"] == 0
    # on chain: each member holds its credits less its P2P payments, the treasury the fees
    chain = open_chain(run)
    participants = run.table("participants").set_index("owner")
    credits = round(float(run.manifest["config"]["chain"]["credits_eur"]) * 1e6)
    for owner, row in bills.iterrows():
        assert chain.balance_of(participants.loc[owner, "address"]) == credits - int(
            row["p2p_paid_micro_eur"]
        ), owner
    dao = CommunityDao(chain, run.manifest["chain"]["addresses"])
    assert dao.treasury_balance() == int(fee.sum()) == kpis["treasury_balance_eur"] * 1e6
    assert participants.loc["treasury", "address"] == dao.addresses["Treasury"]
    assert participants.loc["treasury", "role"] == "treasury"


def test_each_batch_pays_the_treasury_its_fees_and_sums_to_zero(run: RunFolder) -> None:
    trades, batches = run.table("trades"), run.table("batches")
    treasury = run.table("treasury").set_index("batch_id")
    address = run.manifest["chain"]["addresses"]["Treasury"]
    chain = open_chain(run)
    settlement = chain.contract("Settlement")
    assert len(batches) == 2
    for row in batches.itertuples():
        tx = chain.w3.eth.get_transaction(HexBytes(str(row.tx_hash)))
        _, args = settlement.decode_function_input(tx["input"])
        net = dict(zip(args["accounts"], (int(x) for x in args["netAmounts"]), strict=True))
        assert sum(net.values()) == 0
        fees = int(trades.loc[trades["batch_id"] == row.batch_id, "protocol_fee_micro_eur"].sum())
        assert net[address] == fees == treasury.loc[row.batch_id, "amount_micro_eur"]
        assert list(net)[-1] == address  # the last participant, after the grid operator
        assert treasury.loc[row.batch_id, "tx_hash"] == row.tx_hash


def test_verify_checks_the_treasury(run: RunFolder, tmp_path: Path) -> None:
    checks = verify_run(run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = {c.name for c in checks}
    assert "treasury balance (chain) = treasury table" in names
    assert "treasury inflow of each batch = its trades' protocol fees" in names
    copy = tmp_path / "tampered"
    shutil.copytree(run.path, copy)
    table = pd.read_parquet(copy / "treasury.parquet")
    table.loc[1, "amount_micro_eur"] += 1
    schema = pq.read_schema(copy / "treasury.parquet")
    pq.write_table(
        pa.Table.from_pandas(table, schema=schema, preserve_index=False),
        copy / "treasury.parquet",
    )
    checks_t = {c.name: c for c in verify_run(copy)}
    assert not checks_t["treasury balance (chain) = treasury table"].ok
    bad = checks_t["treasury inflow of each batch = its trades' protocol fees"]
    assert not bad.ok
    assert bad.detail.startswith("treasury row 1 (batch 1)")


def test_a_fee_of_zero_pays_nothing_in(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = _run(tmp_path_factory, "zero", "economy.protocol_fee_bps=0")
    assert len(run.table("treasury")) == 0
    assert (run.table("trades")["protocol_fee_micro_eur"] == 0).all()
    kpis = run.kpis()
    assert kpis["treasury_balance_eur"] == 0 == kpis["protocol_fees_eur"]
    checks = verify_run(run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
