"""Every transaction a run sends is counted: the ``transactions`` table against the chain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import scenario
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.verify import verify_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("tx") / "run"
    run_scenario(scenario("run.days=1", "chain.batch_hours=12", "devices.epoch_days=1"), out)
    return open_run(out)


def test_every_kind_of_transaction_is_counted(run: RunFolder) -> None:
    tx = run.table("transactions")
    kinds = set(tx["kind"])
    assert {"deploy", "role", "mint", "register", "commit", "reward"} <= kinds
    batches = run.table("batches")
    commits = tx[tx["kind"] == "commit"]
    assert sorted(commits["tx_hash"]) == sorted(batches["tx_hash"])
    assert int(commits["gas_used"].sum()) == int(batches["gas_used"].sum())
    kpis = run.kpis()
    assert kpis["gas_all"] == tx["gas_used"].sum()
    assert kpis["gas_one_off"] == tx.loc[tx["one_off"], "gas_used"].sum()
    assert kpis["gas_one_off"] + kpis["gas_recurring"] == kpis["gas_all"]
    assert kpis["commit_gas"] == batches["gas_used"].sum()
    # the commit-only figure is a small part of what a run spends
    assert kpis["gas_all_per_trade"] > 5 * kpis["commit_gas_per_trade"]
    assert kpis["transactions"] == len(tx)
    l1, l2 = kpis["settlement_cost_l1_eur_per_mwh"], kpis["settlement_cost_l2_eur_per_mwh"]
    assert l1 == pytest.approx(l2 * 500)  # 5 gwei against 0.01 gwei
    energy_mwh = batches["energy_wh"].sum() / 1e6
    assert kpis["gas_cost_l1_eur"] == pytest.approx(l1 * energy_mwh)


def test_verify_checks_the_transactions(run: RunFolder, tmp_path: Path) -> None:
    checks = {c.name: c for c in verify_run(run.path)}
    assert checks["transactions table = the chain's transactions"].ok
    assert checks["transactions gas = every block's gas"].ok
    copy = tmp_path / "tampered"
    shutil.copytree(run.path, copy)
    table = pd.read_parquet(copy / "transactions.parquet")
    table.loc[3, "gas_used"] -= 1
    schema = pq.read_schema(copy / "transactions.parquet")
    pq.write_table(
        pa.Table.from_pandas(table, schema=schema, preserve_index=False),
        copy / "transactions.parquet",
    )
    checks = {c.name: c for c in verify_run(copy)}
    bad = checks["transactions table = the chain's transactions"]
    assert not bad.ok
    assert bad.detail.startswith("row 3:")
    assert not checks["transactions gas = every block's gas"].ok
