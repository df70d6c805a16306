"""Receipts, blocks and events read once on the embedded chain (settlement/chain/mined.py).

What the kept reads give must be what the chain gives: a payer short of credits makes
``CreditReduced`` events, read from the kept receipts and by ``eth_getLogs``; a receipt read
twice is read from eth-tester once; a chain that may lose blocks (``keep=False``) is asked
every time.
"""

from __future__ import annotations

from unittest.mock import patch

import pytest

from settlement.chain.connection import Chain
from settlement.chain.mined import Mined
from settlement.chain.participants import participant_private_key
from settlement.chain.transactions import scan_transactions


@pytest.fixture(scope="module")
def shortfall() -> tuple[Chain, list[str], int]:
    """A batch whose payer holds less than it owes: its receivers' credits are cut."""
    chain = Chain.embedded()
    owners = [f"owner-{i}" for i in range(3)]
    addresses = chain.participant_addresses(owners, seed=7)
    first = chain.block_number() + 1
    chain.mint_credits(addresses, 1_000)
    chain.consent([participant_private_key(o, 7) for o in owners], 10**9)
    accounts, amounts = addresses, [-3_000, 1_000, 2_000]  # the payer has 1,000 of 3,000
    tx = chain.send_commit_batch(1, b"\x01" * 32, 2, 10, accounts, amounts)
    assert chain.wait_receipt(tx)["status"] == 1
    return chain, addresses, first


def test_events_are_those_of_get_logs(shortfall: tuple[Chain, list[str], int]) -> None:
    chain, addresses, first = shortfall
    event = chain.contract("Settlement").events.CreditReduced()
    for account in addresses:
        where = {"account": account}
        kept = chain.mined.events(event, first, where)
        logs = list(event.get_logs(from_block=first, argument_filters=where))
        assert kept == logs
        assert Mined(chain.w3, keep=False).events(event, first, where) == logs
    cuts = [chain.credit_cuts(a, first) for a in addresses]
    assert cuts[0] == {}  # the payer is not cut
    assert sum(c.get(1, 0) for c in cuts) == 2_000  # 3,000 due, 1,000 paid


def test_receipts_are_read_once_when_kept(shortfall: tuple[Chain, list[str], int]) -> None:
    chain, _addresses, first = shortfall
    scanned = scan_transactions(chain, first, [chain.operator], [])
    eth = type(chain.w3.eth)
    with patch.object(eth, "get_transaction_receipt", side_effect=AssertionError("read")):
        again = scan_transactions(chain, first, [chain.operator], [])  # every one kept
        assert all(chain.get_receipt(h) is not None for h in again.tx_hash)
    assert again == scanned
    fresh = Mined(chain.w3, keep=False)
    real = eth.get_transaction_receipt
    with patch.object(eth, "get_transaction_receipt", autospec=True, side_effect=real) as read:
        assert fresh.receipt(scanned.tx_hash[-1]) == fresh.receipt(scanned.tx_hash[-1])
        assert read.call_count == 2
