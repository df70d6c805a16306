"""A data sale too big for one transaction is made in chunks, exactly once, to the same money.

On the embedded chain, one ``sellData`` against ``openSale`` + ``payChunk`` of the same split
under a small gas budget: the same payouts to every owner and the treasury, the same
``DataSold``, every transaction within the budget, the contract holding nothing; a seller
killed between two chunks (at its fault point) and started again sends only the rest; a
budget too small for any chunk names ``chain.max_tx_gas``. Then a run whose sales are chunked
(``chain.max_tx_gas``) has the data tables of a run whose sales are one transaction each and
passes ``gridtwin verify``; killed between two chunks of a sale, it resumes to the tables of
an unkilled run (but for transaction hashes and gas: the embedded chain's clock) and verifies.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from eth_account import Account

import settlement.economy.data_market as data_market
from settlement.chain.connection import Chain
from settlement.chain.fault_points import FAULT_EXIT
from settlement.chain.participants import participant_private_key
from settlement.depin.client import DepinContracts
from settlement.economy.data_market import DataMarket, devices_per_chunk, split_digest
from settlement.units import MicroEur
from tests.conftest import ROOT
from tests.dashboard_fixtures import DEPIN_ECONOMY, DEPIN_ECONOMY_SHORT
from twin.engine import run_scenario
from twin.partial import partial_of
from twin.results import RunFolder, open_run
from twin.resume import resumable
from twin.scenario import load_scenario
from twin.verify import verify_run

N = 30  # devices, three owners
BUDGET = 600_000  # seven devices a chunk: five chunks
TREASURY = "0x" + "7e" * 20


class KilledError(Exception):
    """Raised at a fault point in place of the process exit."""


@pytest.fixture
def markets() -> tuple[Chain, bytes, DataMarket, DataMarket, list[str]]:
    chain = Chain.embedded()
    buyer = participant_private_key("data-buyer", 7)
    chain.mint_credits([Account.from_key(buyer).address], MicroEur(10**12))
    owners = [Account.from_key(participant_private_key(f"m{i}", 7)).address for i in range(3)]
    depin = DepinContracts(chain)
    ids = list(range(1, N + 1))
    who = [owners[i % 3] for i in range(N)]
    depin.register_devices(ids, who, who, [0] * N, [0] * N)
    registry = depin.addresses["DeviceRegistry"]
    one = DataMarket.deploy(chain, registry=registry, treasury=TREASURY)
    chunked = DataMarket.deploy(chain, registry=registry, treasury=TREASURY)
    return chain, buyer, one, chunked, owners


def _split() -> tuple[list[int], list[int], int]:
    amounts = [1_000 + 37 * i for i in range(N)]
    return list(range(1, N + 1)), amounts, 123_457


def _balances(chain: Chain, accounts: list[str]) -> list[int]:
    return [chain.balance_of(a) for a in [*accounts, TREASURY]]


def test_chunks_pay_what_one_sale_pays(
    markets: tuple[Chain, bytes, DataMarket, DataMarket, list[str]],
) -> None:
    chain, buyer, one, chunked, owners = markets
    ids, amounts, cut = _split()
    payment = MicroEur(sum(amounts) + cut)
    root = b"\x07" * 32
    before = _balances(chain, owners)
    [receipt] = one.sell(0, buyer, payment, ids, amounts, cut, root, gas_budget=30_000_000)
    mid = _balances(chain, owners)
    receipts = chunked.sell(0, buyer, payment, ids, amounts, cut, root, gas_budget=BUDGET)
    after = _balances(chain, owners)
    assert len(receipts) == 1 + -(-N // devices_per_chunk(BUDGET)) == 6  # open + 5 chunks
    assert all(r["gasUsed"] <= BUDGET for r in receipts)
    assert [a - m for a, m in zip(after, mid, strict=True)] == [
        m - b for m, b in zip(mid, before, strict=True)
    ]
    whole, parts = one.events(receipt), chunked.events(receipts)
    assert parts.payouts == whole.payouts  # same devices, payees, amounts, same order
    assert (parts.amount_micro_eur, parts.to_treasury_micro_eur, parts.release_root) == (
        whole.amount_micro_eur,
        whole.to_treasury_micro_eur,
        whole.release_root,
    )
    assert chain.balance_of(chunked.address) == 0
    assert chunked.sold(0)
    assert chunked.progress(0) == (False, N)  # closed; its commitment stays readable
    digest = chain.call(chunked.contract, "splitDigest", ids, amounts)
    assert bytes(digest) == split_digest(ids, amounts)


def test_a_seller_killed_between_chunks_sends_only_the_rest(
    markets: tuple[Chain, bytes, DataMarket, DataMarket, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain, buyer, _one, market, owners = markets
    ids, amounts, cut = _split()
    payment = MicroEur(sum(amounts) + cut)
    before = _balances(chain, owners)

    def kill(point: str, where: object) -> None:
        if f"{point}:{where}" == "after_sale_chunk:0:1":
            raise KilledError

    monkeypatch.setattr(data_market, "fault_point", kill)
    with pytest.raises(KilledError):
        market.sell(0, buyer, payment, ids, amounts, cut, bytes(32), gas_budget=BUDGET)
    monkeypatch.undo()
    count = devices_per_chunk(BUDGET)
    assert market.progress(0) == (True, 2 * count)
    assert chain.balance_of(market.address) == payment - sum(amounts[: 2 * count])
    rest = market.sell(0, buyer, payment, ids, amounts, cut, bytes(32), gas_budget=BUDGET)
    assert len(rest) == 3  # chunks 2, 3 and 4: no second opening, no chunk twice
    logs = market.contract.events.DataPayout().get_logs(from_block=0)
    assert sorted(int(e.args.deviceId) for e in logs) == ids  # each device paid once
    after = _balances(chain, owners)
    per_owner = [sum(amounts[i::3]) for i in range(3)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [*per_owner, cut]
    assert chain.balance_of(market.address) == 0
    assert market.events(rest).amount_micro_eur == payment


def test_a_budget_too_small_for_a_chunk_names_the_key() -> None:
    assert devices_per_chunk(30_000_000) == 497
    with pytest.raises(ValueError, match=r"chain\.max_tx_gas"):
        devices_per_chunk(200_000)


#: The shortened depin_economy run: about 80 devices a sale, one transaction each by default;
#: 3 M gas (what CommunityVotes' deploy needs) pays 47 devices a chunk: two chunks a sale.
SHORT = DEPIN_ECONOMY_SHORT
CHUNKED = [*SHORT, "chain.max_tx_gas=3000000"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunFolder, RunFolder]:
    base = tmp_path_factory.mktemp("chunks")
    run_scenario(load_scenario(DEPIN_ECONOMY, SHORT), base / "one")
    run_scenario(load_scenario(DEPIN_ECONOMY, CHUNKED), base / "chunked")
    return open_run(base / "one"), open_run(base / "chunked")


def test_a_chunked_run_has_the_data_tables_of_one_shot_sales_and_verifies(
    runs: tuple[RunFolder, RunFolder],
) -> None:
    one, chunked = runs
    txs = chunked.table("transactions")
    functions = txs["function"].astype(str)
    assert (functions == "payChunk").sum() > (functions == "openSale").sum() > 0
    assert "sellData" not in set(functions)
    assert set(txs.loc[functions.isin(["openSale", "payChunk"]), "kind"]) == {"data_sale"}
    assert "sellData" in set(one.table("transactions")["function"].astype(str))
    a, b = (r.table("data_sales") for r in runs)
    assert b.groupby("sale")["tx_hash"].nunique().min() > 1  # every sale in chunks
    # The chunked run sends more transactions before the economy's deploys (CommunityVotes
    # minted in chunks), so its Treasury has another address: the treasury rows' payee.
    for t in (a, b):
        t.loc[t["kind"] == "treasury", "payee"] = "treasury"
    pd.testing.assert_frame_equal(a.drop(columns="tx_hash"), b.drop(columns="tx_hash"))
    pd.testing.assert_frame_equal(one.table("data_releases"), chunked.table("data_releases"))
    cuts = [r.table("treasury") for r in runs]
    amounts = [t.loc[t["kind"] == "data_sale", "amount_micro_eur"].tolist() for t in cuts]
    assert amounts[0] == amounts[1]
    checks = verify_run(chunked.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


@pytest.mark.slow
def test_a_run_killed_between_sale_chunks_resumes_to_the_same_bytes(
    runs: tuple[RunFolder, RunFolder], tmp_path: Path
) -> None:
    args = [a for s in CHUNKED for a in ("--set", s)]
    cli = [sys.executable, "-m", "twin.cli", "run", str(DEPIN_ECONOMY), *args, "--quiet"]
    out = tmp_path / "results" / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDTWIN_FAULT="after_sale_chunk:0:0")
    child = subprocess.run([*cli, "--out", str(out)], env=env, capture_output=True, timeout=600)
    assert child.returncode == FAULT_EXIT, child.stderr.decode()[-2000:]
    [kept] = partial_of(out)
    found = resumable(out)
    run_scenario(found.scenario, found.out, None, found.scenario_file, resume=kept)
    whole = tmp_path / "whole"
    subprocess.run([*cli, "--out", str(whole)], check=True, capture_output=True, timeout=600)
    resumed, unkilled = open_run(out), open_run(whole)
    _assert_same_but_the_chain_clock(resumed, unkilled)
    assert all(c.ok for c in verify_run(out))


#: What differs between any two runs that sign permits on the embedded chain (before this
#: change too): eth-tester's block clock is the wall clock, so permits' deadlines, and with
#: them transaction hashes and a few gas units of calldata, differ from run to run.
CLOCKED = ("tx_hash", "gas_used")


def _assert_same_but_the_chain_clock(a: RunFolder, b: RunFolder) -> None:
    """:func:`tests.test_resume.assert_same_run` but for the columns :data:`CLOCKED` and the
    KPIs of gas and its cost."""
    assert a.manifest["tables"] == b.manifest["tables"]
    for name in set(a.manifest["tables"]) - {"kpis"}:
        ta, tb = (pq.read_table(r.path / f"{name}.parquet") for r in (a, b))
        keep = [c for c in ta.column_names if c not in CLOCKED]
        assert ta.select(keep).equals(tb.select(keep)), name
    ka, kb = ({k: v for k, v in r.kpis().items() if not _of_gas(k)} for r in (a, b))
    assert ka == pytest.approx(kb, nan_ok=True)
    assert a.manifest["config"] == b.manifest["config"]


def _of_gas(kpi: str) -> bool:
    return "gas" in kpi or "_l1_" in kpi or "_l2_" in kpi
