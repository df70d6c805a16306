"""Settlement on a chain: the embedded eth-tester chain and a real anvil node, same tests.

Reverts leave every balance and record as it was; Python's Merkle proofs verify on-chain; gas
per settled trade is measured and printed.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from eth_account import Account

from settlement.chain import merkle
from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.chain.participants import participant_private_key
from tests.anvil import MISSING, AnvilNode, anvil_binary

START_CREDIT = 10**9  # micro-euro each participant starts with (1,000 EUR)
batch_ids = itertools.count(1)


@pytest.fixture(scope="module")
def anvil_node() -> Iterator[AnvilNode]:
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    with AnvilNode(binary) as node:
        yield node


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain(request: pytest.FixtureRequest) -> Chain:
    if request.param == "embedded":
        return Chain.embedded()
    node: AnvilNode = request.getfixturevalue("anvil_node")
    return Chain.connect(node.url)


@pytest.fixture(scope="module")
def participants(chain: Chain) -> list[str]:
    """100 participants, each minted START_CREDIT, each consenting (a permit signed with its own
    key) that settlement moves up to 10 x START_CREDIT: their balances bind, not consent."""
    owners = [f"owner-{i}" for i in range(100)]
    addresses = chain.participant_addresses(owners, seed=42)
    chain.mint_credits(addresses, START_CREDIT)
    chain.consent([participant_private_key(o, 42) for o in owners], 10 * START_CREDIT)
    return addresses


def _name(chain: Chain) -> str:
    return "eth-tester (embedded)" if chain.kind == "embedded" else f"anvil ({chain.rpc_url})"


class Batch:
    """A random batch of trades among some participants, with its leaves and net payments."""

    def __init__(self, participants: list[str], trades: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.batch_id = next(batch_ids)
        n = len(participants)
        seller_idx = rng.integers(0, n, trades)
        buyer_idx = (seller_idx + rng.integers(1, n, trades)) % n if n > 1 else seller_idx
        self.trade_ids = list(range(trades))
        self.sellers = [participants[i] for i in seller_idx]
        self.buyers = [participants[i] for i in buyer_idx]
        self.energy_wh = [int(x) for x in rng.integers(1, 5_000, trades)]
        self.payment = [int(x) for x in rng.integers(1, 2_000_000, trades)]
        self.leaves = merkle.trade_leaves(
            self.batch_id, self.trade_ids, self.sellers, self.buyers, self.energy_wh, self.payment
        )
        self.root = merkle.merkle_root(self.leaves)
        net = dict.fromkeys(participants, 0)
        for seller, buyer, amount in zip(self.sellers, self.buyers, self.payment, strict=True):
            net[seller] += amount
            net[buyer] -= amount
        self.accounts = [a for a, v in net.items() if v != 0]
        self.net_amounts = [net[a] for a in self.accounts]

    def send(self, chain: Chain, **kwargs: object) -> str:
        args: dict[str, object] = {
            "batch_id": self.batch_id,
            "trades_root": self.root,
            "trade_count": len(self.leaves),
            "energy_wh": sum(self.energy_wh),
            "accounts": self.accounts,
            "net_amounts": self.net_amounts,
        }
        args.update(kwargs)
        return chain.send_commit_batch(**args)  # type: ignore[arg-type]


def test_deploys_once_with_roles(chain: Chain) -> None:
    addresses = chain.addresses
    assert set(addresses) == {"EnergyCredit", "Settlement"}
    assert chain.deploy() == addresses
    assert chain.chain_id == (31337 if chain.kind == "rpc" else chain.w3.eth.chain_id)
    assert chain.manifest()["addresses"] == addresses
    credit, settlement = chain.contract("EnergyCredit"), chain.contract("Settlement")
    assert credit.functions.decimals().call() == 6
    assert settlement.functions.credit().call() == addresses["EnergyCredit"]
    assert credit.functions.cap().call() == chain.credit_cap
    # Settlement holds no role in the token: it moves credits only within allowances
    assert not chain.has_role("EnergyCredit", "MINTER_ROLE", addresses["Settlement"])
    assert not chain.has_role("EnergyCredit", "DEFAULT_ADMIN_ROLE", addresses["Settlement"])
    settler_role = settlement.functions.SETTLER_ROLE().call()
    assert settlement.functions.hasRole(settler_role, chain.operator).call()
    assert not settlement.functions.hasRole(settler_role, chain.w3.eth.accounts[1]).call()


def test_participant_addresses_are_deterministic_and_distinct() -> None:
    owners = [f"owner-{i}" for i in range(50)]
    first = Chain.participant_addresses(owners, seed=1)
    assert first == Chain.participant_addresses(owners, seed=1)
    assert len(set(first)) == 50
    assert set(first).isdisjoint(Chain.participant_addresses(owners, seed=2))
    key = participant_private_key("owner-3", 1)
    assert Account.from_key(key).address == first[3]


def test_commit_moves_net_payments_and_python_proofs_verify_on_chain(
    chain: Chain, participants: list[str]
) -> None:
    batch = Batch(participants[:12], trades=64, seed=1)
    before = {a: chain.balance_of(a) for a in participants[:12]}
    supply = chain.total_supply()
    receipt = chain.wait_receipt(batch.send(chain))
    assert receipt["status"] == 1
    assert sum(batch.net_amounts) == 0
    for account, amount in zip(batch.accounts, batch.net_amounts, strict=True):
        assert chain.balance_of(account) == before[account] + amount
    assert chain.total_supply() == supply
    assert chain.batch_root(batch.batch_id) == batch.root
    record = chain.batch(batch.batch_id)
    assert record.trade_count == 64
    assert record.energy_wh == sum(batch.energy_wh)
    assert record.committed_block == receipt["blockNumber"]
    tree = merkle.merkle_tree(batch.leaves)
    for i, leaf in enumerate(batch.leaves):
        args = (batch.sellers[i], batch.buyers[i], batch.energy_wh[i], batch.payment[i])
        assert chain.trade_leaf(batch.batch_id, i, *args) == leaf
        assert chain.verify_trade(batch.batch_id, leaf, merkle.tree_proof(tree, i))
    proof = merkle.tree_proof(tree, 5)
    assert not chain.verify_trade(batch.batch_id, batch.leaves[6], proof)
    assert not chain.verify_trade(batch.batch_id + 10**6, batch.leaves[5], proof)
    tampered = merkle.trade_leaves(
        batch.batch_id,
        [5],
        [batch.sellers[5]],
        [batch.buyers[5]],
        [batch.energy_wh[5] + 1],
        [batch.payment[5]],
    )[0]
    assert not chain.verify_trade(batch.batch_id, tampered, proof)


def test_one_trade_batch_and_root_only_batch(chain: Chain, participants: list[str]) -> None:
    single = Batch(participants[:2], trades=1, seed=2)
    assert single.root == single.leaves[0]
    chain.wait_receipt(single.send(chain))
    assert chain.verify_trade(single.batch_id, single.leaves[0], [])
    root_only = Batch(participants[:5], trades=30, seed=3)
    before = [chain.balance_of(a) for a in participants[:5]]
    chain.wait_receipt(root_only.send(chain, accounts=[], net_amounts=[]))
    assert chain.batch_root(root_only.batch_id) == root_only.root
    assert [chain.balance_of(a) for a in participants[:5]] == before


def test_explicit_nonce_and_unchecked_receipt(chain: Chain, participants: list[str]) -> None:
    nonce = chain.next_nonce()
    batch = Batch(participants[:4], trades=8, seed=4)
    tx_hash = batch.send(chain, nonce=nonce)
    receipt = chain.wait_receipt(tx_hash)
    assert receipt["status"] == 1
    assert chain.next_nonce() == nonce + 1
    assert chain.get_receipt(tx_hash) == receipt  # a journal reconciles by hash
    assert chain.get_receipt("0x" + "ab" * 32) is None
    assert chain.block_number() >= receipt["blockNumber"] == chain.batch(batch.batch_id)[3]
    again = chain.wait_receipt(batch.send(chain), check=False)
    assert again["status"] == 0


def _not_settler(chain: Chain, batch: Batch) -> str:
    return batch.send(chain, sender=chain.w3.eth.accounts[1])


def _paused(chain: Chain, batch: Batch) -> str:
    chain.pause()
    assert chain.paused()
    return batch.send(chain)


def _double(chain: Chain, batch: Batch) -> str:
    return batch.send(chain)  # batch was committed once already by the test


def _unbalanced(chain: Chain, batch: Batch) -> str:
    return batch.send(chain, net_amounts=[*batch.net_amounts[:-1], batch.net_amounts[-1] + 1])


def _length_mismatch(chain: Chain, batch: Batch) -> str:
    return batch.send(chain, net_amounts=batch.net_amounts[:-1])


def _empty_root(chain: Chain, batch: Batch) -> str:
    return batch.send(chain, trades_root=merkle.EMPTY_ROOT)


def _zero_address(chain: Chain, batch: Batch) -> str:
    zero = "0x" + "00" * 20  # a payer at the zero address would mint credits out of nothing
    return batch.send(chain, accounts=[zero, batch.accounts[0]], net_amounts=[-5, 5])


REVERTS: dict[str, tuple[Callable[[Chain, Batch], str], str]] = {
    "not_settler": (_not_settler, "AccessControlUnauthorizedAccount"),
    "paused": (_paused, "EnforcedPause"),
    "double_commit": (_double, "BatchAlreadyCommitted"),
    "unbalanced": (_unbalanced, "UnbalancedSettlement"),
    "length_mismatch": (_length_mismatch, "LengthMismatch"),
    "empty_root": (_empty_root, "InconsistentBatch"),
    "zero_address": (_zero_address, "InvalidAccount"),
}


@pytest.mark.parametrize("case", list(REVERTS))
def test_bad_commit_reverts_and_changes_nothing(
    chain: Chain, participants: list[str], case: str
) -> None:
    send, error = REVERTS[case]
    batch = Batch(participants[:10], trades=40, seed=10)
    if case == "double_commit":
        chain.wait_receipt(batch.send(chain))
    before = [chain.balance_of(a) for a in participants[:10]]
    supply = chain.total_supply()
    record = chain.batch(batch.batch_id)
    try:
        with pytest.raises(TransactionRevertedError, match=error) as raised:
            chain.wait_receipt(send(chain, batch))
    finally:
        if chain.paused():
            chain.unpause()
    assert raised.value.receipt["status"] == 0
    assert [chain.balance_of(a) for a in participants[:10]] == before
    assert chain.total_supply() == supply
    assert chain.batch(batch.batch_id) == record


def test_non_pauser_cannot_pause(chain: Chain) -> None:
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        chain.pause(sender=chain.w3.eth.accounts[2])
    assert not chain.paused()


def test_gas_per_settled_trade(
    chain: Chain, participants: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A day of 100 participants (4,800 trades) in one batch stays <= 1,000 gas per trade."""
    rows = []
    gas_per_trade = {}
    for trades, accounts in [(4800, 100), (1000, 20), (200, 100), (200, 0)]:
        batch = Batch(participants[: max(accounts, 2)], trades=trades, seed=trades + accounts)
        if accounts == 0:
            batch.accounts, batch.net_amounts = [], []
        receipt = chain.wait_receipt(batch.send(chain))
        gas_per_trade[(trades, accounts)] = receipt["gasUsed"] / trades
        rows.append(
            f"  {trades:>5} trades {len(batch.accounts):>3} accounts: {receipt['gasUsed']:>9,} gas"
            f" = {receipt['gasUsed'] / trades:>7,.0f} gas/trade"
        )
    with capsys.disabled():
        print(f"\ncommitBatch gas on {_name(chain)}:\n" + "\n".join(rows))
    assert gas_per_trade[(4800, 100)] <= 1000
    assert gas_per_trade[(1000, 20)] <= 1000


def test_throughput(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """Root-only commits per second, sent and each receipt fetched right after."""
    n = 40
    started = time.perf_counter()
    for _ in range(n):
        batch_id = next(batch_ids)
        chain.wait_receipt(chain.send_commit_batch(batch_id, os.urandom(32), 10, 1, [], []))
    rate = n / (time.perf_counter() - started)
    with capsys.disabled():
        print(f"\n{_name(chain)}: {rate:,.0f} root-only commitBatch tx/s")
    assert rate > 5


@pytest.mark.anvil
def test_private_key_operator_and_attaching(anvil_node: AnvilNode) -> None:
    """An operator that signs locally deploys its own contracts; a second client attaches."""
    participants = Chain.participant_addresses(["a", "b", "c"], seed=3)
    funder = Chain.connect(anvil_node.url)
    key = participant_private_key("operator", 7)
    operator = Account.from_key(key).address
    funder.w3.eth.send_transaction(
        {"from": funder.operator, "to": operator, "value": 10**20, "gas": 21_000}
    )
    own = Chain.connect(anvil_node.url, private_key=key)
    assert own.operator == operator
    addresses = own.deploy()
    assert addresses != funder.addresses
    own.mint_credits(participants[:3], START_CREDIT)
    own.consent([participant_private_key(o, 3) for o in ["a", "b", "c"]], START_CREDIT)
    batch = Batch(participants[:3], trades=9, seed=9)
    assert own.wait_receipt(batch.send(own))["status"] == 1
    reader = Chain.connect(anvil_node.url, addresses=addresses)
    assert reader.batch_root(batch.batch_id) == batch.root
    for account, amount in zip(batch.accounts, batch.net_amounts, strict=True):
        assert reader.balance_of(account) == START_CREDIT + amount
