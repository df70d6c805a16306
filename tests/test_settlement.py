"""On-chain settlement of a run: journal, exactly-once commits, verification, crashes.

The embedded chain (eth-tester) settles the shared one-day run; a real anvil node (from the
npm package `make test` installs) settles a run of its own, takes the crash tests (a
settlement process killed between journal and send, and between send and receipt) and is
itself killed and restarted from its ``--state`` in the middle of a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from settlement.chain.connection import Chain
from settlement.chain.fault_points import FAULT_EXIT
from settlement.chain.ledger import Ledger
from settlement.chain.merkle import merkle_root, trade_leaves
from settlement.chain.mined import Mined
from settlement.chain.operator import ANVIL_DEV_KEY
from settlement.chain.settler import Settler
from tests.anvil import MISSING, AnvilNode, anvil_binary
from tests.conftest import ROOT, scenario
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.verify import prove_trade, verify_run

BINARY = anvil_binary()
needs_anvil = pytest.mark.skipif(BINARY is None and not os.environ.get("CI"), reason=MISSING)


def _binary() -> Path:
    if BINARY is None:
        pytest.fail(MISSING)
    return BINARY


def test_day_run_settles_every_batch_and_verifies(day_run: RunFolder) -> None:
    batches = day_run.table("batches")
    trades = day_run.table("trades")
    kpis = day_run.kpis()
    assert (batches["state"] == "final").all()
    assert batches["trade_count"].sum() == len(trades) == kpis["settled_trades"]
    assert kpis["commit_gas_per_trade"] <= 1_000
    assert (batches["final"] > batches["closed"]).all()
    checks = verify_run(day_run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    proof = prove_trade(day_run.path, int(trades["trade_id"].iloc[len(trades) // 2]))
    assert proof["verified_on_chain"]
    manifest = day_run.manifest["chain"]
    assert set(manifest["addresses"]) == {
        "EnergyCredit",
        "Settlement",
        "DeviceRegistry",
        "Rewards",
        "RewardToken",
        "CommunityVotes",
        "CommunityTimelock",
        "CommunityGovernor",
        "Treasury",
    }
    assert manifest["kind"] == "embedded"


def test_verify_catches_a_tampered_trade(day_run: RunFolder, tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    copy = tmp_path / "tampered"
    shutil.copytree(day_run.path, copy)
    trades = pd.read_parquet(copy / "trades.parquet")
    trades.loc[trades.index[5], "payment_micro_eur"] += 1_000_000
    trades.to_parquet(copy / "trades.parquet")
    failed = [c.name for c in verify_run(copy) if not c.ok]
    assert any("root" in name for name in failed)
    assert any("net payments" in name for name in failed)


def test_chain_outage_holds_batches_back_and_they_catch_up(tmp_path: Path) -> None:
    sc = scenario(
        "run.days=2",
        "chain.batch_hours=6",
        "forecasting.battery_control=self_consumption",
        "chain.outages=[{start_h = 5.0, duration_h = 10.0}]",
    )
    run_scenario(sc, tmp_path / "run")
    run = open_run(tmp_path / "run")
    b = run.table("batches").set_index("batch_id")
    assert len(b) == 8
    # batch 0 closes at 6 h, inside the outage (5 h .. 15 h): sent at 15 h; batch 1 (closed
    # at 12 h) queues behind it and goes once batch 0 is final (2 blocks of 12 s)
    start = b["closed"].iloc[0] - np.timedelta64(6, "h")
    assert b.loc[0, "sent"] == start + np.timedelta64(15, "h")
    assert b.loc[1, "sent"] == start + np.timedelta64(15 * 3600 + 24, "s")
    assert b.loc[2, "sent"] == b.loc[2, "closed"]
    assert run.kpis()["batches_queued"] == 2
    assert all(c.ok for c in verify_run(run.path))


@pytest.mark.anvil
@needs_anvil
def test_a_day_on_anvil_passes_verify(tmp_path: Path) -> None:
    with AnvilNode(_binary()) as node:
        sc = scenario("run.days=1", f'chain.rpc_url="{node.url}"')
        run_scenario(sc, tmp_path / "run")
        run = open_run(tmp_path / "run")
        assert run.manifest["chain"]["kind"] == "rpc"
        assert run.manifest["chain"]["chain_id"] == 31337
        checks = verify_run(run.path)
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]
        assert prove_trade(run.path, 0)["verified_on_chain"]


def _plan(ledger: Ledger, batch_id: int, accounts: list[str]) -> None:
    n = 20
    rng = np.random.default_rng(batch_id)
    seller = rng.integers(0, len(accounts), n)
    buyer = (seller + 1) % len(accounts)
    energy = rng.integers(1, 500, n)
    pay = energy * 300
    ids = np.arange(n) + 100 * batch_id
    sellers = [accounts[i] for i in seller]
    buyers = [accounts[i] for i in buyer]
    net = np.zeros(len(accounts), dtype=np.int64)
    np.add.at(net, seller, pay)
    np.subtract.at(net, buyer, pay)
    who = np.flatnonzero(net)
    leaves = trade_leaves(batch_id, ids, sellers, buyers, energy, pay)
    ledger.plan(
        batch_id,
        "2016-01-01",
        "2016-01-01",
        merkle_root(leaves),
        int(energy.sum()),
        [accounts[i] for i in who],
        [int(x) for x in net[who]],
        {
            "trade_id": ids,
            "seller": sellers,
            "buyer": buyers,
            "energy_wh": energy,
            "payment_micro_eur": pay,
        },
    )


def test_a_transaction_the_node_lost_is_sent_again_not_waited_for(tmp_path: Path) -> None:
    # the journal says sent, but the node never kept the transaction (a node killed before it
    # mined or saved its pool): confirm must send the batch again, once, without a long wait
    chain = Chain.embedded()
    accounts = Chain.participant_addresses([f"p{i}" for i in range(5)], 7)
    chain.mint_credits(accounts, 10**9)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    _plan(ledger, 1, accounts)
    lost = "0x" + "ab" * 32
    ledger.mark_sent(1, lost, chain.next_nonce())
    settler = Settler(ledger, chain, confirmations=0, retry_s=5.0)
    started = time.monotonic()
    row = settler.confirm(1)
    assert time.monotonic() - started < 5.0
    assert row.state == "final"
    assert row.tx_hash != lost
    assert row.sends == 2
    assert chain.batch_root(1) == row.trades_root
    assert sum(chain.balance_of(a) for a in accounts) == 5 * 10**9


def test_a_receipt_read_just_before_the_node_restarts_is_not_waited_for_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # confirm reads the receipt; right then the node restarts from state saved before the
    # transaction (anvil's --state), which it no longer knows. The receipt in hand decides
    # "mined"; finalize finds the block gone and reconcile sends the batch again, once. Waiting
    # for the receipt a second time ran the two minutes of a receipt wait and failed the run.
    chain = Chain.embedded()
    chain.mined = Mined(chain.w3, keep=False)  # a node that may lose blocks, as anvil
    accounts = Chain.participant_addresses([f"p{i}" for i in range(5)], 7)
    chain.mint_credits(accounts, 10**9)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    _plan(ledger, 1, accounts)
    settler = Settler(ledger, chain, confirmations=0, retry_s=5.0)
    tester = chain._tester()
    saved = tester.take_snapshot()
    settler.submit(1)
    real = chain.get_receipt
    restarted: list[bool] = []

    def restarting(tx_hash: str) -> object:
        receipt = real(tx_hash)
        if receipt is not None and not restarted:
            tester.revert_to_snapshot(saved)  # the node restarts from its older state
            restarted.append(True)
        return receipt

    monkeypatch.setattr(chain, "get_receipt", restarting)
    started = time.monotonic()
    assert settler.confirm(1).state == "mined"
    assert time.monotonic() - started < 5.0
    assert chain.batch(1).committed_block == 0  # the node has lost it
    tester.mine_blocks(3)  # later transactions move the head past the lost block
    settler.finalize()
    assert ledger.batch(1).state == "planned"
    assert settler.reconcile() == [1]
    row = ledger.batch(1)
    assert row.state == "final"
    assert row.sends == 2
    assert chain.batch_root(1) == row.trades_root
    assert sum(chain.balance_of(a) for a in accounts) == 5 * 10**9


def test_a_mined_batch_whose_block_is_gone_is_planned_again(tmp_path: Path) -> None:
    # the journal says mined, but the node restarted from older state and lost the block:
    # finality is not granted; the batch goes back to planned and reconcile sends it once
    chain = Chain.embedded()
    accounts = Chain.participant_addresses([f"p{i}" for i in range(5)], 7)
    chain.mint_credits(accounts, 10**9)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    _plan(ledger, 1, accounts)
    ledger.mark_sent(1, "0x" + "cd" * 32, chain.next_nonce())
    ledger.mark_mined(1, "0x" + "cd" * 32, 1, 50_000)
    settler = Settler(ledger, chain, confirmations=0, retry_s=5.0)
    settler.finalize()
    assert ledger.batch(1).state == "planned"
    assert settler.reconcile() == [1]
    row = ledger.batch(1)
    assert row.state == "final"
    assert chain.batch_root(1) == row.trades_root
    # and a final batch the chain lost (a node restarted from older state) is found and resent
    _plan(ledger, 2, accounts)
    ledger.mark_sent(2, "0x" + "ef" * 32, chain.next_nonce())
    ledger.mark_mined(2, "0x" + "ef" * 32, 1, 50_000)
    ledger.mark_final(2)
    assert settler.recheck_final() == [2]
    assert settler.reconcile() == [2]
    assert ledger.batch(2).state == "final"
    assert chain.batch_root(2) == ledger.batch(2).trades_root
    assert settler.recheck_final() == []


_CHILD = """
import json, sys
from settlement.chain.connection import Chain
from settlement.chain.ledger import Ledger
from settlement.chain.settler import Settler
url, key, addresses, ledger_path, batch_id = sys.argv[1:6]
chain = Chain.connect(url, private_key=key, addresses=json.loads(addresses))
Settler(Ledger(ledger_path), chain).submit(int(batch_id))
"""


@pytest.mark.anvil
@needs_anvil
@pytest.mark.parametrize("fault", ["after_plan", "after_send"])
def test_killed_settler_restarts_to_exactly_once(tmp_path: Path, fault: str) -> None:
    with AnvilNode(_binary()) as node:
        chain = Chain.connect(node.url, private_key=ANVIL_DEV_KEY)
        accounts = Chain.participant_addresses([f"p{i}" for i in range(5)], 7)
        chain.mint_credits(accounts, 10**9)
        ledger_path = tmp_path / "ledger.sqlite"
        ledger = Ledger(ledger_path)
        _plan(ledger, 1, accounts)
        _plan(ledger, 2, accounts)
        args = [node.url, ANVIL_DEV_KEY, json.dumps(chain.addresses), str(ledger_path), "1"]
        env = dict(os.environ, GRIDTWIN_FAULT=f"{fault}:1", PYTHONPATH=str(ROOT))
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, timeout=120
        )
        assert child.returncode == FAULT_EXIT, child.stderr.decode()[-2000:]
        journaled = ledger.batch(1)
        if fault == "after_plan":
            assert journaled.state == "planned"
            assert chain.batch(1).committed_block == 0
        else:
            assert journaled.state == "sent"
            assert journaled.tx_hash is not None
        # restart: reconcile, then go on with the next batch
        settler = Settler(ledger, chain, confirmations=0)
        settler.reconcile()
        settler.submit(2)
        settler.confirm(2)
        for b in (1, 2):
            row = ledger.batch(b)
            assert row.state == "final"
            assert chain.batch_root(b) == row.trades_root
            logs = (
                chain.contract("Settlement")
                .events.BatchCommitted()
                .get_logs(from_block=0, argument_filters={"batchId": b})
            )
            assert len(logs) == 1  # exactly once on-chain
        assert ledger.batch(1).sends == 1  # the journaled transaction was reused, not resent
        # a second reconcile changes nothing and sends nothing
        assert settler.reconcile() == []
        total = sum(chain.balance_of(a) for a in accounts)
        assert total == 5 * 10**9


@pytest.mark.anvil
@pytest.mark.slow
@needs_anvil
def test_anvil_killed_and_restarted_mid_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = AnvilNode(_binary(), ["--state", str(state)]).start()
    restarted = threading.Event()

    def bounce() -> None:
        # wait until the run has settled a batch, then kill the node and bring it back
        ledger_glob = tmp_path.glob(".run.partial-*/ledger.sqlite")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = list(ledger_glob) or list(tmp_path.glob(".run.partial-*/ledger.sqlite"))
            if found and Ledger(found[0]).batches(("final",)):
                break
            time.sleep(0.2)
        port = node.port
        node.stop()
        time.sleep(1.0)
        node.start(port=port)
        restarted.set()

    killer = threading.Thread(target=bounce, daemon=True)
    try:
        killer.start()
        sc = scenario(
            "run.days=3",
            "chain.batch_hours=2",
            "forecasting.battery_control=self_consumption",
            f'chain.rpc_url="{node.url}"',
        )
        run_scenario(sc, tmp_path / "run")
        killer.join(timeout=60)
        assert restarted.is_set()
        run = open_run(tmp_path / "run")
        # the node was down while the run went on: the settler waited for it
        assert run.manifest["timings_s"]["chain"] >= 1.0
        batches = run.table("batches")
        assert len(batches) == 36
        assert (batches["state"] == "final").all()
        checks = verify_run(run.path)
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]
        chain = Chain.connect(node.url, addresses=run.manifest["chain"]["addresses"])
        logs = chain.contract("Settlement").events.BatchCommitted().get_logs(from_block=0)
        assert sorted(int(log["args"]["batchId"]) for log in logs) == list(range(36))
    finally:
        node.close()


@pytest.mark.anvil
@pytest.mark.slow
@needs_anvil
def test_anvil_restarted_without_state_is_detected_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    # the node comes back empty at the same URL: a commit to Settlement's address (no code
    # there now) would succeed and do nothing; the run must stop, name the contract, mark no
    # batch final after the restart, and keep its journal
    node = AnvilNode(_binary()).start()
    final_before: list[int] = []

    def bounce() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = list(tmp_path.glob(".run.partial-*/ledger.sqlite"))
            if found and Ledger(found[0]).batches(("final",)):
                break
            time.sleep(0.2)
        port = node.port
        node.stop()
        found = list(tmp_path.glob(".run.partial-*/ledger.sqlite"))
        final_before.extend(b.batch_id for b in Ledger(found[0]).batches(("final",)))
        node.start(port=port)  # no --state: a fresh chain

    killer = threading.Thread(target=bounce, daemon=True)
    try:
        killer.start()
        sc = scenario(
            "run.days=1",
            "chain.batch_hours=2",
            "forecasting.battery_control=self_consumption",
            f'chain.rpc_url="{node.url}"',
        )
        with pytest.raises(Exception, match="has no code") as raised:
            run_scenario(sc, tmp_path / "run")
        killer.join(timeout=60)
        assert "restarted without its state" in str(raised.value)
        assert final_before
        assert not (tmp_path / "run").exists()
        [kept] = tmp_path.glob(".run.partial-*")
        ledger = Ledger(kept / "ledger.sqlite")
        assert [b.batch_id for b in ledger.batches(("final",))] == final_before
        # the fresh chain holds nothing: nothing was sent to the lost contracts' addresses
        addresses = ledger.meta("chain")["addresses"]
        chain = Chain.connect(node.url)
        for address in addresses.values():
            assert chain.w3.eth.get_code(address) == b""
            assert chain.w3.eth.get_transaction_count(address) == 0
        assert chain.block_number() == 0 or all(
            tx["to"] not in addresses.values()
            for n in range(1, chain.block_number() + 1)
            for tx in chain.w3.eth.get_block(n, full_transactions=True)["transactions"]
        )
    finally:
        node.close()
