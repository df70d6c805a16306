"""A batch too big for one transaction settles in chunks, exactly once, to the same money.

``Settlement.openBatch`` + ``settleChunk`` against one ``commitBatch`` of the same batch (with
short payers, so the pro-rata cuts are exercised); the contract refuses chunks out of order,
twice, after the last, and a receiver before the payers; a settler killed between two chunks
(on anvil, a real node) restarts and sends exactly the remaining chunks; a run whose batches
are split (``chain.max_tx_gas``) and killed between chunks resumes to the bytes of an
unkilled run and passes ``gridtwin verify``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from settlement.chain.batches import accounts_per_tx, commit_gas, payers_first, split_batch
from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.chain.fault_points import FAULT_EXIT
from settlement.chain.ledger import Ledger
from settlement.chain.operator import ANVIL_DEV_KEY
from settlement.chain.participants import participant_private_key
from settlement.chain.settler import Settler
from settlement.units import MicroEur
from tests.anvil import MISSING, AnvilNode, anvil_binary
from tests.conftest import DEFAULT, ROOT
from tests.test_resume import assert_same_run
from tests.test_settlement import _plan
from twin.engine import run_scenario
from twin.partial import partial_of
from twin.results import open_run
from twin.resume import resumable
from twin.verify import verify_run

BINARY = anvil_binary()
needs_anvil = pytest.mark.skipif(BINARY is None and not os.environ.get("CI"), reason=MISSING)
#: Seven accounts a transaction: a 40-participant batch in several chunks.
SMALL_GAS = 600_000


def _community(chain: Chain, n: int = 40) -> list[str]:
    """``n`` members with credits; the last ten never consent (their debits fall short)."""
    owners = [f"p{i}" for i in range(n)]
    accounts = chain.participant_addresses(owners, 7)
    chain.mint_credits(accounts, MicroEur(10**6))
    chain.consent([participant_private_key(o, 7) for o in owners[: n - 10]], 10**9)
    return accounts


def test_split_is_pure_and_puts_payers_first() -> None:
    assert accounts_per_tx(SMALL_GAS) == 7
    assert commit_gas(7) <= SMALL_GAS < commit_gas(8)
    with pytest.raises(ValueError, match="fits no account"):
        accounts_per_tx(150_000)
    accounts = list("abcdef")
    amounts = [5, -3, 4, -6, 0, 0]
    assert split_batch(accounts, amounts, 6) == [(accounts, amounts)]  # fits: as given
    assert payers_first(accounts, amounts) == (list("bdacef"), [-3, -6, 5, 4, 0, 0])
    assert split_batch(accounts, amounts, 4) == [
        (list("bdac"), [-3, -6, 5, 4]),
        (list("ef"), [0, 0]),
    ]


def _settle(max_tx_gas: int, tmp: Path) -> tuple[list[list[int]], Ledger, Chain]:
    chain = Chain.embedded()
    accounts = _community(chain)
    ledger = Ledger(tmp / f"ledger-{max_tx_gas}.sqlite")
    _plan(ledger, 1, accounts)
    settler = Settler(ledger, chain, confirmations=0, max_tx_gas=max_tx_gas)
    settler.submit(1)
    settler.confirm(1)
    books = [[f(a) for a in accounts] for f in (chain.balance_of, chain.debt_of, chain.claim_of)]
    return books, ledger, chain


def test_chunks_move_the_same_money_as_one_transaction(tmp_path: Path) -> None:
    one, one_ledger, one_chain = _settle(30_000_000, tmp_path)
    split, ledger, chain = _settle(SMALL_GAS, tmp_path)
    assert one == split
    assert sum(split[1]) == sum(split[2]) > 0  # shortfalls: debts = claims, cut pro rata
    settlement = chain.contract("Settlement")
    assert settlement.functions.totalDebt().call() == sum(split[2])
    assert one_ledger.chunks(1) == []
    chunks = ledger.chunks(1)
    assert len(chunks) > 3
    batch = ledger.batch(1)
    assert batch.state == "final"
    assert batch.tx_hash == chunks[-1].tx_hash
    assert batch.block == chunks[-1].block
    assert batch.gas_used == sum(c.gas_used or 0 for c in chunks)
    assert chain.batch(1)[:3] == one_chain.batch(1)[:3]
    assert all(c.gas_used is not None and c.gas_used <= SMALL_GAS for c in chunks)
    # the contract holds nothing once the batch is settled
    assert chain.balance_of(settlement.address) == 0


def test_contract_refuses_chunks_out_of_order_twice_and_after_the_last() -> None:
    chain = Chain.embedded()
    accounts = _community(chain, 14)
    settlement = chain.contract("Settlement")
    payers, receivers = accounts[:2], accounts[2:4]
    head = [9, b"\x01" * 32, 1, 100, 4, 300]

    def send(function: str, *args: object) -> None:
        chain.wait_receipt(chain.send(settlement, function, list(args), gas=1_000_000))

    def refused(error: str, function: str, *args: object) -> None:
        with pytest.raises(TransactionRevertedError, match=error):
            send(function, *args)

    refused("BatchNotOpen", "settleChunk", 9, 0, payers, [-100, -200])
    send("openBatch", *head)
    refused("BatchAlreadyOpen", "openBatch", *head)
    refused("BatchAlreadyOpen", "commitBatch", 9, b"\x01" * 32, 1, 100, [], [])
    refused("ChunkOutOfOrder", "settleChunk", 9, 1, payers, [-100, -200])
    refused("PayersNotDone", "settleChunk", 9, 0, receivers, [100, 200])
    send("settleChunk", 9, 0, payers, [-100, -200])
    refused("ChunkOutOfOrder", "settleChunk", 9, 0, payers, [-100, -200])  # twice
    refused("UnbalancedSettlement", "settleChunk", 9, 1, receivers, [100, 201])
    refused("BadChunk", "settleChunk", 9, 1, [*receivers, accounts[5]], [100, 100, 100])
    assert chain.batch(9).committed_block == 0  # not settled before its last chunk
    assert chain.balance_of(settlement.address) == 300  # the payers' money, held
    send("settleChunk", 9, 1, receivers, [100, 200])
    assert chain.batch(9).committed_block != 0
    assert chain.balance_of(settlement.address) == 0
    refused("BatchNotOpen", "settleChunk", 9, 2, receivers, [100, 200])  # after the last
    refused("BatchAlreadyCommitted", "openBatch", *head)


_CHILD = """
import json, sys
from settlement.chain.connection import Chain
from settlement.chain.ledger import Ledger
from settlement.chain.settler import Settler
url, key, addresses, ledger_path = sys.argv[1:5]
chain = Chain.connect(url, private_key=key, addresses=json.loads(addresses))
Settler(Ledger(ledger_path), chain, max_tx_gas=600_000).submit(1)
"""


@pytest.mark.anvil
@needs_anvil
@pytest.mark.parametrize("chunk", [0, 2])
def test_settler_killed_between_chunks_sends_exactly_the_rest(tmp_path: Path, chunk: int) -> None:
    if BINARY is None:
        pytest.fail(MISSING)
    with AnvilNode(BINARY) as node:
        chain = Chain.connect(node.url, private_key=ANVIL_DEV_KEY)
        accounts = _community(chain)
        ledger_path = tmp_path / "ledger.sqlite"
        ledger = Ledger(ledger_path)
        _plan(ledger, 1, accounts)
        args = [node.url, ANVIL_DEV_KEY, json.dumps(chain.addresses), str(ledger_path)]
        env = dict(os.environ, GRIDTWIN_FAULT=f"after_chunk:1:{chunk}", PYTHONPATH=str(ROOT))
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, timeout=120
        )
        assert child.returncode == FAULT_EXIT, child.stderr.decode()[-2000:]
        states = [c.state for c in ledger.chunks(1)]
        assert states[: chunk + 1] == ["mined"] * chunk + ["sent"]
        assert set(states[chunk + 1 :]) == {"planned"}
        assert chain.batch(1).committed_block == 0
        settler = Settler(ledger, chain, confirmations=0, max_tx_gas=SMALL_GAS)
        settler.reconcile()
        settler.mine(1)
        settler.finalize()
        assert ledger.batch(1).state == "final"
        assert [c.sends for c in ledger.chunks(1)] == [1] * len(states)  # none sent twice
        events = chain.contract("Settlement").events
        where = {"from_block": 0, "argument_filters": {"batchId": 1}}
        assert len(events.BatchCommitted().get_logs(**where)) == 1
        settled = [int(e["args"]["chunk"]) for e in events.ChunkSettled().get_logs(**where)]
        assert settled == list(range(len(states) - 1))
        assert sum(chain.balance_of(a) for a in accounts) == 40 * 10**6
        assert settler.reconcile() == []


# The economy's contracts need more than SMALL_GAS to deploy (a clear error names
# chain.max_tx_gas): this run settles without them.
ARGS = [
    "--days",
    "1",
    "--set",
    "chain.batch_hours=4",
    "--set",
    f"chain.max_tx_gas={SMALL_GAS}",
    "--set",
    "economy.enabled=false",
]


@pytest.mark.slow
def test_a_run_killed_between_chunks_resumes_to_the_same_bytes(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "twin.cli", "run", str(DEFAULT), *ARGS, "--quiet"]
    whole = tmp_path / "whole"
    subprocess.run([*cli, "--out", str(whole)], check=True, capture_output=True, timeout=600)
    assert (open_run(whole).table("batches")["sends"] > 2).all()  # every batch split
    out = tmp_path / "results" / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRIDTWIN_FAULT="after_chunk:2:3")
    child = subprocess.run([*cli, "--out", str(out)], env=env, capture_output=True, timeout=600)
    assert child.returncode == FAULT_EXIT, child.stderr.decode()[-2000:]
    [kept] = partial_of(out)
    ledger = Ledger(kept / "ledger.sqlite")
    assert [c.state for c in ledger.chunks(2)][3] == "sent"
    ledger.close()
    found = resumable(out)
    run_scenario(found.scenario, found.out, None, found.scenario_file, resume=kept)
    assert_same_run(open_run(out), open_run(whole))
    assert all(c.ok for c in verify_run(out))


def test_a_budget_too_small_for_the_votes_names_the_key() -> None:
    """A ``chain.max_tx_gas`` below what CommunityVotes needs is refused naming the key and
    the way out, not with a bare gas figure."""
    from settlement.economy.votes import votes_chunks

    assert votes_chunks(40, 30_000_000) is None  # the constructor mints them all
    chunks = votes_chunks(1_000, 10_000_000)
    assert chunks is not None
    assert chunks[0][0] == 0
    assert chunks[-1][1] == 1_000
    assert all(hi - lo <= (10_000_000 - 150_000) // 80_000 for lo, hi in chunks)
    with pytest.raises(ValueError, match=r"chain\.max_tx_gas.*economy\.enabled"):
        votes_chunks(40, 600_000)
